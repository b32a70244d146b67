/* observables.c: energy and magnetisation (observables.h).
 *   ising_observables_local     local
 *   ising_observables_measure   collective */
#include "ising/observables.h"

#include "ising/rng.h"

#include <mpi.h>

static inline int64_t fixed(double x)
{
  return (int64_t)(x * ISING_QUANTUM_SCALE);
}

ising_observables_sums ising_observables_local(const ising_geometry *g, const ising_couplings *c, const int8_t *spins)
{
  int64_t bond_sum[ISING_MAX_DIM] = {0, 0, 0}, mag = 0;
  ising_int128 field_q = 0, energy = 0;
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
      size_t row = ising_geometry_index(g, 0, ey, ez);
      for (int ex = 1; ex <= g->n[0]; ex++) {
        size_t i = row + (size_t)ex;
        int s = spins[i];
        mag += s;
        for (int d = 0; d < g->dim; d++) {
          int ss = s * spins[i + g->stride[d]];
          if (c->uniform_bonds)
            bond_sum[d] += ss;
          else
            energy -= (ising_int128)(fixed(c->Jp[d][i]) * ss);
        }
        if (!c->uniform_field) field_q -= (ising_int128)(fixed(c->h[i]) * s);
      }
    }
  if (c->uniform_bonds)
    for (int d = 0; d < g->dim; d++) energy -= (ising_int128)fixed(c->J[d]) * bond_sum[d];
  if (c->uniform_field) field_q = -(ising_int128)fixed(c->field) * mag;
  ising_observables_sums sums = {energy + field_q, mag};
  return sums;
}

void ising_observables_measure(const ising_geometry *g, const ising_couplings *c, const int8_t *spins, double *energy,
                               double *magnetization)
{
  /* The 128-bit energy travels as a signed high part and a 32-bit low
   * part, each summed exactly as int64 by MPI. */
  ising_observables_sums s = ising_observables_local(g, c, spins);
  int64_t local[3] = {(int64_t)(s.energy >> 32), (int64_t)(s.energy & 0xffffffff), s.magnetization}, total[3];
  MPI_Allreduce(local, total, 3, MPI_INT64_T, MPI_SUM, g->comm);
  ising_int128 e = (ising_int128)total[0] * ((ising_int128)1 << 32) + total[1];
  *energy = (double)e / ISING_QUANTUM_SCALE / (double)g->nsites;
  *magnetization = (double)total[2] / (double)g->nsites;
}
