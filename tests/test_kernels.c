/* test_kernels.c: every fast update kernel takes exactly the decisions of
 * the plain reference kernel (one Philox call and one exp per site).
 *
 * For each case and each instruction set this CPU has (scalar, AVX2,
 * AVX-512: rng.h), the production kernel and the reference kernel run 30
 * sweeps side by side from the same hot start; both spin arrays must be
 * bit-identical, both must report the same number of changes, energy
 * change and magnetisation change, and the energy and magnetisation changes
 * the production kernel accumulated must equal the differences of the
 * measured values exactly.  A third copy runs
 * ising_mc_sweep, which fuses both colours in one pass over the rows where
 * the decomposition allows (ising_sweep_fused: one rank along x), and must
 * end identical too.  Cases cover the
 * table kernel (uniform couplings, anisotropic and negative, uniform
 * fields), the ±J table kernel and the general kernel (Gaussian bonds,
 * random fields, ±J with random fields), Metropolis and heat bath, 1D to
 * 3D, open and periodic axes, odd sizes (partial vectors, uneven splits on
 * 1-4 ranks), rows longer than one batch of random words, large beta
 * (thresholds that underflow to 0) and small beta.  The general kernel is
 * also run with its exp band widened to 1/4, so that most decisions take
 * the deferred exact path. */
#include "ising/couplings.h"
#include "ising/geometry.h"
#include "ising/halo.h"
#include "ising/mc.h"
#include "ising/observables.h"
#include "ising/params.h"
#include "ising/sweep.h"

#include <math.h>
#include <petscsys.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, rank;

static const char *kernel_name(ising_kernel k)
{
  return k == ISING_KERNEL_TABLE ? "table" : k == ISING_KERNEL_TABLE_PM ? "table_pm" : "general";
}

/* Energy (units of 2^-32), magnetisation and unsatisfied bonds of this rank's block, site by site from the
 * definitions: the yardstick of ising_observables_local and ising_observables_unsatisfied. */
static void naive_sums(const ising_geometry *g, const ising_couplings *c, const int8_t *spins, ising_int128 *energy,
                       int64_t *mag, int64_t *unsat)
{
  *energy = 0;
  *mag = *unsat = 0;
  for (int ez = ising_geometry_lo(g, 2); ez < ising_geometry_lo(g, 2) + g->n[2]; ez++)
    for (int ey = ising_geometry_lo(g, 1); ey < ising_geometry_lo(g, 1) + g->n[1]; ey++)
      for (int ex = 1; ex <= g->n[0]; ex++) {
        size_t i = ising_geometry_index(g, ex, ey, ez);
        int s = spins[i];
        *mag += s;
        double h = c->uniform_field ? c->field : c->h[i];
        *energy -= (ising_int128)(int64_t)(h * 0x1p32) * s;
        for (int d = 0; d < g->dim; d++) {
          double j = c->uniform_bonds ? c->J[d] : c->Jp[d][i];
          int t = spins[(ptrdiff_t)i + g->stride[d]];
          *energy -= (ising_int128)(int64_t)(j * 0x1p32) * (s * t);
          *unsat += j * s * t < 0;
        }
      }
}

/* The observables on every instruction set this CPU has agree with naive_sums; 1 if so on this rank. */
static int observables_agree(const ising_geometry *g, const ising_couplings *c, const int8_t *spins)
{
  ising_int128 e;
  int64_t m, u;
  naive_sums(g, c, spins, &e, &m, &u);
  int ok = 1;
  for (int s = ISING_SIMD_SCALAR; s <= (int)ising_simd_supported(); s++) {
    setenv("ISING_SIMD", ising_simd_name((ising_simd)s), 1);
    ising_observables_sums o = ising_observables_local(g, c, spins);
    ok &= o.energy == e && o.magnetization == m && ising_observables_unsatisfied(g, c, spins) == u;
  }
  unsetenv("ISING_SIMD");
  return ok;
}

