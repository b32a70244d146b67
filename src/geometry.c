/* geometry.c: global lattice, process grid and local block (geometry.h).
 *   ising_geometry_create, ising_geometry_free,
 *   ising_geometry_recut, ising_geometry_move             collective
 *   ising_geometry_global_index, ising_geometry_split, ising_geometry_block,
 *   ising_geometry_balance, ising_geometry_best_grid,
 *   ising_geometry_slowest, ising_geometry_print_blocks   local */
#include "ising/geometry.h"

#include "ising/error.h"
#include "ising/rng.h"

#include <limits.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

void ising_geometry_split(int64_t L, int parts, int c, int64_t *start, int64_t *len)
{
  int64_t q = L / parts, r = L % parts;
  *len = q + (c < r ? 1 : 0);
  *start = c * q + (c < r ? c : r);
}

void ising_geometry_block(const ising_geometry *g, int d, int c, int64_t *start, int64_t *len)
{
  *start = g->cut[d][c];
  *len = g->cut[d][c + 1] - g->cut[d][c];
}

/* The order of a binary heap of block indices for apportion: growing, the
 * block whose time would be least with one more site first; shrinking, the
 * slowest block first; ties to the lower index. */
typedef struct {
  const double *w;
  const int64_t *n;
  int grow;
} heap_order;

static int before(const heap_order *h, int a, int b)
{
  double ka = (double)(h->n[a] + h->grow) / h->w[a], kb = (double)(h->n[b] + h->grow) / h->w[b];
  if (ka != kb) return h->grow ? ka < kb : ka > kb;
  return a < b;
}

static void sift_down(const heap_order *h, int *heap, int size, int i)
{
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < size && before(h, heap[l], heap[m])) m = l;
    if (r < size && before(h, heap[r], heap[m])) m = r;
    if (m == i) return;
    int t = heap[i];
    heap[i] = heap[m];
    heap[m] = t;
    i = m;
  }
}

/* n[0..parts) >= 1 summing to L, each as near L w[c] / sum(w) as whole sites
 * allow: the largest n[c] / w[c] (the slowest slab) as small as it can be.
 * Equal weights give ising_geometry_split's blocks: the water-filling below
 * gives the extra sites to the lowest c first.  heap: parts ints of scratch. */
static void apportion(int64_t L, int parts, const double *w, int64_t *n, int *heap)
{
  double W = 0.0;
  int64_t sum = 0;
  for (int c = 0; c < parts; c++) W += w[c];
  for (int c = 0; c < parts; c++) {
    double t = floor((double)L * (w[c] / W));
    n[c] = t < 1.0 ? 1 : t > (double)L ? L : (int64_t)t;
    sum += n[c];
  }
  /* too many only where blocks were raised to one site: shrink the slowest;
   * too few: each site goes where it costs the least time */
  heap_order h = {w, n, sum < L};
  int size = 0;
  for (int c = 0; c < parts; c++)
    if (h.grow || n[c] > 1) heap[size++] = c;
  for (int k = size / 2 - 1; k >= 0; k--) sift_down(&h, heap, size, k);
  for (; sum != L && size > 0; sum += h.grow ? 1 : -1) {
    int c = heap[0];
    n[c] += h.grow ? 1 : -1;
    if (n[c] == 1 && !h.grow) heap[0] = heap[--size];
    sift_down(&h, heap, size, 0);
  }
}

/* The slowest rank's time, sites / speed, for blocks len[d][c]. */
static double slowest_rank(int dim, const int *grid, const double *speed, int64_t *const *len)
{
  int P = grid[0] * grid[1] * grid[2];
  double worst = 0.0;
  for (int r = 0; r < P; r++) {
    int cc[ISING_MAX_DIM] = {r % grid[0], r / grid[0] % grid[1], r / grid[0] / grid[1]};
    double v = 1.0;
    for (int d = 0; d < dim; d++) v *= (double)len[d][cc[d]];
    worst = fmax(worst, v / speed[r]);
  }
  return worst;
}

/* The 16-norm of the ranks' times, sites / speed: max * (sum (t / max)^16)^(1/16). */
static double norm16(int dim, const int *grid, const double *speed, int64_t *const *len)
{
  int P = grid[0] * grid[1] * grid[2];
  double top = slowest_rank(dim, grid, speed, len), sum = 0.0;
  for (int r = 0; r < P; r++) {
    int cc[ISING_MAX_DIM] = {r % grid[0], r / grid[0] % grid[1], r / grid[0] / grid[1]};
    double v = 1.0;
    for (int d = 0; d < dim; d++) v *= (double)len[d][cc[d]];
    double q = v / speed[r] / top, q2 = q * q, q4 = q2 * q2, q8 = q4 * q4;
    sum += q8 * q8;
  }
  return top * pow(sum, 1.0 / 16.0);
}

