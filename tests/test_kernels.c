/* test_kernels.c: the production (lookup-table) update kernel takes exactly
 * the decisions of the plain reference kernel (exp per site), Metropolis and
 * heat bath, for uniform anisotropic and negative couplings, uniform fields,
 * open and periodic boundaries, 1D to 3D, on 1-4 ranks: after 30 sweeps
 * from the same hot start both spin arrays are bit-identical, both report
 * the same changes and energy change, and the energy change they
 * accumulated equals the difference of the measured energies exactly. */
#include "ising/couplings.h"
#include "ising/geometry.h"
#include "ising/halo.h"
#include "ising/mc.h"
#include "ising/observables.h"
#include "ising/params.h"
#include "ising/sweep.h"

#include <petscsys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, rank;

static void check_case(const char *const *opts)
{
  PetscOptionsClear(NULL);
  for (int k = 0; opts[k]; k += 2) PetscOptionsSetValue(NULL, opts[k], opts[k + 1]);
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ising_params p;
  ising_geometry g;
  ising_couplings c;
  if (ising_params_load(MPI_COMM_WORLD, size, &p) || ising_geometry_create(MPI_COMM_WORLD, &p, &g) ||
      ising_couplings_create(&p, &g, &c)) {
    failures++;
    return;
  }
  int8_t *a = malloc(g.nextended), *b = malloc(g.nextended);
  ising_halo halo;
  ising_halo_create(&g, MPI_INT8_T, &halo);
  ising_sweeper k;
  ising_sweeper_init(&k, &g, &c, p.algorithm, p.beta[0], p.seed, 0);
  ising_spins_init(&g, p.seed, ISING_STREAM_INIT, 0, p.hot_start, a);
  ising_halo_exchange(&halo, a);
  memcpy(b, a, g.nextended);
  ising_sweep_stats sa = {0, 0}, sb = {0, 0};
  double e0, e1, m;
  ising_observables_measure(&g, &c, a, &e0, &m);
  for (uint64_t s = 0; s < 30; s++)
    for (int colour = 0; colour < 2; colour++) {
      ising_sweep_colour(&k, a, colour, s, &sa);
      ising_sweep_colour_reference(&k, b, colour, s, &sb);
      ising_halo_exchange(&halo, a);
      ising_halo_exchange(&halo, b);
    }
  ising_observables_measure(&g, &c, a, &e1, &m);
  /* The energy change accumulated by the kernels equals the measured one. */
  ising_int128 v[1] = {sa.denergy};
  ising_allreduce_int128(g.comm, v, 1);
  double tracked = e0 + (double)v[0] / ISING_QUANTUM_SCALE / (double)g.nsites;
  int same = k.use_table && memcmp(a, b, g.nextended) == 0 && sa.changed == sb.changed && sa.denergy == sb.denergy &&
             tracked == e1,
      all;
  int64_t ca = sa.changed;
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  if (rank == 0) {
    printf("%-9s", all ? "ok" : "FAILED");
    for (int j = 0; opts[j]; j += 2) printf(" %s %s", opts[j], opts[j + 1]);
    printf(" (%lld flips)\n", (long long)ca);
  }
  failures += !all;
  free(a);
  free(b);
  ising_halo_free(&halo);
  ising_couplings_free(&c);
  ising_geometry_free(&g);
  ising_params_free(&p);
}

int main(int argc, char **argv)
{
  PetscInitialize(&argc, &argv, NULL, NULL);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const char *const cases[][16] = {
      {"-lattice_size", "7,5", "-lattice_bc", "open", "-J", "1,-0.7", "-field", "0.3", "-beta", "0.6", NULL},
      {"-lattice_size", "7,5", "-lattice_bc", "open", "-J", "1,-0.7", "-field", "0.3", "-beta", "0.6", "-algorithm",
       "heatbath", NULL},
      {"-lattice_size", "8,6,5", "-lattice_bc", "periodic,periodic,open", "-J", "0.5,1.25,-1", "-field", "-0.2",
       "-beta", "0.4", NULL},
      {"-lattice_size", "8,6,5", "-lattice_bc", "periodic,periodic,open", "-J", "0.5,1.25,-1", "-beta", "0.4",
       "-algorithm", "heatbath", NULL},
      {"-lattice_size", "9", "-lattice_bc", "open", "-field", "0.1", "-beta", "0.8", NULL},
      {"-lattice_size", "12", "-J", "-1", "-field", "0.5", "-beta", "1.5", "-algorithm", "heatbath", NULL},
      {"-lattice_size", "2,2,6", "-beta", "0.3", NULL},
  };
  for (size_t k = 0; k < sizeof(cases) / sizeof(*cases); k++) check_case(cases[k]);
  if (rank == 0) printf("%d failure(s)\n", failures);
  PetscFinalize();
  return failures != 0;
}
