/* structure.h: the structure factor of the decomposed lattice,
 *     S(k) = |sum_x s_x exp(-i k.x)|^2 / N,   k_d = 2 pi n_d / L_d,
 * circularly averaged over shells of |k|, by a distributed row-column FFT.
 *
 * The lattice is treated as periodic on every axis.  The transform runs axis
 * by axis: MPI_Alltoallv redistributes the data so that each rank holds
 * whole lines along the axis (the lines are split over the ranks along the
 * longest other axis), ising_fft transforms each line, then the next axis.
 * Every line goes through the same serial FFT whichever rank holds it, and
 * the per-mode values are summed in fixed point (units of 2^-32, 128-bit
 * integers, ising_allreduce_int128), so the sums are bit-identical on any
 * number of ranks and any process grid.  Memory: three buffers of two
 * doubles per local site and |k| per mode (56 bytes per site).
 *
 * Shell b holds the modes with b - 1/2 <= |k| / dk < b + 1/2, dk = 2 pi /
 * min_d L_d (so shell 0 holds k = 0 alone on a square or cubic lattice);
 * |k| uses n_d wrapped into (-L_d/2, L_d/2].
 *
 *   int ising_structure_create(const ising_geometry *g, ising_structure *s)
 *       Collective.  Plans the layouts, allocates the buffers, and counts
 *       the modes of each shell (s->modes) and their mean |k| (s->kmean).
 *       Returns 0, or -1 on every rank (message printed) when memory is short.
 *   int ising_structure_compute(ising_structure *s, const int8_t *spins, ising_int128 *shell)
 *       Collective.  shell[b] = sum of S(k) over the modes of shell b, in
 *       units of 2^-32 (each mode rounded to the nearest unit), identical
 *       on every rank; shell[b] / modes[b] is the circular average.  spins
 *       is this rank's extended array (halo not used).  Returns 0 or -1.
 *   void ising_structure_free(ising_structure *s)
 *       Local.
 */
#ifndef ISING_STRUCTURE_H
#define ISING_STRUCTURE_H

#include "ising/geometry.h"
#include "ising/rng.h"

#include <mpi.h>
#include <stdint.h>

typedef struct {
  const ising_geometry *g;
  int nshells;
  double dk;
  int64_t *modes; /* [nshells] modes per shell */
  double *kmean;  /* [nshells] mean |k| of the shell's modes (NaN if empty) */
  /* private */
  int64_t *boxes; /* [(dim + 1) * size * 6]: lo[3], hi[3] of each rank in layout 0 (blocks) and a + 1 (lines along a) */
  double *kval;   /* |k| of each mode of this rank's final layout */
  double *data, *send, *recv, *line;
  int *counts; /* sendcounts, sdispls, recvcounts, rdispls: 4 * size */
} ising_structure;

int ising_structure_create(const ising_geometry *g, ising_structure *s);
int ising_structure_compute(ising_structure *s, const int8_t *spins, ising_int128 *shell);
void ising_structure_free(ising_structure *s);

#endif