/* If the blocks len are faster than best_time (the slowest rank's sites /
 * speed), they become best. */
static void keep_if_faster(int dim, const int *grid, const double *speed, int64_t **len, int64_t **best,
                           double *best_time)
{
  double t = slowest_rank(dim, grid, speed, len);
  if (t < *best_time) {
    *best_time = t;
    for (int d = 0; d < dim; d++) memcpy(best[d], len[d], sizeof(int64_t) * (size_t)grid[d]);
  }
}

/* Each axis in turn, four rounds: slab c of axis d gets sites in proportion
 * to the speed per site of the rest of its slowest rank's block (exact on a
 * one-axis grid); every round's blocks are offered to keep_if_faster. */
static void axis_rounds(int dim, const int64_t *L, const int *grid, const double *speed, double *w, int *heap,
                        int64_t **len, int64_t **best, double *best_time)
{
  int P = grid[0] * grid[1] * grid[2];
  for (int round = 0; round < 4; round++)
    for (int d = 0; d < dim; d++) {
      if (grid[d] == 1) continue;
      for (int c = 0; c < grid[d]; c++) w[c] = INFINITY;
      for (int r = 0; r < P; r++) {
        int cc[ISING_MAX_DIM] = {r % grid[0], r / grid[0] % grid[1], r / grid[0] / grid[1]};
        double rest = 1.0;
        for (int e = 0; e < dim; e++)
          if (e != d) rest *= (double)len[e][cc[e]];
        w[cc[d]] = fmin(w[cc[d]], speed[r] / rest);
      }
      apportion(L[d], grid[d], w, len[d], heap);
      keep_if_faster(dim, grid, speed, len, best, best_time);
    }
}

/* Moves of one site between two blocks of one axis, or of such a move on
 * each of two axes at once, while they lower the 16-norm of the ranks'
 * times (a smooth stand-in for the slowest: a move that shortens a rank tied
 * for slowest counts too).  The paired moves are what the axis rounds miss:
 * with fast ranks in opposite corners of a 2x2 grid, the two slow ranks
 * shrink only if both cuts move together.  mv lists the moves (axis, from,
 * to) sorted by axis; *budget counts rank-time evaluations down. */
static void local_search(int dim, const int *grid, const double *speed, int64_t **len, int (*mv)[3], int nmove,
                         double *budget)
{
  int P = grid[0] * grid[1] * grid[2], next[ISING_MAX_DIM] = {nmove, nmove, nmove};
  for (int m = nmove - 1; m >= 0; m--) /* next[d]: the first move on an axis after d */
    for (int d = 0; d < mv[m][0]; d++) next[d] = m;
  double cur = norm16(dim, grid, speed, len), left = *budget;
  for (int improved = 1; improved && left > 0;) {
    improved = 0;
    for (int i = 0; i < nmove && left > 0; i++) {
      const int *x = mv[i];
      left -= 1;
      if (len[x[0]][x[1]] == 1) continue;
      /* the move alone, then with each move on a later axis */
      for (int j = i; j < nmove && left > 0; j = j == i ? next[x[0]] : j + 1) {
        const int *y = j > i ? mv[j] : NULL;
        left -= 1;
        if (y && len[y[0]][y[1]] == 1) continue;
        len[x[0]][x[1]]--, len[x[0]][x[2]]++;
        if (y) len[y[0]][y[1]]--, len[y[0]][y[2]]++;
        double v = norm16(dim, grid, speed, len);
        left -= P;
        if (v < cur * (1.0 - 1e-12)) {
          cur = v;
          improved = 1;
        } else {
          len[x[0]][x[1]]++, len[x[0]][x[2]]--;
          if (y) len[y[0]][y[1]]++, len[y[0]][y[2]]--;
        }
        if (len[x[0]][x[1]] == 1) break; /* x can move no further */
      }
    }
  }
  *budget = left;
}

