/* ais.h: annealed importance sampling of ln Z, -task freeenergy.
 *
 * Each of -ais_chains chains starts from an exact sample of beta = 0 (a
 * uniformly random state keyed by (seed, ISING_STREAM_AIS_INIT, chain,
 * site)) and is carried through a schedule of inverse temperatures: the
 * -ais_steps points beta_max t / steps (t = 1 .. steps) merged with every
 * temperature of the run.  At each point its log weight gains
 * -(beta_t - beta_{t-1}) H(x_{t-1}) (H exact, tracked from the sweeps), then
 * -ais_sweeps_per_step sweeps at beta_t (keyed by (seed, ISING_STREAM_AIS,
 * (chain << 32) | sweep)) move it on.  At a run temperature beta_k the
 * weights w_m estimate Z(beta_k) / Z(0) without bias:
 *     lnZ_ais = N ln 2 + ln mean_m exp(w_m),
 * with the delta-method error sd(exp w) / (sqrt(M) mean(exp w)) and the
 * effective sample size (sum exp w)^2 / sum exp 2w; by Jensen,
 * E[N ln 2 + w_m] <= ln Z, so N ln 2 + mean(w) (error sd(w)/sqrt(M)) is a
 * stochastic lower bound.  The ranks form groups of -ais_ranks_per_chain
 * (p->ais_ranks_per_chain), each with its own lattice (geometry, couplings,
 * halo) decomposed over its ranks, and group i runs chains i, i + groups,
 * ...; the weights are gathered on every rank before the estimates.  A chain
 * depends only on its number and the global site keys, so the results are
 * bit-identical on any number of ranks and any grouping (from mean field: q
 * is solved on the run's lattice over all ranks, as -task meanfield solves
 * it, and copied to each group's lattice).
 *
 * -ais_start meanfield: each temperature beta_k > 0 gets its own chains,
 * started from the mean-field distribution q(s) = prod_i (1 + m_i s_i) / 2
 * of that temperature (ising_meanfield_solve; m_i clamped to
 * |m_i| <= 1 - 2^-26 so that q > 0 everywhere) and annealed along
 *     pi_g(s) ~ q(s)^(1-g) exp(-g beta_k H(s)),  g = t / steps, t = 0 .. steps,
 * an Ising model at beta_k with bonds g J_ij and fields
 * g h_i + (1-g) atanh(m_i) / beta_k (quantised as every coupling is, which
 * shifts pi_g by at most 2^-33 per field).  Starts: s_i = +1 with
 * probability (1 + m_i)/2, keyed by (seed, ISING_STREAM_AIS_MF_INIT,
 * (k << 32) | chain, site); sweeps by (seed, ISING_STREAM_AIS_MF,
 * (k << 48) | (chain << 32) | sweep).  The log weight gains
 * (g_t - g_{t-1}) (-beta_k H(x) - ln q(x)) at each point, with
 * ln q a fixed-point sum; Z_0 = 1, so lnZ_ais = ln mean exp(w) and the
 * lower bound is mean(w).  Close to the mean-field solution (high or low
 * temperature, strong fields) the start is already close to p and the
 * weights vary little.
 *
 *   int ising_ais_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c,
 *                     ising_meanfield *mf, ising_io *io, ising_freeenergy *fe)
 *       Collective.  Writes /free_energy/{lnZ_ais, lnZ_ais_err, lnZ_lower_ais, lnZ_lower_ais_err, ais_ess}
 *       and /ais/log_weights [chains, temperatures].  Returns 0 or ISING_EXIT_RUNTIME.
 *   ising_int128 ising_ais_masked_sum(ising_simd simd, const ising_geometry *g, const int64_t *dh,
 *                                     const uint64_t *dl, const int8_t *spins)
 *       Local.  The sum over this rank's interior sites i with spins > 0 of d_i = dh[i] 2^64 + dl[i] (sites
 *       numbered in row order, x fastest; |d_i| < 2^69), exactly as 128-bit additions would give it, in
 *       vector lanes where simd allows: the ln q(s) of every step of a chain from mean field.
 */
#ifndef ISING_AIS_H
#define ISING_AIS_H

#include "ising/couplings.h"
#include "ising/freeenergy.h"
#include "ising/geometry.h"
#include "ising/io.h"
#include "ising/meanfield.h"
#include "ising/params.h"
#include "ising/rng.h"

#include <stdint.h>

int ising_ais_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c, ising_meanfield *mf,
                  ising_io *io, ising_freeenergy *fe);
ising_int128 ising_ais_masked_sum(ising_simd simd, const ising_geometry *g, const int64_t *dh, const uint64_t *dl,
                                  const int8_t *spins);

#endif
