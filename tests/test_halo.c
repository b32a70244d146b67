/* test_halo.c: halo exchange (halo.h) on 1, 2, 3 and 4 ranks, 1D, 2D and
 * 3D, periodic and open.  Every interior position holds a function of its
 * global site number; after the exchange every face halo position must hold
 * the value of the (wrapped) neighbour site, and halo positions outside an
 * open boundary must still hold 0.  Checked for int8 (spins) and double
 * fields. */
#include "ising/geometry.h"
#include "ising/halo.h"

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

static int8_t spin_of(int64_t site)
{
  return (int8_t)(1 + site % 100);
}

static double value_of(int64_t site)
{
  return 0.5 + (double)site;
}

static void check_lattice(const char *name, int dim, const int64_t *L, const int *periodic)
{
  ising_params p;
  memset(&p, 0, sizeof(p));
  p.dim = dim;
  p.nsites = 1;
  for (int d = 0; d < 3; d++) {
    p.L[d] = d < dim ? L[d] : 1;
    p.periodic[d] = d < dim ? periodic[d] : 0;
    p.nsites *= p.L[d];
  }
  ising_geometry g;
  if (ising_geometry_create(MPI_COMM_WORLD, &p, &g)) {
    check(0, name);
    return;
  }
  int8_t *s = calloc(g.nextended, 1);
  double *v = calloc(g.nextended, sizeof(double));
  for (int ez = 0; ez < g.ext[2]; ez++)
    for (int ey = 0; ey < g.ext[1]; ey++)
      for (int ex = 0; ex < g.ext[0]; ex++) {
        int e[3] = {ex, ey, ez}, interior = 1;
        for (int d = 0; d < dim; d++) interior &= e[d] >= 1 && e[d] <= g.n[d];
        if (!interior) continue;
        int64_t gi = ising_geometry_global_index(&g, ex, ey, ez);
        s[ising_geometry_index(&g, ex, ey, ez)] = spin_of(gi);
        v[ising_geometry_index(&g, ex, ey, ez)] = value_of(gi);
      }
  ising_halo hs, hv;
  ising_halo_create(&g, MPI_INT8_T, &hs);
  ising_halo_create(&g, MPI_DOUBLE, &hv);
  ising_halo_exchange(&hs, s);
  ising_halo_exchange(&hv, v);
  int ok = 1, nface = 0;
  for (int ez = 0; ez < g.ext[2]; ez++)
    for (int ey = 0; ey < g.ext[1]; ey++)
      for (int ex = 0; ex < g.ext[0]; ex++) {
        int e[3] = {ex, ey, ez}, outside = 0;
        for (int d = 0; d < dim; d++) outside += e[d] < 1 || e[d] > g.n[d];
        if (outside != 1) continue; /* face halos only: corners are never read */
        nface++;
        int64_t gi = ising_geometry_global_index(&g, ex, ey, ez);
        size_t i = ising_geometry_index(&g, ex, ey, ez);
        if (gi < 0)
          ok &= s[i] == 0 && v[i] == 0.0;
        else
          ok &= s[i] == spin_of(gi) && v[i] == value_of(gi);
      }
  char what[160];
  snprintf(what, sizeof(what), "%s: %d face-halo values (int8 and double), grid %dx%dx%d", name, nface, g.grid[0],
           g.grid[1], g.grid[2]);
  check(ok && nface > 0, what);
  ising_halo_free(&hs);
  ising_halo_free(&hv);
  free(s);
  free(v);
  ising_geometry_free(&g);
}

int main(int argc, char **argv)
{
  PetscInitialize(&argc, &argv, NULL, NULL);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const int64_t l1[1] = {12}, l2[2] = {8, 6}, l3[3] = {4, 6, 4}, l2odd[2] = {7, 5};
  const int per[3] = {1, 1, 1}, open[3] = {0, 0, 0}, mixed[3] = {1, 0, 1};
  check_lattice("1D periodic", 1, l1, per);
  check_lattice("1D open", 1, l1, open);
  check_lattice("2D periodic", 2, l2, per);
  check_lattice("2D open (odd sizes)", 2, l2odd, open);
  check_lattice("2D periodic x, open y", 2, l2, mixed);
  check_lattice("3D periodic", 3, l3, per);
  check_lattice("3D open", 3, l3, open);
  check_lattice("3D periodic/open/periodic", 3, l3, mixed);
  if (rank == 0) printf("%d failure(s)\n", failures);
  PetscFinalize();
  return failures != 0;
}