int ising_geometry_balance(int dim, const int64_t *L, const int *grid, const double *speed, int64_t *cut)
{
  enum { STARTS = 9 };
  int gmax = 1, rc = 0, split = 0, nmove = 0;
  for (int d = 0; d < dim; d++) {
    gmax = grid[d] > gmax ? grid[d] : gmax;
    split += grid[d] > 1;
    nmove += grid[d] * (grid[d] - 1);
  }
  int64_t *len[ISING_MAX_DIM] = {NULL, NULL, NULL}, *best[ISING_MAX_DIM] = {NULL, NULL, NULL};
  double *w = malloc(sizeof(double) * (size_t)gmax);
  int *heap = malloc(sizeof(int) * (size_t)gmax), (*mv)[3] = split > 1 ? malloc(sizeof(*mv) * (size_t)nmove) : NULL;
  rc = !w || !heap || (split > 1 && !mv);
  for (int d = 0; d < dim && !rc; d++) {
    len[d] = malloc(sizeof(int64_t) * (size_t)grid[d]);
    best[d] = malloc(sizeof(int64_t) * (size_t)grid[d]);
    rc = !len[d] || !best[d];
    for (int c = 0; c < grid[d] && !rc; c++) {
      int64_t start;
      ising_geometry_split(L[d], grid[d], c, &start, &len[d][c]);
      best[d][c] = len[d][c];
    }
  }
  for (int d = 0, m = 0; d < dim && mv; d++)
    for (int a = 0; a < grid[d]; a++)
      for (int b = 0; b < grid[d]; b++)
        if (a != b) {
          mv[m][0] = d;
          mv[m][1] = a;
          mv[m++][2] = b;
        }
  /* From even blocks: the axis rounds, then (grids split along several
   * axes) the local search.  The layout is not convex in the block sizes:
   * which rank is left with time to spare decides the basin, so the search
   * also starts from STARTS - 1 random layouts (a fixed sequence, so the
   * same speeds give the same cuts).  The fastest by the slowest rank wins; even
   * blocks are the first candidate, so the result is never slower. */
  double best_time = rc ? 0.0 : slowest_rank(dim, grid, speed, len), budget = 1e7 / STARTS;
  uint32_t x = 2463534242u;
  for (int s = 0; s < (split > 1 ? STARTS : 1) && !rc; s++) {
    for (int d = 0; d < dim && s > 0; d++) {
      if (grid[d] == 1) continue;
      for (int c = 0; c < grid[d]; c++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        w[c] = 0.25 + (double)(x >> 8) / (double)(1u << 24);
      }
      apportion(L[d], grid[d], w, len[d], heap);
    }
    axis_rounds(dim, L, grid, speed, w, heap, len, best, &best_time);
    if (mv) {
      double b = budget;
      local_search(dim, grid, speed, len, mv, nmove, &b);
      keep_if_faster(dim, grid, speed, len, best, &best_time);
    }
  }
  for (int d = 0, k = 0; d < dim && !rc; d++) {
    cut[k++] = 0;
    for (int c = 0; c < grid[d]; c++, k++) cut[k] = cut[k - 1] + best[d][c];
  }
  for (int d = 0; d < dim; d++) {
    free(len[d]);
    free(best[d]);
  }
  free(w);
  free(heap);
  free(mv);
  return rc ? -1 : 0;
}

/* This rank's speed at the random-number generator, the bulk of a sweep:
 * blocks per second in five windows of 40 ms that every rank of comm times
 * at once (so that ranks sharing a core share it here too), the median of
 * the five (a window that a burst of other work hit does not count). */
static double measure_speed(MPI_Comm comm)
{
  enum { CHUNK = 1024, WINDOWS = 5 };
  static uint32_t out[4 * CHUNK];
  ising_simd simd = ising_simd_default();
  double rate[WINDOWS];
  uint64_t first = 0;
  ising_rng_blocks(simd, 0, ISING_STREAM_DYNAMICS, 0, first, CHUNK, out); /* warm the code and the buffer */
  for (int k = 0; k < WINDOWS; k++) {
    MPI_Barrier(comm);
    double t0 = MPI_Wtime(), t;
    int64_t chunks = 0;
    do {
      ising_rng_blocks(simd, 0, ISING_STREAM_DYNAMICS, (uint64_t)k, first, CHUNK, out);
      first += CHUNK;
      chunks++;
    } while ((t = MPI_Wtime() - t0) < 0.04);
    rate[k] = (double)chunks * CHUNK / t;
  }
  for (int i = 1; i < WINDOWS; i++) /* insertion sort of five */
    for (int j = i; j > 0 && rate[j] < rate[j - 1]; j--) {
      double x = rate[j];
      rate[j] = rate[j - 1];
      rate[j - 1] = x;
    }
  return rate[WINDOWS / 2];
}

/* The blocks of every axis: even, or sized by the ranks' speeds (measured,
 * or this communicator's ranks' entries of the -balance list; with across,
 * the lowest speed of each position over across). */
