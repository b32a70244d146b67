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
 * stochastic lower bound.  Every chain is decomposed over all ranks; the
 * results are bit-identical on any number of ranks.
 *
 *   int ising_ais_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c, ising_io *io,
 *                     ising_freeenergy *fe)
 *       Collective.  Writes /free_energy/{lnZ_ais, lnZ_ais_err, lnZ_lower_ais, lnZ_lower_ais_err, ais_ess}
 *       and /ais/log_weights [chains, temperatures].  Returns 0 or ISING_EXIT_RUNTIME.
 */
#ifndef ISING_AIS_H
#define ISING_AIS_H

#include "ising/couplings.h"
#include "ising/freeenergy.h"
#include "ising/geometry.h"
#include "ising/io.h"
#include "ising/params.h"

int ising_ais_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c, ising_io *io,
                  ising_freeenergy *fe);

#endif
