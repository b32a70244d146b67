/* test_geometry.c: decomposition and global<->local index maps (geometry.h),
 * run on 1, 2, 3 and 4 ranks.  Checks: block splits (uneven included) tile
 * each axis; the default process grid fits the lattice; on 1D, 2D and 3D
 * lattices with periodic and open axes every global site is owned by
 * exactly one rank; the global index of every halo position is the
 * neighbour's (wrapped) or -1 outside an open boundary; the same with
 * blocks sized by -balance speeds.  Balanced cuts: equal speeds give the
 * even split, a one-axis grid gets blocks in proportion to the speeds,
 * separable speeds on a 2D grid are solved exactly, and on random speeds
 * the slowest rank is never slower than with even blocks.  A block's spins
 * as bits (ising_geometry_pack_bits): every bit against its site, the bits
 * past the last site 0, and ising_geometry_bits_dot against the sum of
 * s^a s^b, on rows of 1-20 and 67 sites, halos filled with other values;
 * ising_geometry_pack_bits_simd gives the same words on every instruction
 * set this CPU runs. */
#include "ising/geometry.h"

#include <math.h>
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

/* Cuts of a balance, one axis after the other, tile every axis with blocks
 * of >= 1 site; returns the slowest rank's sites / speed (or -1 if not). */
static double balanced(int dim, const int64_t *L, const int *grid, const double *speed, int64_t *cut)
{
  if (ising_geometry_balance(dim, L, grid, speed, cut)) return -1;
  const int64_t *c[3] = {cut, cut + grid[0] + 1, cut + grid[0] + grid[1] + 2};
  for (int d = 0; d < dim; d++) {
    if (c[d][0] != 0 || c[d][grid[d]] != L[d]) return -1;
    for (int k = 0; k < grid[d]; k++)
      if (c[d][k + 1] - c[d][k] < 1) return -1;
  }
  double worst = 0.0;
  for (int r = 0; r < grid[0] * grid[1] * grid[2]; r++) {
    int cc[3] = {r % grid[0], r / grid[0] % grid[1], r / grid[0] / grid[1]};
    double v = 1.0;
    for (int d = 0; d < dim; d++) v *= (double)(c[d][cc[d] + 1] - c[d][cc[d]]);
    worst = fmax(worst, v / speed[r]);
  }
  return worst;
}