static int make_cuts(MPI_Comm comm, MPI_Comm across, const ising_params *p, ising_geometry *g)
{
  size_t ncut = 0;
  for (int d = 0; d < ISING_MAX_DIM; d++) ncut += (size_t)g->grid[d] + 1;
  g->cut_mem = malloc(sizeof(int64_t) * ncut);
  g->balance = p->balance;
  if (p->balance != ISING_BALANCE_EVEN) g->speeds = malloc(sizeof(double) * (size_t)g->size);
  int bad = !g->cut_mem || (p->balance != ISING_BALANCE_EVEN && !g->speeds), any;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_LOR, comm);
  if (across != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_LOR, across); /* all or none */
  if (any) return -1;
  for (int d = 0, k = 0; d < ISING_MAX_DIM; k += g->grid[d] + 1, d++) {
    g->cut[d] = g->cut_mem + k;
    for (int c = 0; c < g->grid[d]; c++) {
      int64_t len;
      ising_geometry_split(d < g->dim ? g->L[d] : 1, g->grid[d], c, &g->cut[d][c], &len);
      g->cut[d][c + 1] = g->cut[d][c] + len;
    }
  }
  if (p->balance == ISING_BALANCE_EVEN) return 0;
  double mine;
  if (p->balance == ISING_BALANCE_MEASURE)
    mine = g->size > 1 ? measure_speed(g->comm) : 1.0;
  else {
    int world;
    MPI_Comm_rank(MPI_COMM_WORLD, &world);
    mine = world < p->nbalance ? p->balance_speeds[world] : 1.0; /* the list has one per MPI rank */
  }
  if (across != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, &mine, 1, MPI_DOUBLE, MPI_MIN, across);
  MPI_Allgather(&mine, 1, MPI_DOUBLE, g->speeds, 1, MPI_DOUBLE, g->comm);
  /* speeds relative to the fastest, for the output and the start-up line */
  double top = 0.0;
  for (int r = 0; r < g->size; r++) top = fmax(top, g->speeds[r]);
  for (int r = 0; r < g->size; r++) g->speeds[r] /= top;
  /* rank 0 sizes the blocks and sends them: floating point (pow, FMA) may
   * round differently on the unequal CPUs this is for, and every rank must
   * agree on every cut */
  bad = g->rank == 0 && ising_geometry_balance(g->dim, g->L, g->grid, g->speeds, g->cut_mem) != 0;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_LOR, comm);
  if (any) return -1;
  MPI_Bcast(g->cut_mem, (int)ncut, MPI_INT64_T, 0, g->comm);
  return 0;
}

void ising_geometry_print_blocks(const ising_geometry *g, const char *what, FILE *out)
{
  static const char axis[] = "xyz";
  double lo = 1.0;
  for (int r = 0; g->speeds && r < g->size; r++) lo = fmin(lo, g->speeds[r]);
  fprintf(out, "blocks      %sby %s speeds (slowest rank %.3f of the fastest), sites per block:", what,
          g->balance == ISING_BALANCE_MEASURE ? "measured"
          : g->balance == ISING_BALANCE_GIVEN ? "given"
                                              : "equal",
          lo);
  for (int d = 0; d < g->dim; d++) {
    if (g->grid[d] == 1) continue;
    fprintf(out, " %c", axis[d]);
    for (int c = 0; c < g->grid[d] && c < 16; c++) fprintf(out, " %lld", (long long)(g->cut[d][c + 1] - g->cut[d][c]));
    if (g->grid[d] > 16) fprintf(out, " ...");
  }
  fprintf(out, "\n");
}

/* Halo traffic of a grid: the number of sites on the faces that each rank
 * sends, for the largest block (the one that sets the pace). */
static double grid_cost(int dim, const int64_t *L, const int *grid)
{
  double cost = 0.0;
  for (int d = 0; d < dim; d++) {
    if (grid[d] == 1) continue;
    double face = 2.0;
    for (int e = 0; e < dim; e++)
      if (e != d) face *= (double)((L[e] + grid[e] - 1) / grid[e]);
    cost += face;
  }
  return cost;
}