/* 30 sweeps of the production kernel (simd, band) beside the reference; 1 if identical on every rank. */
static int compare(const ising_params *p, const ising_geometry *g, const ising_couplings *c, ising_simd simd,
                   double band, int force_ties, ising_kernel *kernel, int64_t *flips, int *fused)
{
  int8_t *a = malloc(g->nextended), *b = malloc(g->nextended), *f = malloc(g->nextended);
  ising_halo halo;
  ising_halo_create(g, MPI_INT8_T, &halo);
  ising_sweeper k;
  /* -task quench cases run at -quench_beta, which may be inf (zero temperature) */
  double beta = p->tasks & ISING_TASK_QUENCH ? p->quench_beta : p->beta[0];
  ising_sweeper_init(&k, g, c, p->algorithm, beta, p->seed, 0);
  k.simd = simd;
  if (band > 0) k.band = band;
  k.force_ties = force_ties;
  *kernel = k.kernel;
  ising_spins_init(g, p->seed, ISING_STREAM_INIT, 0, p->hot_start, a);
  ising_halo_exchange(&halo, a);
  memcpy(b, a, g->nextended);
  memcpy(f, a, g->nextended);
  *fused = ising_sweep_fused_ok(&k);
  ising_sweep_stats sa = {0, 0, 0}, sb = {0, 0, 0}, sf = {0, 0, 0};
  int observables_ok = observables_agree(g, c, a);
  const ising_observables_sums before = ising_observables_local(g, c, a);
  ising_int128 e[5] = {before.energy, 0, 0, before.magnetization, 0};
  for (uint64_t s = 0; s < 30; s++)
    for (int colour = 0; colour < 2; colour++) {
      ising_sweep_colour(&k, a, colour, s, &sa);
      ising_sweep_colour_reference(&k, b, colour, s, &sb);
      ising_halo_exchange(&halo, a);
      ising_halo_exchange(&halo, b);
      if (colour) ising_mc_sweep(&k, &halo, f, s, &sf);
    }
  /* The energy and magnetisation changes accumulated by the kernel equal the measured ones, exactly (energy in
   * units of 2^-32). */
  const ising_observables_sums after = ising_observables_local(g, c, a);
  e[1] = after.energy;
  observables_ok &= observables_agree(g, c, a);
  e[2] = sa.denergy;
  e[3] = after.magnetization - e[3];
  e[4] = sa.dmag;
  ising_allreduce_int128(g->comm, e, 5);
  int same = memcmp(a, b, g->nextended) == 0 && sa.changed == sb.changed && sa.denergy == sb.denergy &&
             e[1] - e[0] == e[2] && e[3] == e[4] && sa.dmag == sb.dmag && memcmp(f, b, g->nextended) == 0 &&
             sf.changed == sb.changed && sf.denergy == sb.denergy && sf.dmag == sb.dmag && observables_ok,
      all;
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  *flips = sa.changed;
  free(a);
  free(b);
  free(f);
  ising_halo_free(&halo);
  return all;
}

static void check_case(const char *const *opts, ising_kernel expect)
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
  for (int s = ISING_SIMD_SCALAR; s <= (int)ising_simd_supported(); s++)
    for (int wide = 0; wide < 2; wide++) {
      ising_kernel kernel;
      int64_t flips;
      int fused;
      int general = expect == ISING_KERNEL_GENERAL;
      int ok =
          compare(&p, &g, &c, (ising_simd)s, wide && general ? 0.25 : 0.0, wide && !general, &kernel, &flips, &fused);
      ok &= kernel == expect;
      if (rank == 0) {
        printf("%-7s %-6s %-8s %-5s%s", ok ? "ok" : "FAILED", ising_simd_name((ising_simd)s), kernel_name(kernel),
               fused ? "fused" : "",
               !wide     ? ""
               : general ? " band 1/4"
                         : " all ties");
        for (int j = 0; opts[j]; j += 2) printf(" %s %s", opts[j], opts[j + 1]);
        printf(" (%lld flips on rank 0)\n", (long long)flips);
      }
      failures += !ok;
    }
  ising_couplings_free(&c);
  ising_geometry_free(&g);
  ising_params_free(&p);
}

