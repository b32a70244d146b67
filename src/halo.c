/* halo.c: halo exchange on the extended array (halo.h).
 *   ising_halo_create, ising_halo_free   local
 *   ising_halo_exchange, ising_halo_begin, ising_halo_end  collective */
#include "ising/halo.h"

#include <string.h>

int ising_halo_create(const ising_geometry *g, MPI_Datatype element, ising_halo *h)
{
  memset(h, 0, sizeof(*h));
  h->geom = g;
  h->ntypes = g->dim;
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

void ising_halo_begin(ising_halo *h, void *field, int first_axis)
{
  const ising_geometry *g = h->geom;
  h->nreq = 0;
  /* All axes at once: faces exclude the halo, so the axes are independent
   * (nearest-neighbour stencils never read the corners). */
  for (int d = first_axis; d < g->dim; d++) {
    MPI_Irecv(field, 1, h->face[d][2], g->nbr[2 * d], 2 * d + 1, g->comm, &h->req[h->nreq++]);
    MPI_Irecv(field, 1, h->face[d][3], g->nbr[2 * d + 1], 2 * d, g->comm, &h->req[h->nreq++]);
  }
  for (int d = first_axis; d < g->dim; d++) {
    MPI_Isend(field, 1, h->face[d][0], g->nbr[2 * d], 2 * d, g->comm, &h->req[h->nreq++]);
    MPI_Isend(field, 1, h->face[d][1], g->nbr[2 * d + 1], 2 * d + 1, g->comm, &h->req[h->nreq++]);
  }
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