int ising_geometry_best_grid(int dim, const int64_t *L, int nranks, int *grid)
{
  /* best[0]: the least halo traffic over every grid; best[1]: over the grids
   * with one rank along x (whole rows on a rank, which the fused sweep of
   * sweep.c needs: it is about 1.5x faster than colour-by-colour sweeps and
   * draws each Philox block once).  Whole rows win unless their halo is
   * more than ISING_WHOLE_ROWS_FACTOR times the least one (a long thin
   * lattice cut across its long axis). */
  double best_cost[2] = {1e300, 1e300};
  int best[2][ISING_MAX_DIM];
  for (int d = 0; d < ISING_MAX_DIM; d++) grid[d] = best[0][d] = best[1][d] = 1;
  /* Every factorisation nranks = fx * fy * fz (fy = fz = 1 below 2D/3D);
   * the first minimum found has the fewest ranks along x, then y. */
  for (int fx = 1; fx <= nranks; fx++) {
    if (nranks % fx || fx > L[0]) continue;
    for (int fy = 1; fy <= nranks / fx; fy++) {
      if ((nranks / fx) % fy) continue;
      int trial[ISING_MAX_DIM] = {fx, fy, nranks / fx / fy};
      int fits = 1;
      for (int d = 0; d < ISING_MAX_DIM; d++) fits &= d < dim ? trial[d] <= L[d] : trial[d] == 1;
      if (!fits) continue;
      double c = grid_cost(dim, L, trial);
      for (int j = 0; j < 2; j++)
        if (c < best_cost[j] && (j == 0 || fx == 1)) {
          best_cost[j] = c;
          for (int d = 0; d < ISING_MAX_DIM; d++) best[j][d] = trial[d];
        }
    }
  }
  if (best_cost[0] >= 1e300) return -1;
  int j = dim >= 2 && best_cost[1] <= ISING_WHOLE_ROWS_FACTOR * best_cost[0];
  for (int d = 0; d < ISING_MAX_DIM; d++) grid[d] = best[j][d];
  return 0;
}

static void set_block(ising_geometry *g);

int ising_geometry_create(MPI_Comm comm, const ising_params *p, ising_geometry *g)
{
  return ising_geometry_create_shared(comm, MPI_COMM_NULL, p, g);
}

int ising_geometry_create_shared(MPI_Comm comm, MPI_Comm across, const ising_params *p, ising_geometry *g)
{
  int size;
  memset(g, 0, sizeof(*g));
  g->comm = MPI_COMM_NULL;
  MPI_Comm_size(comm, &size);
  g->dim = p->dim;
  g->nsites = p->nsites;
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    g->L[d] = p->L[d];
    g->periodic[d] = p->periodic[d];
    g->grid[d] = 1;
  }
  if (p->have_process_grid)
    memcpy(g->grid, p->process_grid, sizeof(g->grid));
  else if (ising_check(comm, ising_geometry_best_grid(p->dim, p->L, size, g->grid) != 0,
                       "%d MPI ranks cannot be laid out on the %dD lattice with at least one site per rank along "
                       "every axis; use fewer ranks or set -process_grid",
                       size, p->dim))
    return ISING_EXIT_INPUT;

  /* MPI orders Cartesian ranks with the last dimension fastest; giving it
   * the axes in reverse makes x the fastest, as in PETSc's DMDA. */
  int dims[ISING_MAX_DIM], periods[ISING_MAX_DIM], cc[ISING_MAX_DIM];
  for (int d = 0; d < g->dim; d++) {
    dims[g->dim - 1 - d] = g->grid[d];
    periods[g->dim - 1 - d] = g->periodic[d];
  }
  MPI_Cart_create(comm, g->dim, dims, periods, 0, &g->comm);
  MPI_Comm_rank(g->comm, &g->rank);
  g->size = size;
  MPI_Cart_coords(g->comm, g->rank, g->dim, cc);
  for (int d = 0; d < g->dim; d++) {
    g->coords[d] = cc[g->dim - 1 - d];
    MPI_Cart_shift(g->comm, g->dim - 1 - d, 1, &g->nbr[2 * d], &g->nbr[2 * d + 1]);
  }
  for (int d = g->dim; d < ISING_MAX_DIM; d++) g->nbr[2 * d] = g->nbr[2 * d + 1] = MPI_PROC_NULL;

  if (ising_check(comm, make_cuts(comm, across, p, g) != 0, "out of memory for the block boundaries of %d ranks", size))
    return ISING_EXIT_RUNTIME;
  set_block(g);
  return 0;
}

static size_t cut_count(const ising_geometry *g)
{
  size_t n = 0;
  for (int d = 0; d < ISING_MAX_DIM; d++) n += (size_t)g->grid[d] + 1;
  return n;
}

