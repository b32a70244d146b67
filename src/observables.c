/* observables.c: energy and magnetisation (observables.h).
 *   ising_observables_local, ising_observables_unsatisfied, ising_observables_bonds   local
 *   ising_observables_measure   collective */
#include "ising/observables.h"

#include "ising/rng.h"

#include <mpi.h>
#include <stdlib.h>

#include "ising/error.h"

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
          int ss = s * (spins + i)[g->stride[d]];
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

int64_t ising_observables_unsatisfied(const ising_geometry *g, const ising_couplings *c, const int8_t *spins)
{
  int64_t count = 0;
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
      size_t row = ising_geometry_index(g, 0, ey, ez);
      for (int ex = 1; ex <= g->n[0]; ex++) {
        size_t i = row + (size_t)ex;
        for (int d = 0; d < g->dim; d++) {
          double j = c->uniform_bonds ? c->J[d] : c->Jp[d][i];
          count += j * spins[i] * (spins + i)[g->stride[d]] < 0;
        }
      }
    }
  return count;
}

int64_t ising_observables_bonds(const ising_geometry *g)
{
  int64_t bonds = 0;
  for (int d = 0; d < g->dim; d++) bonds += g->periodic[d] ? g->nsites : g->nsites / g->L[d] * (g->L[d] - 1);
  return bonds;
}

void ising_allreduce_int128(MPI_Comm comm, ising_int128 *v, int n)
{
  /* Each value travels as four 32-bit limbs (the top one signed) summed as
   * int64, which cannot overflow for fewer than 2^31 ranks; integer sums are
   * exact in any order. */
  int64_t small_local[4 * ISING_INT128_MAX_REDUCE] = {0}, small_total[4 * ISING_INT128_MAX_REDUCE];
  int64_t *local = small_local, *total = small_total;
  if (n > ISING_INT128_MAX_REDUCE) {
    local = malloc(sizeof(int64_t) * 4 * (size_t)n);
    total = malloc(sizeof(int64_t) * 4 * (size_t)n);
    if (!local || !total) MPI_Abort(comm, ISING_EXIT_RUNTIME); /* a few bytes per replica: cannot fail in practice */
  }
  for (int k = 0; k < n; k++) {
    ising_int128 x = v[k];
    for (int l = 0; l < 3; l++) {
      local[4 * k + l] = (int64_t)(x & 0xffffffff);
      x = (x - (x & 0xffffffff)) / ((ising_int128)1 << 32);
    }
    local[4 * k + 3] = (int64_t)x;
  }
  MPI_Allreduce(local, total, 4 * n, MPI_INT64_T, MPI_SUM, comm);
  for (int k = 0; k < n; k++) {
    ising_int128 x = total[4 * k + 3];
    for (int l = 2; l >= 0; l--) x = x * ((ising_int128)1 << 32) + total[4 * k + l];
    v[k] = x;
  }
  if (local != small_local) {
    free(local);
    free(total);
  }
}

ising_int128 ising_fixed128(double x)
{
  return (ising_int128)(x * 0x1p64);
}

double ising_unfixed128(ising_int128 x)
{
  return (double)x * 0x1p-64;
}

void ising_observables_measure(const ising_geometry *g, const ising_couplings *c, const int8_t *spins, double *energy,
                               double *magnetization)
{
  ising_observables_sums s = ising_observables_local(g, c, spins);
  ising_int128 v[2] = {s.energy, s.magnetization};
  ising_allreduce_int128(g->comm, v, 2);
  *energy = (double)v[0] / ISING_QUANTUM_SCALE / (double)g->nsites;
  *magnetization = (double)v[1] / (double)g->nsites;
}
