/* test_error_bars.c: the binning error bar agrees with the spread of
 * independent runs.  R = 128 independent Metropolis runs (dynamics seeds
 * 1..R) of the 8x8 periodic ferromagnet at beta = 0.4, each 500
 * thermalisation + 4000 measured sweeps.  For e, |m| (binned errors) and the
 * specific heat (jackknife error) the mean reported error must equal the
 * standard deviation of the R estimates within 4 sigma of the ratio, where
 * sigma = 1/sqrt(2(R-1)) (the relative error of a standard deviation from R
 * values, the larger contribution) plus the finite-bin bias allowance 0.05
 * of stats.h: |ratio - 1| < 4/sqrt(254) + 0.05 = 0.30.  The estimates are
 * also checked against Kaufman's exact energy and specific heat for 8x8:
 * the mean over runs within 4 standard errors. */
#include "ising/couplings.h"
#include "ising/exact.h"
#include "ising/geometry.h"
#include "ising/halo.h"
#include "ising/mc.h"
#include "ising/observables.h"
#include "ising/params.h"
#include "ising/stats.h"

#include <math.h>
#include <petscsys.h>
#include <stdio.h>
#include <stdlib.h>

#define RUNS 128

static int compare(const char *name, const double *v, const double *err, double exact)
{
  double mean = 0, var = 0, merr = 0;
  for (int r = 0; r < RUNS; r++) mean += v[r] / RUNS;
  for (int r = 0; r < RUNS; r++) {
    var += (v[r] - mean) * (v[r] - mean) / (RUNS - 1);
    merr += err[r] / RUNS;
  }
  double sd = sqrt(var), ratio = merr / sd, tol = 4 / sqrt(2.0 * (RUNS - 1)) + 0.05;
  double se = sd / sqrt(RUNS), dev = (mean - exact) / se;
  int ok = fabs(ratio - 1) < tol && (isnan(exact) || fabs(dev) < 4);
  printf("%-15s mean error bar %.3e, spread of runs %.3e, ratio %.3f (tolerance 1 +- %.3f)", name, merr, sd, ratio,
         tol);
  if (!isnan(exact)) printf("; mean %.6f vs exact %.6f: %+.2f se", mean, exact, dev);
  printf("  %s\n", ok ? "ok" : "FAILED");
  return !ok;
}

int main(int argc, char **argv)
{
  PetscInitialize(&argc, &argv, NULL, NULL);
  PetscOptionsSetValue(NULL, "-lattice_size", "8,8");
  PetscOptionsSetValue(NULL, "-beta", "0.4");
  ising_params p;
  ising_geometry g;
  ising_couplings c;
  if (ising_params_load(MPI_COMM_WORLD, 1, &p) || ising_geometry_create(MPI_COMM_WORLD, &p, &g) ||
      ising_couplings_create(&p, &g, &c))
    return 1;
  const int therm = 500, sweeps = 4000;
  double *e = malloc(sizeof(double) * (size_t)sweeps), *m = malloc(sizeof(double) * (size_t)sweeps);
  double ev[RUNS], ee[RUNS], mv[RUNS], me[RUNS], cv[RUNS], ce[RUNS];
  ising_halo halo;
  ising_halo_create(&g, MPI_INT8_T, &halo);
  int8_t *spins = malloc(g.nextended);
  for (int r = 0; r < RUNS; r++) {
    ising_sweeper k;
    p.seed = (uint64_t)r + 1;
    ising_sweeper_init(&k, &g, &c, ISING_ALGORITHM_METROPOLIS, p.beta[0], p.seed, 0);
    ising_spins_init(&g, p.seed, ISING_STREAM_INIT, 0, p.hot_start, spins);
    ising_halo_exchange(&halo, spins);
    ising_sweep_stats changed = {0, 0, 0};
    uint64_t step = 0;
    for (int s = 0; s < therm; s++) ising_mc_sweep(&k, &halo, spins, step++, &changed);
    for (int s = 0; s < sweeps; s++) {
      ising_mc_sweep(&k, &halo, spins, step++, &changed);
      ising_observables_measure(&g, &c, spins, &e[s], &m[s]);
    }
    ising_estimates est;
    ising_estimates_compute(e, m, sweeps, p.beta[0], (double)p.nsites, &est);
    ev[r] = est.energy;
    ee[r] = est.energy_err;
    mv[r] = est.abs_magnetization;
    me[r] = est.abs_magnetization_err;
    cv[r] = est.specific_heat;
    ce[r] = est.specific_heat_err;
  }
  ising_exact_result ex;
  ising_exact_kaufman(8, 8, 1.0, 1.0, p.beta[0], &ex);
  int fail = compare("energy", ev, ee, ex.energy);
  fail |= compare("|m|", mv, me, NAN);
  /* The specific heat estimator is biased by O(tau/n) (it uses the sample
   * variance), so only its error bar is compared with the spread here. */
  fail |= compare("specific heat", cv, ce, NAN);
  printf("%s\n", fail ? "FAILED" : "passed");
  free(spins);
  free(e);
  free(m);
  ising_halo_free(&halo);
  ising_couplings_free(&c);
  ising_geometry_free(&g);
  ising_params_free(&p);
  PetscFinalize();
  return fail;
}