int ising_geometry_recut(const ising_geometry *g, const int64_t *cut, const double *speeds, ising_geometry *out)
{
  const size_t ncut = cut_count(g);
  *out = *g;
  out->comm = MPI_COMM_NULL;
  out->cut_mem = malloc(sizeof(int64_t) * ncut);
  out->speeds = speeds ? malloc(sizeof(double) * (size_t)g->size) : NULL;
  int bad = !out->cut_mem || (speeds && !out->speeds), any;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_LOR, g->comm);
  if (any) {
    ising_geometry_free(out);
    return -1;
  }
  MPI_Comm_dup(g->comm, &out->comm);
  memcpy(out->cut_mem, cut, sizeof(int64_t) * ncut);
  for (int d = 0, k = 0; d < ISING_MAX_DIM; k += g->grid[d] + 1, d++) out->cut[d] = out->cut_mem + k;
  if (speeds) memcpy(out->speeds, speeds, sizeof(double) * (size_t)g->size);
  set_block(out);
  return 0;
}

double ising_geometry_slowest(const ising_geometry *g, const int64_t *cut, const double *speeds)
{
  int64_t *len[ISING_MAX_DIM] = {NULL, NULL, NULL}, room[ISING_MAX_DIM][64];
  int rc = 0;
  for (int d = 0, k = 0; d < g->dim; k += g->grid[d] + 1, d++) {
    len[d] = g->grid[d] <= 64 ? room[d] : malloc(sizeof(int64_t) * (size_t)g->grid[d]);
    if (!len[d]) {
      rc = -1;
      break;
    }
    for (int c = 0; c < g->grid[d]; c++) len[d][c] = cut[k + c + 1] - cut[k + c];
  }
  double t = rc ? INFINITY : slowest_rank(g->dim, g->grid, speeds, len);
  for (int d = 0; d < g->dim; d++)
    if (g->grid[d] > 64) free(len[d]);
  return t;
}

/* Global box [lo, hi) of rank coordinates cc's block in geometry g. */
static void block_box(const ising_geometry *g, const int *cc, int64_t *lo, int64_t *hi)
{
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    lo[d] = d < g->dim ? g->cut[d][cc[d]] : 0;
    hi[d] = d < g->dim ? g->cut[d][cc[d] + 1] : 1;
  }
}

/* Extended-array index of global site (x, y, z) of g's own block. */
static size_t own_index(const ising_geometry *g, int64_t x, int64_t y, int64_t z)
{
  int64_t e[ISING_MAX_DIM] = {x - g->offset[0], y - g->offset[1], z - g->offset[2]};
  for (int d = 0; d < g->dim; d++) e[d] += 1;
  return ising_geometry_index(g, (int)e[0], (int)e[1], (int)e[2]);
}

/* The sites of box [lo, hi) of g's own block packed into buf (x fastest),
 * or back from it; returns the bytes. */
static size_t box_pack(const ising_geometry *g, const int64_t *lo, const int64_t *hi, const char *field, char *buf,
                       size_t elem)
{
  const size_t row = (size_t)(hi[0] - lo[0]) * elem;
  size_t k = 0;
  for (int64_t z = lo[2]; z < hi[2]; z++)
    for (int64_t y = lo[1]; y < hi[1]; y++, k += row) memcpy(buf + k, field + elem * own_index(g, lo[0], y, z), row);
  return k;
}

static size_t box_unpack(const ising_geometry *g, const int64_t *lo, const int64_t *hi, char *field, const char *buf,
                         size_t elem)
{
  const size_t row = (size_t)(hi[0] - lo[0]) * elem;
  size_t k = 0;
  for (int64_t z = lo[2]; z < hi[2]; z++)
    for (int64_t y = lo[1]; y < hi[1]; y++, k += row) memcpy(field + elem * own_index(g, lo[0], y, z), buf + k, row);
  return k;
}

/* The overlap of two boxes; 0 if empty. */
static int overlap(const int64_t *alo, const int64_t *ahi, const int64_t *blo, const int64_t *bhi, int64_t *lo,
                   int64_t *hi, size_t *count)
{
  *count = 1;
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    lo[d] = alo[d] > blo[d] ? alo[d] : blo[d];
    hi[d] = ahi[d] < bhi[d] ? ahi[d] : bhi[d];
    if (hi[d] <= lo[d]) {
      *count = 0;
      return 0;
    }
    *count *= (size_t)(hi[d] - lo[d]);
  }
  return 1;
}

static void rank_coords(const ising_geometry *g, int r, int *cc)
{
  cc[0] = r % g->grid[0];
  cc[1] = r / g->grid[0] % g->grid[1];
  cc[2] = r / g->grid[0] / g->grid[1];
}

