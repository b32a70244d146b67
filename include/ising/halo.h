/* halo.h: halo exchange of a field stored on the extended array of a
 * geometry (geometry.h).  The only module besides I/O that sends
 * point-to-point messages; kernels never call MPI.
 *
 *   int ising_halo_create(const ising_geometry *g, MPI_Datatype element, ising_halo *h)
 *       Local.  Builds the face datatypes (one layer, interior extent) of
 *       an extended array with entries of type element (MPI_INT8_T for
 *       spins, MPI_DOUBLE for mean-field magnetisations).  Returns 0.
 *   void ising_halo_exchange(ising_halo *h, void *field)
 *       Collective over the geometry's communicator.  Fills the halo layers
 *       of field with the neighbours' boundary values on every active axis;
 *       halo layers at open boundaries are left untouched (they hold 0).
 *   void ising_halo_begin(ising_halo *h, void *field, int first_axis)
 *   void ising_halo_end(ising_halo *h)
 *       Collective.  The same exchange split in two (non-blocking sends
 *       and receives, then the wait), for the axes first_axis .. dim-1
 *       only, so that computation can proceed in between: until end the
 *       faces must not be written nor the halos read.  Along an axis where
 *       this rank is its own neighbour (periodic, one rank along it) begin
 *       copies the faces into the halos directly, without a message.
 *   void ising_halo_free(ising_halo *h)
 *       Local.
 */
#ifndef ISING_HALO_H
#define ISING_HALO_H

#include "ising/geometry.h"

#include <mpi.h>

typedef struct {
  const ising_geometry *geom;
  /* per axis: [0] send low face, [1] send high face, [2] recv low halo, [3] recv high halo */
  MPI_Datatype face[ISING_MAX_DIM][4];
  int ntypes;
  MPI_Request req[4 * ISING_MAX_DIM]; /* of the exchange in flight (ising_halo_begin) */
  int nreq;
  size_t esize;            /* bytes per entry */
  int self[ISING_MAX_DIM]; /* this rank is both neighbours along the axis: copied, no message */
} ising_halo;

int ising_halo_create(const ising_geometry *g, MPI_Datatype element, ising_halo *h);
void ising_halo_exchange(ising_halo *h, void *field);
void ising_halo_begin(ising_halo *h, void *field, int first_axis);
void ising_halo_end(ising_halo *h);
void ising_halo_free(ising_halo *h);

#endif
