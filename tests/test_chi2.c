/* test_chi2.c: the update kernels sample the Boltzmann distribution.
 * A 3-spin open chain with Gaussian couplings and a random field: 40000
 * independent chains (dynamics seed = chain number), each thermalised for
 * 200 sweeps from its own hot start, contribute one state each.  The
 * histogram of the 8 states is compared with the exact Boltzmann weights
 * from enumeration by a chi-square test with 7 degrees of freedom; the test
 * fails if chi2 > 24.32 (p = 0.001).  Samples are independent by
 * construction, so the chi-square distribution applies exactly.  Done for
 * Metropolis and heat bath, at beta = 0.5. */
#include "ising/couplings.h"
#include "ising/exact.h"
#include "ising/geometry.h"
#include "ising/halo.h"
#include "ising/mc.h"
#include "ising/params.h"
#include "ising/rng.h"
#include "ising/sweep.h"

#include <math.h>
#include <petscsys.h>
#include <stdio.h>

static int run(ising_algorithm alg)
{
  ising_params p;
  ising_geometry g;
  ising_couplings c;
  PetscOptionsClearValue(NULL, "-algorithm");
  PetscOptionsSetValue(NULL, "-algorithm", alg == ISING_ALGORITHM_HEATBATH ? "heatbath" : "metropolis");
  if (ising_params_load(MPI_COMM_WORLD, 1, &p) || ising_geometry_create(MPI_COMM_WORLD, &p, &g) ||
      ising_couplings_create(&p, &g, &c))
    return 1;

  /* Exact probabilities of the 8 states, state bits = (s_i + 1) / 2. */
  ising_bondlist b;
  ising_couplings_bondlist(&p, &b);
  double prob[8], z = 0;
  for (int st = 0; st < 8; st++) {
    double E = 0;
    for (int k = 0; k < b.nbonds; k++) E -= b.J[k] * (2 * ((st >> b.i[k]) & 1) - 1) * (2 * ((st >> b.j[k]) & 1) - 1);
    for (int s = 0; s < 3; s++) E -= b.h[s] * (2 * ((st >> s) & 1) - 1);
    z += prob[st] = exp(-p.beta[0] * E);
  }
  ising_exact_result ex;
  ising_exact_enumerate(&b, p.beta[0], &ex, NULL);
  printf("exact lnZ: direct %.15f, enumeration module %.15f\n", log(z), ex.lnZ);
  int fail = fabs(log(z) - ex.lnZ) > 1e-12;

  const int chains = 40000, therm = 200;
  long count[8] = {0};
  ising_halo halo;
  ising_halo_create(&g, MPI_INT8_T, &halo);
  int8_t spins[16];
  for (int chain = 0; chain < chains; chain++) {
    ising_sweeper k;
    p.seed = (uint64_t)chain;
    ising_sweeper_init(&k, &g, &c, alg, p.beta[0], p.seed, ISING_STREAM_DYNAMICS);
    ising_spins_init(&g, p.seed, ISING_STREAM_INIT, 0, p.hot_start, spins);
    ising_halo_exchange(&halo, spins);
    ising_sweep_stats changed = {0, 0, 0};
    for (int s = 0; s < therm; s++) ising_mc_sweep(&k, &halo, spins, (uint64_t)s, &changed);
    int st = 0;
    for (int s = 0; s < 3; s++) st |= (spins[1 + s] > 0) << s;
    count[st]++;
  }
  double chi2 = 0;
  for (int st = 0; st < 8; st++) {
    double expect = chains * prob[st] / z;
    chi2 += ((double)count[st] - expect) * ((double)count[st] - expect) / expect;
    printf("  state %d: observed %6ld expected %9.1f\n", st, count[st], expect);
    fail |= expect < 5;
  }
  printf("%s: chi2 = %.2f with 7 degrees of freedom (fails above 24.32, p = 0.001)\n", ising_algorithm_name(alg), chi2);
  fail |= !(chi2 <= 24.32);
  ising_halo_free(&halo);
  ising_bondlist_free(&b);
  ising_couplings_free(&c);
  ising_geometry_free(&g);
  ising_params_free(&p);
  return fail;
}

int main(int argc, char **argv)
{
  PetscInitialize(&argc, &argv, NULL, NULL);
  PetscOptionsSetValue(NULL, "-lattice_size", "3");
  PetscOptionsSetValue(NULL, "-lattice_bc", "open");
  PetscOptionsSetValue(NULL, "-couplings", "gaussian");
  PetscOptionsSetValue(NULL, "-gaussian_sigma", "1.2");
  PetscOptionsSetValue(NULL, "-field_sigma", "0.8");
  PetscOptionsSetValue(NULL, "-disorder_seed", "2024");
  PetscOptionsSetValue(NULL, "-beta", "0.5");
  int fail = run(ISING_ALGORITHM_METROPOLIS);
  fail |= run(ISING_ALGORITHM_HEATBATH);
  printf("%s\n", fail ? "FAILED" : "passed");
  PetscFinalize();
  return fail;
}
