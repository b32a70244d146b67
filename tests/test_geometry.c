/* test_geometry.c: decomposition and global<->local index maps (geometry.h),
 * run on 1, 2, 3 and 4 ranks.  Checks: block splits (uneven included) tile
 * each axis; the default process grid fits the lattice; on 1D, 2D and 3D
 * lattices with periodic and open axes every global site is owned by
 * exactly one rank; the global index of every halo position is the
 * neighbour's (wrapped) or -1 outside an open boundary. */
#include "ising/geometry.h"

#include <petscsys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, rank;

static void check(int ok, const char *what)
{
  int all;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  if (rank == 0) printf("%-70s %s\n", what, all ? "ok" : "FAILED");
  failures += !all;
}

static ising_params lattice(int dim, int64_t lx, int64_t ly, int64_t lz, int px, int py, int pz)
{
  ising_params p;
  memset(&p, 0, sizeof(p));
  p.dim = dim;
  int64_t L[3] = {lx, ly, lz};
  int per[3] = {px, py, pz};
  p.nsites = 1;
  for (int d = 0; d < 3; d++) {
    p.L[d] = d < dim ? L[d] : 1;
    p.periodic[d] = d < dim ? per[d] : 0;
    p.nsites *= p.L[d];
  }
  return p;
}

/* Expected global index of extended position e, or -1. */
static int64_t expected(const ising_geometry *g, const int *e)
{
  int64_t idx = 0, mult = 1;
  for (int d = 0; d < 3; d++) {
    int64_t x = d < g->dim ? g->offset[d] + e[d] - 1 : 0;
    if (x < 0 || x >= g->L[d]) {
      if (!g->periodic[d]) return -1;
      x = (x % g->L[d] + g->L[d]) % g->L[d];
    }
    idx += x * mult;
    mult *= g->L[d];
  }
  return idx;
}