/* splitmix64: the random cases' generator (the same sequence on every rank). */
static uint64_t next_random(uint64_t *x)
{
  uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* An integer in [lo, hi]. */
static int uniform_int(uint64_t *x, int lo, int hi)
{
  return lo + (int)(next_random(x) % (uint64_t)(hi - lo + 1));
}

/* A real in [lo, hi), rounded to 4 decimals so that the printed option reproduces it. */
static double uniform_real(uint64_t *x, double lo, double hi)
{
  return round((lo + (hi - lo) * (double)(next_random(x) >> 11) * 0x1p-53) * 1e4) / 1e4;
}

/* One random case (-random N): dimension, sizes (rows of 1 to 150 sites of a colour: short rows that share steps,
 * partial steps, several steps per row; 1D chains up to 3000 sites), boundary conditions, couplings (uniform,
 * anisotropic, negative, +-J, Gaussian), uniform and random fields, Metropolis or heat bath, temperatures from 0.01
 * to 200 and zero temperature, hot or cold starts, and on several ranks a process grid or uneven blocks (-balance
 * speeds).  Returns the kernel the case must run; the options go to opts (NULL-terminated), their text to buf. */
static ising_kernel random_case(uint64_t *x, int size, const char *opts[40], char buf[20][256])
{
  int n = 0, b = 0;
#define OPT(name, ...)                                                                                                 \
  do {                                                                                                                 \
    snprintf(buf[b], sizeof(buf[b]), __VA_ARGS__);                                                                     \
    opts[n++] = name;                                                                                                  \
    opts[n++] = buf[b++];                                                                                              \
  } while (0)
  /* a comma list of count entries, entry q the value (an expression in q, evaluated in order) */
#define LIST(name, fmt, count, value)                                                                                  \
  do {                                                                                                                 \
    int len_ = 0;                                                                                                      \
    for (int q = 0; q < (count); q++)                                                                                  \
      len_ += snprintf(buf[b] + len_, sizeof(buf[b]) - (size_t)len_, "%s" fmt, q ? "," : "", value);                   \
    opts[n++] = name;                                                                                                  \
    opts[n++] = buf[b++];                                                                                              \
  } while (0)
  const int dim = uniform_int(x, 0, 7) == 0 ? 1 : uniform_int(x, 0, 2) == 0 ? 2 : 3;
  int L[3] = {1, 1, 1}, periodic[3] = {0, 0, 0};
  for (int d = 0; d < dim; d++) {
    const int r = uniform_int(x, 0, 9);
    if (d == 0)
      L[d] = dim == 1 ? (r < 6 ? uniform_int(x, 2, 80) : uniform_int(x, 81, 3000))
             : r < 7  ? uniform_int(x, 2, dim == 2 ? 72 : 40)
                      : uniform_int(x, 40, dim == 2 ? 300 : 140);
    else
      L[d] = r < 8 ? uniform_int(x, 2, dim == 2 ? 24 : 14) : uniform_int(x, 15, dim == 2 ? 80 : 30);
    if (L[d] < size) L[d] = size; /* at least one site per rank along every axis, whatever the grid */
    periodic[d] = uniform_int(x, 0, 1);
    if (periodic[d] && L[d] % 2) L[d]++; /* periodic axes need an even length */
  }
  LIST("-lattice_size", "%d", dim, L[q]);
  LIST("-lattice_bc", "%s", dim, periodic[q] ? "periodic" : "open");
  const int couplings = uniform_int(x, 0, 2); /* uniform, pm, gaussian */
  const int field_sigma = uniform_int(x, 0, 3) == 0;
  if (couplings == 1) OPT("-couplings", "pm");
  if (couplings == 2) OPT("-couplings", "gaussian");
  if (couplings < 2 && uniform_int(x, 0, 1)) /* anisotropic (uniform: of either sign; pm: magnitudes) */
    LIST("-J", "%g", dim, couplings == 0 ? uniform_real(x, -1.5, 1.5) : uniform_real(x, 0.2, 1.5));
  if (couplings == 1) OPT("-pm_p", "%g", uniform_real(x, 0, 1));
  if (couplings == 2 && uniform_int(x, 0, 1)) {
    OPT("-gaussian_mean", "%g", uniform_real(x, -1, 1));
    OPT("-gaussian_sigma", "%g", uniform_real(x, 0, 2));
  }
  if (uniform_int(x, 0, 1)) OPT("-field", "%g", uniform_real(x, -0.5, 0.5));
  if (field_sigma) OPT("-field_sigma", "%g", uniform_real(x, 0.05, 1.5));
  if (uniform_int(x, 0, 1)) OPT("-algorithm", "heatbath");
  if (uniform_int(x, 0, 9) == 0) {
    OPT("-task", "quench");
    OPT("-quench_beta", "inf");
  } else if (uniform_int(x, 0, 9) == 0)
    OPT("-beta", "%g", uniform_real(x, 20, 200));
  else
    OPT("-beta", "%g", exp(uniform_real(x, log(0.01), log(3))));
  if (uniform_int(x, 0, 3) == 0) OPT("-start", "cold");
  OPT("-seed", "%d", uniform_int(x, 0, 1 << 30));
  OPT("-disorder_seed", "%d", uniform_int(x, 0, 1 << 30));
  if (size > 1 && uniform_int(x, 0, 2) == 0) { /* a random process grid: the ranks' prime factors on random axes */
    int grid[3] = {1, 1, 1}, rest = size;
    for (int f = 2; rest > 1; f++)
      while (rest % f == 0) {
        int d = uniform_int(x, 0, dim - 1);
        while (grid[d] * f > L[d]) d = (d + 1) % dim; /* some axis fits: L[d] >= size */
        grid[d] *= f;
        rest /= f;
      }
    LIST("-process_grid", "%d", dim, grid[q]);
  } else if (size > 1 && uniform_int(x, 0, 1)) /* uneven blocks */
    LIST("-balance", "%g", size, uniform_real(x, 0.3, 3));
  opts[n] = NULL;
#undef OPT
#undef LIST
  return couplings == 2 || field_sigma ? ISING_KERNEL_GENERAL
         : couplings == 1              ? ISING_KERNEL_TABLE_PM
                                       : ISING_KERNEL_TABLE;
}

int main(int argc, char **argv)
{
  PetscInitialize(&argc, &argv, NULL, NULL);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  /* -random N [-random_seed S]: N random cases instead of the fixed ones below (docs/reliability.md) */
  PetscInt nrandom = 0, random_seed = 1;
  PetscOptionsGetInt(NULL, NULL, "-random", &nrandom, NULL);
  PetscOptionsGetInt(NULL, NULL, "-random_seed", &random_seed, NULL);
  if (nrandom > 0) {
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    uint64_t x = (uint64_t)random_seed;
    for (PetscInt j = 0; j < nrandom; j++) {
      const char *opts[40];
      char buf[20][256];
      const ising_kernel expect = random_case(&x, size, opts, buf);
      check_case(opts, expect);
    }
    if (rank == 0) printf("%d failure(s) in %lld random cases\n", failures, (long long)nrandom);
    PetscFinalize();
    return failures != 0;
  }
  const ising_kernel T = ISING_KERNEL_TABLE, PM = ISING_KERNEL_TABLE_PM, G = ISING_KERNEL_GENERAL;
  const struct {
    ising_kernel kernel;
    const char *opts[20];
  } cases[] = {
      {T, {"-lattice_size", "7,5", "-lattice_bc", "open", "-J", "1,-0.7", "-field", "0.3", "-beta", "0.6", NULL}},
      {T,
       {"-lattice_size", "7,5", "-lattice_bc", "open", "-J", "1,-0.7", "-field", "0.3", "-beta", "0.6", "-algorithm",
        "heatbath", NULL}},
      {T,
       {"-lattice_size", "8,6,5", "-lattice_bc", "periodic,periodic,open", "-J", "0.5,1.25,-1", "-field", "-0.2",
        "-beta", "0.4", NULL}},
      {T,
       {"-lattice_size", "8,6,5", "-lattice_bc", "periodic,periodic,open", "-J", "0.5,1.25,-1", "-beta", "0.4",
        "-algorithm", "heatbath", NULL}},
      {T, {"-lattice_size", "9", "-lattice_bc", "open", "-field", "0.1", "-beta", "0.8", NULL}},
      {T, {"-lattice_size", "12", "-J", "-1", "-field", "0.5", "-beta", "1.5", "-algorithm", "heatbath", NULL}},
      {T, {"-lattice_size", "2,2,6", "-beta", "0.3", NULL}},
      /* rows of 67 and 2501 sites: partial vectors, two batches of random words per row */
      {T, {"-lattice_size", "67,9", "-lattice_bc", "open", "-beta", "0.44", NULL}},
      {T, {"-lattice_size", "2501", "-lattice_bc", "open", "-beta", "0.7", "-algorithm", "heatbath", NULL}},
      {T, {"-lattice_size", "37,35,3", "-lattice_bc", "open", "-beta", "0.2217", "-field", "0.05", NULL}},
      /* thresholds that underflow to 0 (beta dE > 745), and near-certain acceptance */
      {T, {"-lattice_size", "33,17", "-lattice_bc", "open,open", "-beta", "200", "-field", "0.01", NULL}},
      {T,
       {"-lattice_size", "33,17", "-lattice_bc", "open,open", "-beta", "200", "-algorithm", "heatbath", "-field",
        "0.01", NULL}},
      {T, {"-lattice_size", "19,18", "-beta", "0.01", "-lattice_bc", "open,periodic", NULL}},
      /* enough rows for the fused sweep's interior (and its ring of rows in 3D) */
      {T, {"-lattice_size", "16,12", "-beta", "0.44", NULL}},
      {T, {"-lattice_size", "17,11", "-lattice_bc", "open", "-beta", "0.5", "-algorithm", "heatbath", NULL}},
      {T, {"-lattice_size", "8,10,12", "-beta", "0.25", "-J", "1,0.8,1.2", "-field", "0.1", NULL}},
      {T, {"-lattice_size", "8,10,12", "-beta", "0.25", "-algorithm", "heatbath", NULL}},
      {T, {"-lattice_size", "7,9,11", "-lattice_bc", "open", "-beta", "0.3", NULL}},
      /* equal bonds on every axis (above) take the total neighbour sum as the index (ISING_LOOKUP_ISO); unequal
       * ones the per-axis sums: 2D, 3D with an open axis, rows short enough to share a step */
      {T, {"-lattice_size", "16,12", "-J", "1,0.6", "-beta", "0.5", NULL}},
      {T, {"-lattice_size", "7,9,11", "-lattice_bc", "open", "-J", "1,1,0.5", "-beta", "0.35", NULL}},
      {T, {"-lattice_size", "8,8,8", "-J", "0.7,1,1", "-beta", "0.3", "-algorithm", "heatbath", NULL}},
      /* cold starts at high temperature: nearly every flip has s_i k = 2 dim, so the byte tallies of the total sums
       * must be flushed within long rows (3D every 21 steps of 32 sites, 2D every 31) */
      {T, {"-lattice_size", "2048,4,2", "-start", "cold", "-beta", "0.01", NULL}},
      {T, {"-lattice_size", "2048,4", "-start", "cold", "-beta", "0.01", NULL}},
      {PM, {"-lattice_size", "2048,2,4", "-couplings", "pm", "-pm_p", "0", "-start", "cold", "-beta", "0.01", NULL}},
      /* and before a part-step that ends such a run (rows of 31 steps and 10 sites in 2D, 21 steps and 10 in 3D) */
      {T, {"-lattice_size", "2004,4", "-start", "cold", "-beta", "0.01", NULL}},
      {T, {"-lattice_size", "1364,2,2", "-start", "cold", "-beta", "0.01", NULL}},
      /* +-J */
      {PM, {"-lattice_size", "10,8,12", "-couplings", "pm", "-beta", "0.9", "-algorithm", "heatbath", NULL}},
      {PM, {"-lattice_size", "10,8,12", "-couplings", "pm", "-beta", "0.9", "-field", "0.3", NULL}},
      {PM, {"-lattice_size", "40,14", "-couplings", "pm", "-beta", "1.2", NULL}},
      {PM, {"-lattice_size", "7,5", "-lattice_bc", "open", "-couplings", "pm", "-J", "1,0.7", "-beta", "0.9", NULL}},
      {PM,
       {"-lattice_size", "67,9", "-lattice_bc", "open", "-couplings", "pm", "-pm_p", "0.3", "-field", "0.25", "-beta",
        "0.6", "-algorithm", "heatbath", NULL}},
      {PM,
       {"-lattice_size", "8,5,6", "-lattice_bc", "periodic,open,periodic", "-couplings", "pm", "-J", "0.5,1.25,1",
        "-beta", "0.7", NULL}},
      {PM,
       {"-lattice_size", "9,7,11", "-lattice_bc", "open", "-couplings", "pm", "-beta", "1.1", "-algorithm", "heatbath",
        "-field", "-0.1", NULL}},
      {PM, {"-lattice_size", "2501", "-lattice_bc", "open", "-couplings", "pm", "-beta", "0.5", NULL}},
      {PM, {"-lattice_size", "34,16", "-couplings", "pm", "-beta", "300", NULL}},
      /* 1D chains whose colours are whole vector steps (32 sites: table kernels, 8: general): the last step's
       * right neighbours end at the last byte of the array, and a load of one byte more leaves it (AddressSanitizer
       * reports it; the sanitizer CI runs this test) */
      {T, {"-lattice_size", "64", "-beta", "0.5", NULL}},
      {T, {"-lattice_size", "128", "-lattice_bc", "open", "-beta", "0.5", "-algorithm", "heatbath", NULL}},
      {PM, {"-lattice_size", "64", "-couplings", "pm", "-beta", "0.9", "-algorithm", "heatbath", NULL}},
      {G, {"-lattice_size", "64", "-couplings", "gaussian", "-beta", "0.7", "-algorithm", "heatbath", NULL}},
      {G, {"-lattice_size", "32", "-field_sigma", "1", "-beta", "0.7", NULL}},
      /* Gaussian bonds, random fields */
      {G, {"-lattice_size", "6,8,10", "-couplings", "gaussian", "-beta", "0.7", NULL}},
      /* rows of 9 sites of a colour: a whole step of 8, and a tail of one that shares a step with the next row's */
      {G, {"-lattice_size", "18,6,4", "-couplings", "gaussian", "-beta", "0.7", NULL}},
      /* rows of 2 sites of a colour, two to a step, on 2^16 sites: real ties (lo drawn) in the second row too */
      {G, {"-lattice_size", "4,128,128", "-couplings", "gaussian", "-beta", "0.7", NULL}},
      {G, {"-lattice_size", "12,14", "-field_sigma", "1", "-beta", "0.7", "-algorithm", "heatbath", NULL}},
      {G, {"-lattice_size", "10,8", "-couplings", "gaussian", "-beta", "0.8", NULL}},
      {G,
       {"-lattice_size", "9,7", "-lattice_bc", "open", "-couplings", "gaussian", "-gaussian_mean", "0.3", "-beta",
        "0.8", "-algorithm", "heatbath", "-field", "0.2", NULL}},
      {G, {"-lattice_size", "5,6,7", "-lattice_bc", "open", "-couplings", "gaussian", "-beta", "1.3", NULL}},
      {G,
       {"-lattice_size", "8,5,6", "-lattice_bc", "periodic,open,periodic", "-couplings", "gaussian", "-beta", "0.4",
        "-algorithm", "heatbath", "-field_sigma", "0.7", NULL}},
      {G,
       {"-lattice_size", "67,9", "-lattice_bc", "open", "-field_sigma", "0.5", "-field", "0.1", "-beta", "0.6", NULL}},
      {G,
       {"-lattice_size", "2501", "-lattice_bc", "open", "-field_sigma", "1.5", "-beta", "0.9", "-algorithm", "heatbath",
        NULL}},
      {G,
       {"-lattice_size", "13,11", "-lattice_bc", "open", "-couplings", "pm", "-field_sigma", "0.3", "-beta", "0.7",
        NULL}},
      {G, {"-lattice_size", "13,11", "-lattice_bc", "open", "-couplings", "gaussian", "-beta", "60", NULL}},
      /* rows of at most 4 sites of a colour with uniform bonds and a random field: two rows per step of the
       * AVX-512 general kernel, as 6,8,10 and 8,5,6 above with Gaussian bonds */
      {G, {"-lattice_size", "8,6,4", "-field_sigma", "1", "-beta", "0.6", NULL}},
      {G,
       {"-lattice_size", "7,6,5", "-lattice_bc", "open", "-field_sigma", "0.8", "-field", "0.2", "-beta", "0.9",
        "-algorithm", "heatbath", NULL}},
      /* periodic rows of 32 sites or more: the AVX2 table kernel's vector loop with its byte-shuffle thresholds
       * (every one of the 2 3^dim entries distinct with anisotropic bonds and a field) */
      {T, {"-lattice_size", "34,6,8", "-beta", "0.25", "-J", "1,0.8,1.2", "-field", "0.1", NULL}},
      {PM, {"-lattice_size", "36,8,6", "-couplings", "pm", "-beta", "0.9", "-field", "0.3", NULL}},
      {T, {"-lattice_size", "40,12", "-beta", "0.5", "-J", "1,0.7", "-field", "-0.15", NULL}},
      {T, {"-lattice_size", "100", "-beta", "0.7", "-field", "0.2", NULL}},
      /* zero temperature (ties by a fair coin): table and general kernels, ties in both (sigma 0 makes every
       * Gaussian bond 1, through the general kernel) */
      {T, {"-task", "quench", "-quench_beta", "inf", "-lattice_size", "33,18", "-lattice_bc", "open,periodic", NULL}},
      {T, {"-task", "quench", "-quench_beta", "inf", "-lattice_size", "8,6,10", "-algorithm", "heatbath", NULL}},
      {PM, {"-task", "quench", "-quench_beta", "inf", "-lattice_size", "40,14", "-couplings", "pm", NULL}},
      {G,
       {"-task", "quench", "-quench_beta", "inf", "-lattice_size", "20,14", "-couplings", "gaussian", "-gaussian_mean",
        "1", "-gaussian_sigma", "0", NULL}},
      {G,
       {"-task", "quench", "-quench_beta", "inf", "-lattice_size", "9,10,7", "-lattice_bc", "open", "-couplings",
        "gaussian", "-gaussian_mean", "1", "-gaussian_sigma", "0", "-algorithm", "heatbath", NULL}},
      {G, {"-task", "quench", "-quench_beta", "inf", "-lattice_size", "12,14", "-field_sigma", "1", NULL}},
      {G,
       {"-lattice_size", "13,11", "-lattice_bc", "open", "-couplings", "gaussian", "-beta", "60", "-algorithm",
        "heatbath", NULL}},
      /* Enough updates for the decisions the 16-bit high half hi leaves open (probability 2^-16 per site, where
       * the low half lo is drawn): 30 sweeps of 2^16 sites are 30 such sites on average (the "all ties" runs
       * exercise that code path at every site, but only real ties tell whether lo is the right one). */
      {T, {"-lattice_size", "256,256", "-beta", "0.44", NULL}},
      /* The fused sweep's last batch of colour 1 is a whole plane of rows of 4 steps (152 steps): split between
       * kernel calls at BATCH_STEPS, where the "all ties" run fills the kernel's list of undecided steps. */
      {T, {"-lattice_size", "256,40,4", "-beta", "0.3", "-J", "1,0.8,1.2", NULL}},
      {T, {"-lattice_size", "40,40,42", "-beta", "0.2", "-algorithm", "heatbath", NULL}},
      {T, {"-lattice_size", "40,41,40", "-lattice_bc", "open", "-beta", "0.25", "-field", "0.1", NULL}},
      {PM, {"-lattice_size", "256,256", "-couplings", "pm", "-beta", "0.8", "-algorithm", "heatbath", NULL}},
      {G, {"-lattice_size", "256,256", "-couplings", "gaussian", "-beta", "0.8", NULL}},
      {G, {"-lattice_size", "256,256", "-field_sigma", "0.8", "-beta", "0.5", "-algorithm", "heatbath", NULL}},
  };
  for (size_t k = 0; k < sizeof(cases) / sizeof(*cases); k++) check_case(cases[k].opts, cases[k].kernel);
  if (rank == 0) printf("%d failure(s)\n", failures);
  PetscFinalize();
  return failures != 0;
}