static void check_balance(void)
{
  int64_t cut[64];
  double ones[64];
  for (int k = 0; k < 64; k++) ones[k] = 0.7;
  int ok = 1;
  for (int64_t L = 2; L < 70; L++)
    for (int parts = 1; parts <= L && parts <= 9; parts++) {
      int64_t Ls[3] = {L, 1, 1};
      int grid[3] = {parts, 1, 1};
      ok &= balanced(1, Ls, grid, ones, cut) > 0;
      for (int c = 0; c < parts; c++) {
        int64_t start, len;
        ising_geometry_split(L, parts, c, &start, &len);
        ok &= cut[c] == start && cut[c + 1] == start + len;
      }
    }
  int64_t L3[3] = {13, 7, 10};
  int g3[3] = {2, 3, 2};
  ok &= balanced(3, L3, g3, ones, cut) > 0;
  for (int d = 0, k = 0; d < 3; k += g3[d] + 1, d++)
    for (int c = 0; c < g3[d]; c++) {
      int64_t start, len;
      ising_geometry_split(L3[d], g3[d], c, &start, &len);
      ok &= cut[k + c] == start && cut[k + c + 1] == start + len;
    }
  check(ok, "balance: equal speeds give the even split (1D grids, a 2x3x2 grid)");

  int64_t L1[3] = {400, 1, 1}, Lt[3] = {30, 1, 1};
  int g1[3] = {3, 1, 1}, g4[3] = {4, 1, 1};
  double s1[3] = {2, 1, 1}, s4[4] = {1, 1, 1, 1000};
  ok = balanced(1, L1, g1, s1, cut) == 100.0 && cut[1] == 200 && cut[2] == 300;
  check(ok, "balance: speeds 2:1:1 on 400 sites give 200, 100, 100");
  ok = balanced(1, Lt, g4, s4, cut) > 0 && cut[1] == 1 && cut[2] == 2 && cut[3] == 3;
  check(ok, "balance: speeds 1:1:1:1000 on 30 sites give 1, 1, 1, 27 (one site at least)");

  /* speed = a[cx] b[cy]: the blocks x 10:30 and y 20:40:20 make every rank's time equal */
  int64_t L2[3] = {40, 80, 1};
  int g2[3] = {2, 3, 1};
  double a[2] = {1, 3}, b[3] = {1, 2, 1}, s2[6];
  for (int r = 0; r < 6; r++) s2[r] = a[r % 2] * b[r / 2];
  ok = fabs(balanced(2, L2, g2, s2, cut) - 200.0) < 1e-9 && cut[1] == 10 && cut[4] == 20 && cut[5] == 60;
  check(ok, "balance: separable speeds on a 2x3 grid solved exactly");

  /* random speeds in [0.3, 1] on 2D and 3D grids: never slower than even blocks */
  unsigned x = 12345;
  ok = 1;
  for (int t = 0; t < 200; t++) {
    int64_t L[3] = {8 + t % 37, 5 + t % 23, 3 + t % 11};
    int grid[3] = {1 + t % 3, 1 + t % 4, 1 + t % 2};
    int dim = 2 + t % 2, P;
    if (dim == 2) grid[2] = 1, L[2] = 1;
    P = grid[0] * grid[1] * grid[2];
    double sp[24];
    for (int r = 0; r < P; r++) {
      x = x * 1103515245u + 12345u;
      sp[r] = 0.3 + 0.7 * (double)(x >> 8) / (double)(1u << 24);
    }
    double tb = balanced(dim, L, grid, sp, cut), te = 0.0;
    for (int r = 0; r < P; r++) {
      int cc[3] = {r % grid[0], r / grid[0] % grid[1], r / grid[0] / grid[1]};
      double v = 1.0;
      for (int d = 0; d < dim; d++) {
        int64_t start, len;
        ising_geometry_split(L[d], grid[d], cc[d], &start, &len);
        v *= (double)len;
      }
      te = fmax(te, v / sp[r]);
    }
    ok &= tb > 0 && tb <= te;
  }
  check(ok, "balance: random speeds on 200 2D/3D grids: tiles, never slower than even");

  /* Against the best cuts, found by trying every one on 2x2 and 2x2x2
   * grids.  The sizing is a search, not an exact optimum (the problem is not
   * convex: which rank has time to spare decides the basin); the bound is
   * what it reached when written, worst 1.05 (2x2) and 1.04 (2x2x2).
   * Without the paired moves or the random starts it reached 1.2-1.55. */
  for (int dim = 2; dim <= 3; dim++) {
    double worst = 1.0;
    for (int t = 0; t < 100; t++) {
      int64_t L[3] = {dim == 2 ? 40 + t % 13 : 10 + t % 5, dim == 2 ? 41 + t % 17 : 11 + t % 4,
                      dim == 2 ? 1 : 9 + t % 3};
      int grid[3] = {2, 2, dim == 2 ? 1 : 2}, P = 4 * grid[2];
      double sp[8];
      for (int r = 0; r < P; r++) {
        x = x * 1103515245u + 12345u;
        sp[r] = 0.2 + 0.8 * (double)(x >> 8) / (double)(1u << 24);
      }
      double opt = INFINITY;
      for (int64_t a = 1; a < L[0]; a++)
        for (int64_t b = 1; b < L[1]; b++)
          for (int64_t c = dim == 2 ? 0 : 1; c < (dim == 2 ? 1 : L[2]); c++) {
            double n[3][2] = {{(double)a, (double)(L[0] - a)},
                              {(double)b, (double)(L[1] - b)},
                              {(double)c, (double)(L[2] - c)}},
                   v = 0.0;
            for (int r = 0; r < P; r++)
              v = fmax(v, n[0][r % 2] * n[1][r / 2 % 2] * (dim == 2 ? 1.0 : n[2][r / 4]) / sp[r]);
            opt = fmin(opt, v);
          }
      worst = fmax(worst, balanced(dim, L, grid, sp, cut) / opt);
    }
    char what[120];
    snprintf(what, sizeof(what), "balance: 100 random %s grids within 10%% of the best cuts (worst %.3f)",
             dim == 2 ? "2x2" : "2x2x2", worst);
    check(worst <= 1.10, what);
  }
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

/* The geometry of p on every rank: 0, or 1 (skipped where no process grid of this many ranks fits, a failed
 * check where creating it fails). */
static int create(const char *name, const ising_params *p, ising_geometry *g)
{
  char what[160];
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int layout[3];
  if (ising_geometry_best_grid(p->dim, p->L, size, layout)) {
    if (rank == 0) printf("%-70s skipped (no layout of %d ranks)\n", name, size);
    return 1;
  }
  if (ising_geometry_create(MPI_COMM_WORLD, p, g)) {
    snprintf(what, sizeof(what), "%s: geometry created", name);
    check(0, what);
    return 1;
  }
  return 0;
}

static void check_lattice(const char *name, ising_params p)
{
  ising_geometry g;
  char what[160];
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (create(name, &p, &g)) return;
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

/* ising_geometry_pack_bits and ising_geometry_bits_dot on random spins (+-1 in the block; the halo positions 0, 1,
 * -1 or 5, which must not matter). */
static void check_bits(const char *name, ising_params p)
{
  ising_geometry g;
  char what[160];
  if (create(name, &p, &g)) return;
  const size_t words = ising_geometry_bit_words(&g);
  int8_t *a = malloc(g.nextended), *b = malloc(g.nextended);
  uint64_t *ba = malloc(sizeof(uint64_t) * (words + 1)), *bb = malloc(sizeof(uint64_t) * (words + 1));
  uint64_t *masks = malloc(sizeof(uint64_t) * (ising_geometry_bit_chunks(&g) + 1));
  ising_geometry_bit_masks(&g, masks);
  uint64_t x = UINT64_C(0x9e3779b97f4a7c15) + (uint64_t)(rank > 0 ? rank : 0);
  const int8_t halo[4] = {0, 1, -1, 5};
  int ok = words == (g.nlocal + 63) / 64;
  for (int round = 0; round < 4; round++) {
    for (size_t i = 0; i < g.nextended; i++) {
      x = x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
      a[i] = halo[x >> 62];
      b[i] = halo[x >> 60 & 3];
    }
    size_t k = 0;
    int64_t dot = 0;
    for (int ez = ising_geometry_lo(&g, 2); ez < ising_geometry_lo(&g, 2) + g.n[2]; ez++)
      for (int ey = ising_geometry_lo(&g, 1); ey < ising_geometry_lo(&g, 1) + g.n[1]; ey++)
        for (int ex = 1; ex <= g.n[0]; ex++) {
          size_t i = ising_geometry_index(&g, ex, ey, ez);
          x = x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
          a[i] = x >> 63 ? -1 : 1;
          b[i] = round == 1 ? a[i] : round == 2 ? (int8_t)-a[i] : x >> 62 & 1 ? -1 : 1;
          dot += a[i] * b[i];
          k++;
        }
    ba[words] = bb[words] = UINT64_C(0x5a5a5a5a5a5a5a5a); /* past the end: must stay */
    ising_geometry_pack_bits(&g, a, ba);
    ising_geometry_pack_bits(&g, b, bb);
    ok &= ba[words] == UINT64_C(0x5a5a5a5a5a5a5a5a) && bb[words] == UINT64_C(0x5a5a5a5a5a5a5a5a);
    k = 0;
    for (int ez = ising_geometry_lo(&g, 2); ez < ising_geometry_lo(&g, 2) + g.n[2]; ez++)
      for (int ey = ising_geometry_lo(&g, 1); ey < ising_geometry_lo(&g, 1) + g.n[1]; ey++)
        for (int ex = 1; ex <= g.n[0]; ex++, k++)
          ok &= (int)(ba[k / 64] >> (k % 64) & 1) == (a[ising_geometry_index(&g, ex, ey, ez)] < 0);
    for (; k < 64 * words; k++) ok &= !(ba[k / 64] >> (k % 64) & 1) && !(bb[k / 64] >> (k % 64) & 1);
    ok &= ising_geometry_bits_dot(ba, bb, words, (int64_t)g.nlocal) == dot;
    /* every instruction set this CPU runs packs the same words, and writes none past them */
    for (int lvl = ISING_SIMD_SCALAR; lvl <= (int)ising_simd_supported(); lvl++) {
      bb[words] = UINT64_C(0x5a5a5a5a5a5a5a5a);
      ising_geometry_pack_bits_simd((ising_simd)lvl, &g, masks, a, bb);
      for (size_t w = 0; w < words; w++) ok &= bb[w] == ba[w];
      ok &= bb[words] == UINT64_C(0x5a5a5a5a5a5a5a5a);
    }
  }
  snprintf(what, sizeof(what), "%s: spins as bits, and their overlap", name);
  check(ok, what);
  free(a);
  free(b);
  free(ba);
  free(bb);
  free(masks);
  ising_geometry_free(&g);
}

/* A field moved between blocks (ising_geometry_recut, ising_geometry_move):
 * from even blocks to the blocks of the speeds 1, 3, 2, 5 (or random cuts),
 * every site keeps its value and the halo is left alone; and back. */
static void check_move(const char *name, ising_params p, int random_cuts)
{
  ising_geometry g, h, back;
  char what[160];
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int layout[3];
  if (size > 4 || ising_geometry_best_grid(p.dim, p.L, size, layout)) return; /* 4 speeds below */
  if (ising_geometry_create(MPI_COMM_WORLD, &p, &g)) {
    check(0, "move: geometry created");
    return;
  }
  int64_t cut[16 * 3];
  double speeds[4] = {1, 3, 2, 5}, rel[4];
  for (int r = 0; r < size; r++) rel[r] = speeds[r] / 5.0;
  memcpy(cut, g.cut_mem, sizeof(int64_t) * (size_t)(g.grid[0] + g.grid[1] + g.grid[2] + 3));
  if (random_cuts) { /* random cut points, the same on every rank */
    uint32_t x = 12345u;
    for (int d = 0, k = 0; d < g.dim; k += g.grid[d] + 1, d++)
      for (int c = 1; c < g.grid[d]; c++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        int64_t lo = cut[k + c - 1] + 1, hi = p.L[d] - (g.grid[d] - c);
        cut[k + c] = lo + (int64_t)(x % (uint32_t)(hi - lo + 1));
      }
  } else {
    ising_geometry_balance(g.dim, g.L, g.grid, rel, cut);
  }
  int ok = !ising_geometry_recut(&g, cut, rel, &h);
  snprintf(what, sizeof(what), "move %s: geometry of the new cuts", name);
  check(ok, what);
  if (!ok) {
    ising_geometry_free(&g);
    return;
  }
  int64_t *a = malloc(sizeof(int64_t) * g.nextended), *b = malloc(sizeof(int64_t) * h.nextended),
          *c = malloc(sizeof(int64_t) * g.nextended);
  for (size_t i = 0; i < g.nextended; i++) a[i] = -7;
  for (size_t i = 0; i < h.nextended; i++) b[i] = -9;
  for (size_t i = 0; i < g.nextended; i++) c[i] = -11;
  for (int ez = 0; ez < g.ext[2]; ez++)
    for (int ey = 0; ey < g.ext[1]; ey++)
      for (int ex = 0; ex < g.ext[0]; ex++) {
        int e[3] = {ex, ey, ez}, interior = 1;
        for (int d = 0; d < g.dim; d++) interior &= e[d] >= 1 && e[d] <= g.n[d];
        if (interior) a[ising_geometry_index(&g, ex, ey, ez)] = ising_geometry_global_index(&g, ex, ey, ez);
      }
  ok = h.comm != MPI_COMM_NULL && h.rank == g.rank && !ising_geometry_move(&g, a, &h, b, sizeof(int64_t));
  int64_t owned = 0, all;
  for (int ez = 0; ez < h.ext[2]; ez++)
    for (int ey = 0; ey < h.ext[1]; ey++)
      for (int ex = 0; ex < h.ext[0]; ex++) {
        int e[3] = {ex, ey, ez}, interior = 1;
        for (int d = 0; d < h.dim; d++) interior &= e[d] >= 1 && e[d] <= h.n[d];
        int64_t v = b[ising_geometry_index(&h, ex, ey, ez)];
        ok &= interior ? v == ising_geometry_global_index(&h, ex, ey, ez) : v == -9;
        owned += interior;
      }
  for (int d = 0; d < h.dim; d++)
    ok &= h.offset[d] == h.cut[d][h.coords[d]] && h.n[d] == h.cut[d][h.coords[d] + 1] - h.cut[d][h.coords[d]];
  MPI_Allreduce(&owned, &all, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  ok &= all == p.nsites;
  snprintf(what, sizeof(what), "move %s: every site to its new owner, halo untouched", name);
  check(ok, what);
  ok = !ising_geometry_recut(&h, g.cut_mem, NULL, &back) && !ising_geometry_move(&h, b, &back, c, sizeof(int64_t));
  for (size_t i = 0; ok && i < g.nextended; i++) ok &= c[i] == (a[i] == -7 ? -11 : a[i]);
  snprintf(what, sizeof(what), "move %s: and back to even blocks", name);
  check(ok, what);
  /* the predicted time of a sweep: sites over speed of the slowest rank */
  double t = 0.0, want;
  for (int r = 0; r < size; r++) {
    int cc[3] = {r % g.grid[0], r / g.grid[0] % g.grid[1], r / g.grid[0] / g.grid[1]};
    double v = 1.0;
    for (int d = 0; d < g.dim; d++) v *= (double)(h.cut[d][cc[d] + 1] - h.cut[d][cc[d]]);
    t = fmax(t, v / rel[r]);
  }
  want = ising_geometry_slowest(&g, cut, rel);
  snprintf(what, sizeof(what), "move %s: slowest rank's time of the new blocks", name);
  check(want == t, what);
  free(a);
  free(b);
  free(c);
  ising_geometry_free(&back);
  ising_geometry_free(&h);
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

  /* rows of 1-20 sites (8-site pieces straddling words at every offset) and 67 */
  for (int64_t lx = 1; lx <= 20; lx++) {
    char name[64];
    snprintf(name, sizeof(name), "2D %dx9 open", (int)lx);
    check_bits(name, lattice(2, lx, 9, 0, 0, 0, 0));
  }
  check_bits("1D 67 open", lattice(1, 67, 0, 0, 0, 0, 0));
  check_bits("1D 1000 periodic", lattice(1, 1000, 0, 0, 1, 0, 0));
  check_bits("3D 10x6x4 periodic", lattice(3, 10, 6, 4, 1, 1, 1));
  check_bits("3D 67x3x5 open", lattice(3, 67, 3, 5, 0, 0, 0));

  check_balance();
  /* the same lattices with blocks sized by the speeds 1, 3, 2, 5 of ranks 0-3 */
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  double speeds[4] = {1, 3, 2, 5};
  const char *names[4] = {"1D 64 periodic, balanced", "2D 10x6 periodic, balanced", "2D 7x5 open, balanced",
                          "3D 6x5x4 periodic/open/periodic, balanced"};
  ising_params lat[4] = {lattice(1, 64, 0, 0, 1, 0, 0), lattice(2, 10, 6, 0, 1, 1, 0), lattice(2, 7, 5, 0, 0, 0, 0),
                         lattice(3, 6, 5, 4, 1, 0, 1)};
  for (int k = 0; k < 4; k++) {
    lat[k].balance = ISING_BALANCE_GIVEN;
    lat[k].nbalance = size;
    lat[k].balance_speeds = speeds;
    check_lattice(names[k], lat[k]);
  }
  ising_geometry g;
  if (!ising_geometry_create(MPI_COMM_WORLD, &lat[1], &g)) {
    int64_t want[16];
    double rel[4];
    for (int r = 0; r < size; r++) rel[r] = speeds[r] / (size > 3 ? 5 : size > 1 ? 3 : 1);
    int ok = !ising_geometry_balance(2, g.L, g.grid, rel, want);
    for (int d = 0, k = 0; d < 2; k += g.grid[d] + 1, d++)
      for (int c = 0; c <= g.grid[d]; c++) ok &= g.cut[d][c] == want[k + c];
    for (int r = 0; r < size; r++) ok &= g.speeds[r] == rel[r];
    ok &= g.offset[1] == g.cut[1][g.coords[1]] && g.n[1] == g.cut[1][g.coords[1] + 1] - g.cut[1][g.coords[1]];
    check(ok, "2D 10x6, -balance 1,3,2,5: blocks and speeds (relative to the fastest) as computed");
    ising_geometry_free(&g);
  }

  for (int rnd = 0; rnd < 2; rnd++) {
    check_move(rnd ? "1D 64 periodic, random cuts" : "1D 64 periodic", lattice(1, 64, 0, 0, 1, 0, 0), rnd);
    check_move(rnd ? "2D 10x6, random cuts" : "2D 10x6", lattice(2, 10, 6, 0, 1, 1, 0), rnd);
    check_move(rnd ? "3D 6x5x4 open, random cuts" : "3D 6x5x4 open", lattice(3, 6, 5, 4, 0, 0, 0), rnd);
  }
  if (size == 4) { /* two split axes: 2D 2x2 and 3D 1x2x2 */
    ising_params two = lattice(2, 9, 11, 0, 1, 1, 0), three = lattice(3, 5, 7, 9, 1, 0, 1);
    two.have_process_grid = three.have_process_grid = 1;
    two.process_grid[0] = two.process_grid[1] = 2, two.process_grid[2] = 1;
    three.process_grid[0] = 1, three.process_grid[1] = three.process_grid[2] = 2;
    for (int rnd = 0; rnd < 2; rnd++) {
      check_move(rnd ? "2D 9x11 on 2x2, random cuts" : "2D 9x11 on 2x2", two, rnd);
      check_move(rnd ? "3D 5x7x9 on 1x2x2, random cuts" : "3D 5x7x9 on 1x2x2", three, rnd);
    }
  }
  if (rank == 0) printf("%d failure(s)\n", failures);
  PetscFinalize();
  return failures != 0;
}
