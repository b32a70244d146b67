/* geometry.c: global lattice, process grid and local block (geometry.h).
 *   ising_geometry_create, ising_geometry_free            collective
 *   ising_geometry_global_index, ising_geometry_split,
 *   ising_geometry_best_grid                              local */
#include "ising/geometry.h"

#include "ising/error.h"

#include <string.h>

void ising_geometry_split(int64_t L, int parts, int c, int64_t *start, int64_t *len)
{
  int64_t q = L / parts, r = L % parts;
  *len = q + (c < r ? 1 : 0);
  *start = c * q + (c < r ? c : r);
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

int ising_geometry_create(MPI_Comm comm, const ising_params *p, ising_geometry *g)
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

  g->nlocal = 1;
  g->nextended = 1;
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    int64_t start = 0, len = 1;
    if (d < g->dim) ising_geometry_split(g->L[d], g->grid[d], g->coords[d], &start, &len);
    g->offset[d] = start;
    g->n[d] = (int)len;
    g->ext[d] = d < g->dim ? g->n[d] + 2 : 1;
    g->nlocal *= (size_t)g->n[d];
    g->nextended *= (size_t)g->ext[d];
  }
  g->stride[0] = 1;
  g->stride[1] = g->ext[0];
  g->stride[2] = (ptrdiff_t)g->ext[0] * g->ext[1];
  return 0;
}

void ising_geometry_free(ising_geometry *g)
{
  if (g->comm != MPI_COMM_NULL) MPI_Comm_free(&g->comm);
  g->comm = MPI_COMM_NULL;
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
