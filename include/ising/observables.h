/* observables.h: energy and magnetisation of the distributed lattice.
 *
 * The energy is accumulated exactly in fixed point (units of 2^-32, the
 * quantum of every coupling and field, see rng.h) in 128-bit integers and
 * reduced exactly, so the result does not depend on the order of summation
 * and is bit-identical on any number of ranks and any process grid; 128 bits
 * cannot overflow for any lattice and couplings the options allow.
 *
 *   ising_observables_sums ising_observables_local(const ising_geometry *g, const ising_couplings *c,
 *                                                 const int8_t *spins)
 *       Local.  This rank's share: H in units of 2^-32 over the bonds
 *       leaving its sites in the +d directions and its fields, and the sum
 *       of its spins.  Needs an up-to-date halo.  With uniform or ±J bonds
 *       it counts, row by row and vectorised (AVX-512, AVX2 or scalar, as
 *       ising_simd_default), the spins -1 and per axis the existing and the
 *       unsatisfied bonds, and forms the sums from these counts; otherwise
 *       it sums site by site.  Both give the same integers.
 *   int64_t ising_observables_unsatisfied(const ising_geometry *g, const ising_couplings *c, const int8_t *spins)
 *       Local.  This rank's bonds (leaving its sites in the +d directions)
 *       with J_ij s_i s_j < 0: domain walls of a ferromagnet, frustrated or
 *       broken bonds in general.  Needs an up-to-date halo.
 *   int64_t ising_observables_bonds(const ising_geometry *g)
 *       Local.  The number of bonds of the whole lattice (N per periodic
 *       axis, N (L_d - 1) / L_d per open one).
 *   void ising_allreduce_int128(MPI_Comm comm, ising_int128 *v, int n)
 *       Collective.  Exact, order-independent sum over the ranks of n
 *       128-bit integers, in place (n <= ISING_INT128_MAX_REDUCE needs no
 *       allocation).
 *   ising_int128 ising_fixed128(double x), double ising_unfixed128(ising_int128 x)
 *       Local.  x in fixed point with 64 fraction bits (truncated) and back:
 *       reproducible sums of doubles (|x| < 2^62) to 5e-20 per term.
 *   void ising_observables_measure(const ising_geometry *g, const ising_couplings *c,
 *                                  const int8_t *spins, double *energy, double *magnetization)
 *       Collective.  Energy per spin H/N and magnetisation per spin m.
 *   void ising_observables_reduce(const ising_geometry *g, int n, const ising_observables_sums *local,
 *                                 double *energy, double *magnetization)
 *       Collective.  The same for n measurements at once from each rank's
 *       ising_observables_local sums (one all-reduce instead of n; the
 *       values are identical to n calls of ising_observables_measure).
 */
#ifndef ISING_OBSERVABLES_H
#define ISING_OBSERVABLES_H

#include "ising/couplings.h"
#include "ising/geometry.h"
#include "ising/rng.h"

#include <mpi.h>
#include <stdint.h>

typedef struct {
  ising_int128 energy; /* units of 2^-32 */
  int64_t magnetization;
} ising_observables_sums;

ising_observables_sums ising_observables_local(const ising_geometry *g, const ising_couplings *c, const int8_t *spins);

int64_t ising_observables_unsatisfied(const ising_geometry *g, const ising_couplings *c, const int8_t *spins);
int64_t ising_observables_bonds(const ising_geometry *g);

#define ISING_INT128_MAX_REDUCE 8
void ising_allreduce_int128(MPI_Comm comm, ising_int128 *v, int n);
ising_int128 ising_fixed128(double x);
double ising_unfixed128(ising_int128 x);
void ising_observables_reduce(const ising_geometry *g, int n, const ising_observables_sums *local, double *energy,
                              double *magnetization);
void ising_observables_measure(const ising_geometry *g, const ising_couplings *c, const int8_t *spins, double *energy,
                               double *magnetization);

#endif