int ising_geometry_move(const ising_geometry *from, const void *src, const ising_geometry *to, void *dst, size_t elem)
{
  const int P = from->size, me = from->rank;
  int64_t mylo[ISING_MAX_DIM], myhi[ISING_MAX_DIM], newlo[ISING_MAX_DIM], newhi[ISING_MAX_DIM];
  int64_t lo[ISING_MAX_DIM], hi[ISING_MAX_DIM], qlo[ISING_MAX_DIM], qhi[ISING_MAX_DIM];
  int cc[ISING_MAX_DIM];
  size_t count, kept = 0;
  rank_coords(from, me, cc);
  block_box(from, cc, mylo, myhi);
  rank_coords(to, me, cc);
  block_box(to, cc, newlo, newhi);
  overlap(mylo, myhi, newlo, newhi, lo, hi, &kept); /* the sites this rank keeps */
  char *sbuf = malloc((from->nlocal - kept) * elem + 1), *rbuf = malloc((to->nlocal - kept) * elem + 1);
  MPI_Request *req = malloc(sizeof(MPI_Request) * 2 * (size_t)P);
  int bad = !sbuf || !rbuf || !req, any;
  /* every message is at most one block; MPI counts are int */
  bad |= (from->nlocal * elem > (size_t)INT_MAX || to->nlocal * elem > (size_t)INT_MAX) << 1;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_BOR, from->comm);
  if (any) {
    free(sbuf);
    free(rbuf);
    free(req);
    return any & 1 ? -1 : -2;
  }
  int nreq = 0;
  size_t soff = 0, roff = 0;
  for (int q = 0; q < P; q++) { /* what q had of my new block */
    rank_coords(from, q, cc);
    block_box(from, cc, qlo, qhi);
    if (q != me && overlap(qlo, qhi, newlo, newhi, lo, hi, &count)) {
      MPI_Irecv(rbuf + roff, (int)(count * elem), MPI_BYTE, q, 0, from->comm, &req[nreq++]);
      roff += count * elem;
    }
  }
  for (int q = 0; q < P; q++) { /* what I had of q's new block (one message per pair: blocks overlap in one box) */
    rank_coords(to, q, cc);
    block_box(to, cc, qlo, qhi);
    if (q != me && overlap(mylo, myhi, qlo, qhi, lo, hi, &count)) {
      size_t n = box_pack(from, lo, hi, src, sbuf + soff, elem);
      MPI_Isend(sbuf + soff, (int)n, MPI_BYTE, q, 0, from->comm, &req[nreq++]);
      soff += n;
    }
  }
  if (overlap(mylo, myhi, newlo, newhi, lo, hi, &count)) { /* the kept sites, row by row */
    const size_t row = (size_t)(hi[0] - lo[0]) * elem;
    for (int64_t z = lo[2]; z < hi[2]; z++)
      for (int64_t y = lo[1]; y < hi[1]; y++)
        memcpy((char *)dst + elem * own_index(to, lo[0], y, z), (const char *)src + elem * own_index(from, lo[0], y, z),
               row);
  }
  MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
  roff = 0;
  for (int q = 0; q < P; q++) {
    rank_coords(from, q, cc);
    block_box(from, cc, qlo, qhi);
    if (q != me && overlap(qlo, qhi, newlo, newhi, lo, hi, &count))
      roff += box_unpack(to, lo, hi, dst, rbuf + roff, elem);
  }
  free(sbuf);
  free(rbuf);
  free(req);
  return 0;
}

static void set_block(ising_geometry *g)
{
  g->nlocal = 1;
  g->nextended = 1;
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    int64_t start = 0, len = 1;
    if (d < g->dim) ising_geometry_block(g, d, g->coords[d], &start, &len);
    g->offset[d] = start;
    g->n[d] = (int)len;
    g->ext[d] = d < g->dim ? g->n[d] + 2 : 1;
    g->nlocal *= (size_t)g->n[d];
    g->nextended *= (size_t)g->ext[d];
  }
  g->stride[0] = 1;
  g->stride[1] = g->ext[0];
  g->stride[2] = (ptrdiff_t)g->ext[0] * g->ext[1];
}

void ising_geometry_free(ising_geometry *g)
{
  if (g->comm != MPI_COMM_NULL) MPI_Comm_free(&g->comm);
  g->comm = MPI_COMM_NULL;
  free(g->cut_mem);
  free(g->speeds);
  g->cut_mem = NULL;
  g->speeds = NULL;
  for (int d = 0; d < ISING_MAX_DIM; d++) g->cut[d] = NULL;
}

int64_t ising_geometry_global_index(const ising_geometry *g, int ex, int ey, int ez)
{
  int e[ISING_MAX_DIM] = {ex, ey, ez};
  int64_t idx = 0, mult = 1;
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    int64_t x = 0;
    if (d < g->dim) {
      x = g->offset[d] + e[d] - 1;
      if (x < 0 || x >= g->L[d]) {
        if (!g->periodic[d]) return -1;
        x = (x + g->L[d]) % g->L[d];
      }
    }
    idx += x * mult;
    mult *= g->L[d];
  }
  return idx;
}

