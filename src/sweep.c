/* sweep.c: checkerboard update kernels (sweep.h).  All local, no MPI.
 *   ising_sweeper_init, ising_sweep_colour, ising_sweep_colour_reference */
#include "ising/sweep.h"

#include "ising/rng.h"

#include <math.h>

static inline uint64_t threshold(double p)
{
  return p >= 1.0 ? UINT64_C(1) << 32 : (uint64_t)ceil(p * ISING_QUANTUM_SCALE);
}

/* beta may be +inf (zero temperature): then a flip that lowers the energy
 * is always made, one that raises it never, and a tie (beta * 0 = NaN) is
 * decided with probability 1/2, in both Metropolis and heat bath. */
static inline double metropolis_p(double beta, int s, double hloc)
{
  double x = beta * 2.0 * s * hloc;
  return isnan(x) ? 0.5 : exp(-x);
}

static inline double heatbath_p(double beta, double hloc)
{
  double x = 2.0 * beta * hloc;
  return isnan(x) ? 0.5 : 1.0 / (1.0 + exp(-x));
}

void ising_sweeper_init(ising_sweeper *k, const ising_geometry *g, const ising_couplings *c, ising_algorithm alg,
                        double beta, uint64_t seed, uint32_t stream)
{
  k->g = g;
  k->c = c;
  k->alg = alg;
  k->beta = beta;
  k->seed = seed;
  k->stream = stream;
  k->use_table = c->uniform_bonds && c->uniform_field;
  if (!k->use_table) return;
  for (int t = 0; t < ISING_TABLE_SIZE; t++) {
    /* t = sum_d (k_d + 2) 5^d with k_d = s_{-d} + s_{+d}; the sum below runs
     * over axes in the same order as the general kernel's, so h^loc is the
     * same double. */
    double hloc = 0.0;
    int rest = t;
    for (int d = 0; d < g->dim; d++) {
      hloc += c->J[d] * (double)(rest % 5 - 2);
      rest /= 5;
    }
    hloc += c->field;
    for (int up = 0; up < 2; up++) k->flip_energy[up][t] = (int64_t)((up ? 2.0 : -2.0) * hloc * ISING_QUANTUM_SCALE);
    for (int up = 0; up < 2; up++)
      k->table[up][t] = alg == ISING_ALGORITHM_HEATBATH ? threshold(heatbath_p(beta, hloc))
                                                        : threshold(metropolis_p(beta, up ? 1 : -1, hloc));
  }
}

/* Global site number of the first interior site of an extended row. */
static inline uint64_t row_global(const ising_geometry *g, int ey, int ez)
{
  uint64_t gy = g->dim > 1 ? (uint64_t)(g->offset[1] + ey - 1) : 0;
  uint64_t gz = g->dim > 2 ? (uint64_t)(g->offset[2] + ez - 1) : 0;
  return (uint64_t)g->offset[0] + (uint64_t)g->L[0] * (gy + (uint64_t)g->L[1] * gz);
}

static inline int8_t update(const ising_sweeper *k, int8_t s, double hloc, uint32_t r)
{
  if (k->alg == ISING_ALGORITHM_HEATBATH) return r < threshold(heatbath_p(k->beta, hloc)) ? 1 : -1;
  return r < threshold(metropolis_p(k->beta, s, hloc)) ? (int8_t)-s : s;
}

static inline double local_field(const ising_sweeper *k, const int8_t *spins, size_t i)
{
  const ising_geometry *g = k->g;
  const ising_couplings *c = k->c;
  double hloc = 0.0;
  for (int d = 0; d < g->dim; d++) {
    ptrdiff_t st = g->stride[d];
    if (c->uniform_bonds)
      hloc += c->J[d] * (double)(spins[i - st] + spins[i + st]);
    else
      hloc += c->Jp[d][i - st] * spins[i - st] + c->Jp[d][i] * spins[i + st];
  }
  return hloc + (c->uniform_field ? c->field : c->h[i]);
}

void ising_sweep_colour_reference(const ising_sweeper *k, int8_t *spins, int colour, uint64_t step,
                                  ising_sweep_stats *acc)
{
  const ising_geometry *g = k->g;
  int64_t changed = 0;
  ising_int128 denergy = 0;
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
      uint64_t base = row_global(g, ey, ez);
      size_t row = ising_geometry_index(g, 0, ey, ez);
      for (int ex = ising_geometry_row_start(g, ey, ez, colour); ex <= g->n[0]; ex += 2) {
        size_t i = row + (size_t)ex;
        uint32_t r = ising_rng_site(k->seed, k->stream, step, base + (uint64_t)(ex - 1));
        double hloc = local_field(k, spins, i);
        int8_t s = spins[i], t = update(k, s, hloc, r);
        if (s != t) {
          changed++;
          denergy += (int64_t)(2.0 * s * hloc * ISING_QUANTUM_SCALE);
        }
        spins[i] = t;
      }
    }
  acc->changed += changed;
  acc->denergy += denergy;
}

void ising_sweep_colour(const ising_sweeper *k, int8_t *spins, int colour, uint64_t step, ising_sweep_stats *acc)
{
  if (!k->use_table) {
    ising_sweep_colour_reference(k, spins, colour, step, acc);
    return;
  }
  const ising_geometry *g = k->g;
  const int heatbath = k->alg == ISING_ALGORITHM_HEATBATH, dim = g->dim;
  const ptrdiff_t sy = g->stride[1], sz = g->stride[2];
  int64_t changed = 0;
  ising_int128 denergy = 0;
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
      uint64_t base = row_global(g, ey, ez), block = UINT64_MAX;
      uint32_t w[4];
      int8_t *row = spins + ising_geometry_index(g, 0, ey, ez);
      for (int ex = ising_geometry_row_start(g, ey, ez, colour); ex <= g->n[0]; ex += 2) {
        int8_t *p = row + ex;
        int t = p[-1] + p[1] + 2;
        if (dim > 1) t += 5 * (p[-sy] + p[sy] + 2);
        if (dim > 2) t += 25 * (p[-sz] + p[sz] + 2);
        uint64_t site = base + (uint64_t)(ex - 1);
        if (site >> 2 != block) { /* same-colour neighbours in a row often share a block */
          block = site >> 2;
          ising_rng4(k->seed, k->stream, step, block, w);
        }
        uint32_t r = w[site & 3];
        int8_t s = *p, n;
        if (heatbath)
          n = r < k->table[0][t] ? 1 : -1;
        else
          n = r < k->table[s > 0][t] ? (int8_t)-s : s;
        if (s != n) {
          changed++;
          denergy += k->flip_energy[s > 0][t];
        }
        *p = n;
      }
    }
  acc->changed += changed;
  acc->denergy += denergy;
}