static void check_lattice(const char *name, ising_params p)
{
  ising_geometry g;
  char what[160];
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int layout[3];
  if (ising_geometry_best_grid(p.dim, p.L, size, layout)) {
    if (rank == 0) printf("%-70s skipped (no layout of %d ranks)\n", name, size);
    return;
  }
  if (ising_geometry_create(MPI_COMM_WORLD, &p, &g)) {
    snprintf(what, sizeof(what), "%s: geometry created", name);
    check(0, what);
    return;
  }
  int *owned = calloc((size_t)p.nsites, sizeof(int)), *total = calloc((size_t)p.nsites, sizeof(int));
  int ok = 1;
  for (int ez = 0; ez < g.ext[2]; ez++)
    for (int ey = 0; ey < g.ext[1]; ey++)
      for (int ex = 0; ex < g.ext[0]; ex++) {
        int e[3] = {ex, ey, ez};
        int interior = 1;
        for (int d = 0; d < g.dim; d++) interior &= e[d] >= 1 && e[d] <= g.n[d];
        int64_t gi = ising_geometry_global_index(&g, ex, ey, ez);
        ok &= gi == expected(&g, e);
        if (interior) owned[gi]++;
      }
  snprintf(what, sizeof(what), "%s: global index of every local and halo position", name);
  check(ok, what);
  MPI_Allreduce(owned, total, (int)p.nsites, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  ok = 1;
  for (int64_t s = 0; s < p.nsites; s++) ok &= total[s] == 1;
  snprintf(what, sizeof(what), "%s: every site owned by exactly one of %d ranks", name, size);
  check(ok, what);
  int64_t grid = (int64_t)g.grid[0] * g.grid[1] * g.grid[2];
  snprintf(what, sizeof(what), "%s: grid %dx%dx%d fits", name, g.grid[0], g.grid[1], g.grid[2]);
  check(grid == size && g.grid[0] <= p.L[0] && g.grid[1] <= p.L[1] && g.grid[2] <= p.L[2], what);
  free(owned);
  free(total);
  ising_geometry_free(&g);
}

int main(int argc, char **argv)
{
  PetscInitialize(&argc, &argv, NULL, NULL);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);

  int ok = 1;
  for (int64_t L = 2; L < 70; L++)
    for (int parts = 1; parts <= L && parts <= 9; parts++) {
      int64_t next = 0, mn = L, mx = 0;
      for (int c = 0; c < parts; c++) {
        int64_t start, len;
        ising_geometry_split(L, parts, c, &start, &len);
        ok &= start == next && len >= 1;
        next = start + len;
        mn = len < mn ? len : mn;
        mx = len > mx ? len : mx;
      }
      ok &= next == L && mx - mn <= 1;
    }
  check(ok, "splits tile every axis, blocks differ by at most one site");
  int64_t start, len;
  ising_geometry_split(64, 3, 0, &start, &len);
  ok = start == 0 && len == 22;
  ising_geometry_split(64, 3, 2, &start, &len);
  check(ok && start == 43 && len == 21, "64 sites over 3 ranks: 22, 21, 21 (PETSc DMDA ownership)");

  int grid[3];
  int64_t sq[3] = {64, 64, 1}, thin[3] = {4, 64, 1}, tiny[3] = {2, 2, 1};
  /* 1x4 strips and 2x2 blocks send the same halo volume; the tie goes to
   * splitting the slow axis (contiguous faces, fewer messages). */
  check(ising_geometry_best_grid(2, sq, 4, grid) == 0 && grid[0] == 1 && grid[1] == 4, "64x64 on 4 ranks: 1x4");
  int64_t wide[3] = {256, 16, 1}, cube[3] = {32, 32, 32};
  check(ising_geometry_best_grid(2, wide, 4, grid) == 0 && grid[0] == 4 && grid[1] == 1,
        "256x16 on 4 ranks: 4x1 (cut the long axis)");
  check(ising_geometry_best_grid(3, cube, 8, grid) == 0 && grid[0] == 1 && grid[1] == 2 && grid[2] == 4,
        "32^3 on 8 ranks: 1x2x4 (same halo volume as 2x2x2, fewer messages)");
  check(ising_geometry_best_grid(2, thin, 8, grid) == 0 && grid[0] <= 4 && grid[0] * grid[1] == 8,
        "4x64 on 8 ranks: fits");
  check(ising_geometry_best_grid(2, tiny, 8, grid) == -1, "2x2 on 8 ranks: no grid");
  int64_t big[3] = {4096, 4096, 1}, cube256[3] = {256, 256, 256}, strip[3] = {4096, 16, 1};
  check(ising_geometry_best_grid(2, big, 16, grid) == 0 && grid[0] == 1 && grid[1] == 16,
        "4096^2 on 16 ranks: 1x16 (whole rows for the fused sweep; twice the halo of 4x4)");
  check(ising_geometry_best_grid(3, cube256, 16, grid) == 0 && grid[0] == 1 && grid[1] * grid[2] == 16,
        "256^3 on 16 ranks: whole rows");
  check(ising_geometry_best_grid(2, strip, 16, grid) == 0 && grid[0] == 16 && grid[1] == 1,
        "4096x16 on 16 ranks: 16x1 (whole rows would send 256 times the halo)");
  check(ising_geometry_best_grid(1, big, 4, grid) == 0 && grid[0] == 4, "1D 4096 on 4 ranks: 4");

  check_lattice("1D 64 periodic", lattice(1, 64, 0, 0, 1, 0, 0));
  check_lattice("1D 9 open", lattice(1, 9, 0, 0, 0, 0, 0));
  check_lattice("2D 10x6 periodic", lattice(2, 10, 6, 0, 1, 1, 0));
  check_lattice("2D 7x5 open", lattice(2, 7, 5, 0, 0, 0, 0));
  check_lattice("3D 6x5x4 periodic/open/periodic", lattice(3, 6, 5, 4, 1, 0, 1));
  check_lattice("3D 2x2x2 periodic", lattice(3, 2, 2, 2, 1, 1, 1));

  if (rank == 0) printf("%d failure(s)\n", failures);
  PetscFinalize();
  return failures != 0;
}