size_t ising_geometry_bit_words(const ising_geometry *g)
{
  return (g->nlocal + 63) / 64;
}

/* Eight sites at a time: the sign bits of 8 bytes (bit 8j + 7 for byte j), times 2^0 + 2^7 + ... + 2^49, land
 * without carries (no two products share a bit) at bits 56-63, byte j's at bit 56 + j. */
void ising_geometry_pack_bits(const ising_geometry *g, const int8_t *spins, uint64_t *bits)
{
  const size_t n0 = (size_t)g->n[0];
  const int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  uint64_t acc = 0;
  int nb = 0; /* bits in acc */
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
      const int8_t *p = spins + ising_geometry_index(g, 1, ey, ez);
      size_t i = 0;
      for (; i + 8 <= n0; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        const uint64_t v = (x & 0x8080808080808080ull) * 0x0002040810204081ull >> 56;
        acc |= v << nb;
        nb += 8;
        if (nb >= 64) { /* the 64 - (nb - 8) low bits of v went into acc, the rest starts the next word */
          *bits++ = acc;
          nb -= 64;
          acc = nb ? v >> (8 - nb) : 0;
        }
      }
      for (; i < n0; i++) {
        acc |= (uint64_t)(p[i] < 0) << nb;
        if (++nb == 64) {
          *bits++ = acc;
          nb = 0;
          acc = 0;
        }
      }
    }
  if (nb) *bits = acc;
}

int64_t ising_geometry_bits_dot(const uint64_t *a, const uint64_t *b, size_t words, int64_t n)
{
  int64_t differ = 0;
  for (size_t w = 0; w < words; w++) differ += __builtin_popcountll(a[w] ^ b[w]);
  return n - 2 * differ;
}

/* The extended positions from the block's first site to its last. */
static size_t bits_first(const ising_geometry *g)
{
  return ising_geometry_index(g, 1, ising_geometry_lo(g, 1), ising_geometry_lo(g, 2));
}

size_t ising_geometry_bit_chunks(const ising_geometry *g)
{
  const size_t last =
      ising_geometry_index(g, g->n[0], ising_geometry_lo(g, 1) + g->n[1] - 1, ising_geometry_lo(g, 2) + g->n[2] - 1);
  return (last + 1 - bits_first(g) + 63) / 64;
}

void ising_geometry_bit_masks(const ising_geometry *g, uint64_t *masks)
{
  const size_t first = bits_first(g), chunks = ising_geometry_bit_chunks(g);
  for (size_t c = 0; c < chunks; c++) masks[c] = 0;
  const int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++)
      for (int ex = 1; ex <= g->n[0]; ex++) {
        const size_t o = ising_geometry_index(g, ex, ey, ez) - first;
        masks[o / 64] |= UINT64_C(1) << (o % 64);
      }
}

#if ISING_X86
/* 64 extended positions at a time: a masked load of the block's bytes among them (nothing else is read), their
 * sign bits (vpmovb2m), and pext keeps the block's bits, in storage order. */
ISING_TARGET_AVX512 static void pack_bits_avx512(const ising_geometry *g, const uint64_t *masks, const int8_t *spins,
                                                 uint64_t *bits)
{
  const int8_t *p = spins + bits_first(g);
  const size_t chunks = ising_geometry_bit_chunks(g);
  uint64_t acc = 0;
  int nb = 0; /* bits in acc */
  for (size_t c = 0; c < chunks; c++, p += 64) {
    const uint64_t m = masks[c];
    if (!m) continue;
    const uint64_t x = _pext_u64(_mm512_movepi8_mask(_mm512_maskz_loadu_epi8(m, p)), m);
    const int k = (int)_mm_popcnt_u64(m);
    acc |= x << nb;
    nb += k;
    if (nb >= 64) { /* the 64 - (nb - k) low bits of x went into acc, the rest starts the next word */
      *bits++ = acc;
      nb -= 64;
      acc = nb ? x >> (k - nb) : 0;
    }
  }
  if (nb) *bits = acc;
}
#endif

void ising_geometry_pack_bits_simd(ising_simd s, const ising_geometry *g, const uint64_t *masks, const int8_t *spins,
                                   uint64_t *bits)
{
#if ISING_X86
  if (s == ISING_SIMD_AVX512) {
    pack_bits_avx512(g, masks, spins, bits);
    return;
  }
#endif
  (void)s;
  (void)masks;
  ising_geometry_pack_bits(g, spins, bits);
}
