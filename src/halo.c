/* halo.c: halo exchange on the extended array (halo.h).
 *   ising_halo_create, ising_halo_free   local
 *   ising_halo_exchange, ising_halo_begin, ising_halo_end  collective */
#include "ising/halo.h"

#include <stdint.h>
#include <string.h>

int ising_halo_create(const ising_geometry *g, MPI_Datatype element, ising_halo *h)
{
  memset(h, 0, sizeof(*h));
  h->geom = g;
  h->ntypes = g->dim;
  int rank, esize;
  MPI_Comm_rank(g->comm, &rank);
  MPI_Type_size(element, &esize);
  h->esize = (size_t)esize;
  for (int d = 0; d < g->dim; d++) h->self[d] = g->nbr[2 * d] == rank && g->nbr[2 * d + 1] == rank;
  /* MPI subarrays are given slowest axis first (C order); ours is z, y, x. */
  for (int d = 0; d < g->dim; d++) {
    int sizes[ISING_MAX_DIM], sub[ISING_MAX_DIM], start[4][ISING_MAX_DIM];
    for (int a = 0; a < g->dim; a++) {
      int k = g->dim - 1 - a;
      sizes[k] = g->ext[a];
      sub[k] = a == d ? 1 : g->n[a];
      for (int f = 0; f < 4; f++) start[f][k] = 1;
    }
    int k = g->dim - 1 - d;
    start[0][k] = 1;           /* first interior layer, goes to the -d neighbour */
    start[1][k] = g->n[d];     /* last interior layer, goes to the +d neighbour */
    start[2][k] = 0;           /* low halo, from the -d neighbour */
    start[3][k] = g->n[d] + 1; /* high halo, from the +d neighbour */
    for (int f = 0; f < 4; f++) {
      MPI_Type_create_subarray(g->dim, sizes, sub, start[f], MPI_ORDER_C, element, &h->face[d][f]);
      MPI_Type_commit(&h->face[d][f]);
    }
  }
  return 0;
}

/* memcpy(to, from, bytes) of separate rows, inline in 8-byte pieces (the last one overlapping) where a row is
 * short: a library call per row of a small lattice cost more than the copy. */
static inline void copy_row(char *to, const char *from, size_t bytes)
{
  if (bytes < 8 || bytes > 64) {
    memcpy(to, from, bytes);
    return;
  }
  uint64_t w;
  for (size_t i = 0; i + 8 < bytes; i += 8) {
    memcpy(&w, from + i, 8);
    memcpy(to + i, &w, 8);
  }
  memcpy(&w, from + bytes - 8, 8);
  memcpy(to + bytes - 8, &w, 8);
}

/* Axis d of a rank that is its own neighbour on both sides (periodic, one rank along d): each halo layer is a copy
 * of the opposite interior layer, without a message (a message to oneself costs the datatype packing twice and
 * the MPI progress engine; on one rank this was 12 % of a sweep of a 32^3 lattice). */
static void copy_axis(const ising_halo *h, char *f, int d)
{
  const ising_geometry *g = h->geom;
  const size_t es = h->esize, n = (size_t)g->n[d], st = (size_t)g->stride[d] * es, row = (size_t)g->n[0] * es;
  const int ylo = ising_geometry_lo(g, 1), zlo = ising_geometry_lo(g, 2);
  if (d == 0) {
    for (int ez = zlo; ez < zlo + g->n[2]; ez++)
      for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
        char *x0 = f + ising_geometry_index(g, 0, ey, ez) * es;
        memcpy(x0, x0 + n * es, es);
        memcpy(x0 + (n + 1) * es, x0 + es, es);
      }
    return;
  }
  /* The last axis's layer, in one piece from its first row's x = 1 to its last row's x = n0, where no message
   * fills the x halos between (one rank along x): the copy of those is never read, but not left to depend on
   * when a message arrives either. */
  if (d == g->dim - 1 && g->grid[0] == 1) {
    const size_t layer = ((d == 2 ? (size_t)(g->n[1] - 1) * (size_t)g->stride[1] : 0) + (size_t)g->n[0]) * es;
    char *low = f + ising_geometry_index(g, 1, d == 1 ? 0 : ylo, d == 2 ? 0 : zlo) * es;
    memcpy(low, low + n * st, layer);
    memcpy(low + (n + 1) * st, low + st, layer);
    return;
  }
  /* row by row: the rows (x = 1 .. n0) of the low halo layer of axis d */
  const int y0 = d == 1 ? 0 : ylo, ny = d == 1 ? 1 : g->n[1], z0 = d == 2 ? 0 : zlo, nz = d == 2 ? 1 : g->n[2];
  for (int ez = z0; ez < z0 + nz; ez++)
    for (int ey = y0; ey < y0 + ny; ey++) {
      char *low = f + ising_geometry_index(g, 1, ey, ez) * es;
      copy_row(low, low + n * st, row);
      copy_row(low + (n + 1) * st, low + st, row);
    }
}

void ising_halo_begin(ising_halo *h, void *field, int first_axis)
{
  const ising_geometry *g = h->geom;
  h->nreq = 0;
  /* All axes at once: faces exclude the halo, so the axes are independent
   * (nearest-neighbour stencils never read the corners). */
  for (int d = first_axis; d < g->dim; d++) {
    if (h->self[d]) continue;
    MPI_Irecv(field, 1, h->face[d][2], g->nbr[2 * d], 2 * d + 1, g->comm, &h->req[h->nreq++]);
    MPI_Irecv(field, 1, h->face[d][3], g->nbr[2 * d + 1], 2 * d, g->comm, &h->req[h->nreq++]);
  }
  for (int d = first_axis; d < g->dim; d++) {
    if (h->self[d]) continue;
    MPI_Isend(field, 1, h->face[d][0], g->nbr[2 * d], 2 * d, g->comm, &h->req[h->nreq++]);
    MPI_Isend(field, 1, h->face[d][1], g->nbr[2 * d + 1], 2 * d + 1, g->comm, &h->req[h->nreq++]);
  }
  for (int d = first_axis; d < g->dim; d++)
    if (h->self[d]) copy_axis(h, field, d);
}

void ising_halo_end(ising_halo *h)
{
  MPI_Waitall(h->nreq, h->req, MPI_STATUSES_IGNORE);
  h->nreq = 0;
}

void ising_halo_exchange(ising_halo *h, void *field)
{
  ising_halo_begin(h, field, 0);
  ising_halo_end(h);
}

void ising_halo_free(ising_halo *h)
{
  for (int d = 0; d < h->ntypes; d++)
    for (int f = 0; f < 4; f++) MPI_Type_free(&h->face[d][f]);
  h->ntypes = 0;
}
