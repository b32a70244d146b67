/* test_trw.c: the tree-reweighted upper bound (trw.h) against exact
 * answers, on 1-4 ranks.  Every comparison is deterministic (no sampling):
 * the tolerances are rounding allowances.
 *
 * 1. Tree sums: on enumerable lattices (N <= 16: 4x4 periodic and open,
 *    2x2x4, 2x2x3 open, rings) the distributed bound equals
 *    sum_T rho_T lnZ(theta_T), each tree's lnZ by exact enumeration of the
 *    tree as a bond list (ising_trw_tree_model), to 1e-12 relative, for
 *    uniform and non-uniform axis weights.  This checks the message passing
 *    tree by tree, independently of the pipeline.
 * 2. Rank independence: the bound on the run's ranks is bit-identical to the
 *    bound on one rank (MPI_COMM_SELF) for every instance.
 * 3. Sandwich on random enumerable instances (120 on 1 rank, a quarter of
 *    them on more ranks): 4x4 periodic, 4x5 open, 2x2x4, 2x3x3 open, 4x4
 *    open, rings of 12 and 16, and 5x5 open or 2x3x4 open; uniform, +-J
 *    and Gaussian couplings; uniform and random fields; beta in [0.05, 2]:
 *    ELBO (damped mean-field sweeps) <= lnZ (enumeration) <= TRW, each to
 *    1e-12 relative, and TRW < trivial ceiling on every uniform-coupling
 *    instance.
 * 4. Trees only: on open chains (20 sites by enumeration with Gaussian bonds
 *    and random fields; 1000 sites by the transfer matrix) TRW = lnZ to
 *    1e-12 relative.
 * 5. Large: 256^2 periodic at beta = 1 (lnZ ~ 1.3e5): the bound is finite
 *    and lies between Kaufman's exact lnZ and the trivial ceiling; the same
 *    for 64^2 at Tc and above. */
#include "ising/bondlist.h"
#include "ising/couplings.h"
#include "ising/exact.h"
#include "ising/geometry.h"
#include "ising/halo.h"
#include "ising/meanfield.h"
#include "ising/params.h"
#include "ising/trw.h"

#include <math.h>
#include <petscsys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, rank, size;

static void check(int ok, const char *what)
{
  int all;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  if (rank == 0) printf("%-110s %s\n", what, all ? "ok" : "FAILED");
  failures += !all;
}

static int setup(MPI_Comm comm, const char *const *opts, ising_params *p, ising_geometry *g, ising_couplings *c)
{
  PetscOptionsClear(NULL);
  for (int k = 0; opts[k]; k += 2) PetscOptionsSetValue(NULL, opts[k], opts[k + 1]);
  int n;
  MPI_Comm_size(comm, &n);
  if (ising_params_load(comm, n, p)) return 1;
  if (ising_geometry_create(comm, p, g)) return 1;
  return ising_couplings_create(p, g, c);
}

static void teardown(ising_params *p, ising_geometry *g, ising_couplings *c)
{
  ising_couplings_free(c);
  ising_geometry_free(g);
  ising_params_free(p);
}

/* The bound of the same model computed by rank 0 alone (every rank gets it). */
static double single_rank(const char *const *opts, double beta, const double *w)
{
  double v = NAN;
  if (rank == 0) {
    ising_params p;
    ising_geometry g;
    ising_couplings c;
    if (!setup(MPI_COMM_SELF, opts, &p, &g, &c)) ising_trw_evaluate(&p, &g, &c, beta, w, &v);
    teardown(&p, &g, &c);
  }
  MPI_Bcast(&v, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  return v;
}

/* lnZ by enumeration on rank 0, sent to all. */
static double enumerate(const ising_bondlist *b, double beta)
{
  double v = NAN;
  if (rank == 0) {
    ising_exact_result r;
    if (!ising_exact_enumerate(b, beta, &r, NULL)) v = r.lnZ;
  }
  MPI_Bcast(&v, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  return v;
}

/* sum_T rho_T lnZ(theta_T), each tree enumerated. */
static double tree_sum(const ising_params *p, double beta, const double *w)
{
  double sum = 0.0;
  for (int k = 0; k < 2 * p->dim; k++) {
    ising_bondlist t;
    double rho;
    if (ising_trw_tree_model(p, beta, w, k, &t, &rho)) return NAN;
    sum += rho * enumerate(&t, 1.0);
    ising_bondlist_free(&t);
  }
  return sum;
}

static void tree_cases(void)
{
  static const char *const lattices[][2] = {{"4,4", "periodic"}, {"4,4", "open"},    {"2,2,4", "periodic"},
                                            {"2,2,3", "open"},   {"12", "periodic"}, {"4,2", "periodic,open"}};
  int n = 0, good = 0, same = 0;
  double worst = 0;
  for (int inst = 0; inst < 12; inst++) {
    const char *const *lat = lattices[inst % 6];
    const char *opts[] = {"-lattice_size",
                          lat[0],
                          "-lattice_bc",
                          lat[1],
                          "-couplings",
                          inst % 2 ? "gaussian" : "pm",
                          "-field_sigma",
                          "0.3",
                          "-disorder_seed",
                          inst % 2 ? "7" : "8",
                          NULL};
    ising_params p;
    ising_geometry g;
    ising_couplings c;
    if (setup(MPI_COMM_WORLD, opts, &p, &g, &c)) {
      check(0, "set-up of a tree instance");
      return;
    }
    const double beta = 0.3 + 0.1 * inst;
    const double w2[] = {0.3, 0.7}, w3[] = {0.5, 0.2, 0.3};
    const double *ws[2] = {NULL, p.dim == 2 ? w2 : p.dim == 3 ? w3 : NULL};
    for (int k = 0; k < 2; k++) {
      double v;
      ising_trw_evaluate(&p, &g, &c, beta, ws[k], &v);
      double ref = tree_sum(&p, beta, ws[k]), dev = fabs(v - ref) / fabs(ref);
      worst = fmax(worst, dev);
      good += dev < 1e-12;
      same += v == single_rank(opts, beta, ws[k]);
      n++;
    }
    teardown(&p, &g, &c);
  }
  char what[200];
  snprintf(what, sizeof(what),
           "TRW = sum_T rho_T lnZ(theta_T) (trees enumerated) on %d/%d cases, worst rel. dev %.1e (tol 1e-12)", good, n,
           worst);
  check(good == n, what);
  snprintf(what, sizeof(what), "TRW bit-identical to the one-rank value on %d/%d cases", same, n);
  check(same == n, what);
}

/* Damped mean-field sweeps from m = 0.5 (halo exchanged inside). */
static double elbo(const ising_geometry *g, const ising_couplings *c, double beta)
{
  double *m = calloc(g->nextended, sizeof(double)); /* 0 beyond open boundaries */
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++)
      for (int ex = 1; ex <= g->n[0]; ex++) m[ising_geometry_index(g, ex, ey, ez)] = 0.5;
  ising_halo halo;
  ising_halo_create(g, MPI_DOUBLE, &halo);
  ising_halo_exchange(&halo, m);
  for (int it = 0; it < 500; it++) {
    double change = 0, part, total;
    for (int colour = 0; colour < 2; colour++) {
      ising_mf_sweep_colour(g, c, beta, 0.5, m, colour, &part);
      change = fmax(change, part);
      ising_halo_exchange(&halo, m);
    }
    MPI_Allreduce(&change, &total, 1, MPI_DOUBLE, MPI_MAX, g->comm);
    if (total < 1e-12) break;
  }
  ising_halo_free(&halo);
  double e = ising_mf_evaluate(g, c, beta, m).elbo;
  free(m);
  return e;
}

/* splitmix64 for the choice of instances (not for the physics). */
static uint64_t mix(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void sandwich_cases(void)
{
  /* Every eighth instance is one of the two largest (2^24 and 2^25 states). */
  static const char *const lattices[][2] = {{"4,4", "periodic"}, {"4,5", "open"}, {"2,2,4", "periodic"},
                                            {"2,3,3", "open"},   {"4,4", "open"}, {"12", "periodic"},
                                            {"16", "periodic"},  {"5,5", "open"}, {"2,3,4", "open"}};
  static const char *const kinds[] = {"uniform", "pm", "gaussian"};
  uint64_t state = 2024;
  int n = 0, ok = 0, same = 0, nuni = 0, tighter = 0;
  double worst_low = -1, worst_up = -1, gap_sum = 0, triv_sum = 0;
  for (int inst = 0; inst < 120; inst++) {
    const char *const *lat = lattices[inst % 8 < 7 ? inst % 8 : 7 + (inst / 8) % 2];
    const char *kind = kinds[(inst / 8 + inst) % 3];
    char beta[32], seed[32], sigma[32], fieldv[32];
    snprintf(beta, sizeof(beta), "%.6f", 0.05 + 1.95 * (double)(mix(&state) >> 11) * 0x1p-53);
    snprintf(seed, sizeof(seed), "%d", inst + 1);
    snprintf(fieldv, sizeof(fieldv), "%.3f",
             (inst % 3 == 0) ? 0.0 : 0.6 * ((double)(mix(&state) >> 11) * 0x1p-53 - 0.5));
    snprintf(sigma, sizeof(sigma), "%.3f", (inst % 2) ? 0.5 : 0.0);
    if (size > 1 && (inst + inst / 8) % 4) continue;
    const char *opts[] = {"-lattice_size",  lat[0], "-lattice_bc", lat[1], "-couplings",   kind,  "-beta", beta,
                          "-disorder_seed", seed,   "-field",      fieldv, "-field_sigma", sigma, NULL};
    ising_params p;
    ising_geometry g;
    ising_couplings c;
    if (setup(MPI_COMM_WORLD, opts, &p, &g, &c)) {
      check(0, "set-up of a sandwich instance");
      return;
    }
    const double b = p.beta[0];
    double upper, trivial;
    ising_trw_bound(&p, &g, &c, b, &upper, &trivial);
    double lower = elbo(&g, &c, b);
    ising_bondlist bl;
    ising_couplings_bondlist(&p, &bl);
    double lnz = enumerate(&bl, b);
    ising_bondlist_free(&bl);
    double low = (lower - lnz) / fabs(lnz), up = (lnz - upper) / fabs(lnz);
    worst_low = fmax(worst_low, low);
    worst_up = fmax(worst_up, up);
    ok += low <= 1e-12 && up <= 1e-12; /* NaN fails */
    n++;
    /* The optimised weights are recomputed on one rank: evaluate there at uniform
     * weights and compare with the uniform evaluation here. */
    double here;
    ising_trw_evaluate(&p, &g, &c, b, NULL, &here);
    same += here == single_rank(opts, b, NULL);
    if (p.couplings == ISING_COUPLINGS_UNIFORM) {
      nuni++;
      tighter += upper < trivial;
      gap_sum += (upper - lnz) / (double)g.nsites;
      triv_sum += (trivial - lnz) / (double)g.nsites;
    }
    teardown(&p, &g, &c);
  }
  char what[200];
  snprintf(what, sizeof(what),
           "ELBO <= lnZ <= TRW on %d/%d instances (worst (ELBO-lnZ)/|lnZ| = %.1e, (lnZ-TRW)/|lnZ| = %.1e, tol 1e-12)",
           ok, n, worst_low, worst_up);
  check(ok == n && n >= (size > 1 ? 30 : 120), what);
  snprintf(what, sizeof(what),
           "TRW < trivial on %d/%d uniform-coupling instances (mean gap per spin: TRW %.4f, trivial %.4f)", tighter,
           nuni, gap_sum / nuni, triv_sum / nuni);
  check(tighter == nuni && nuni > 0, what);
  snprintf(what, sizeof(what), "TRW (uniform weights) bit-identical to the one-rank value on %d/%d instances", same, n);
  check(same == n, what);
}

static void chain_cases(void)
{
  char what[200];
  {
    const char *opts[] = {"-lattice_size", "20",  "-lattice_bc",    "open", "-couplings", "gaussian",
                          "-field_sigma",  "0.7", "-disorder_seed", "5",    NULL};
    ising_params p;
    ising_geometry g;
    ising_couplings c;
    setup(MPI_COMM_WORLD, opts, &p, &g, &c);
    int good = 0;
    double worst = 0;
    for (int k = 0; k < 5; k++) {
      double beta = 0.2 + 0.45 * k, upper, trivial;
      ising_trw_bound(&p, &g, &c, beta, &upper, &trivial);
      ising_bondlist bl;
      ising_couplings_bondlist(&p, &bl);
      double lnz = enumerate(&bl, beta), dev = fabs(upper - lnz) / fabs(lnz);
      ising_bondlist_free(&bl);
      worst = fmax(worst, dev);
      good += dev < 1e-12;
    }
    snprintf(what, sizeof(what),
             "open chain of 20, Gaussian bonds, random fields: TRW = lnZ (enumeration) at %d/5 "
             "beta, worst rel. dev %.1e (tol 1e-12)",
             good, worst);
    check(good == 5, what);
    teardown(&p, &g, &c);
  }
  {
    const char *opts[] = {"-lattice_size", "1000", "-lattice_bc", "open", "-J", "0.8", "-field", "0.1", NULL};
    ising_params p;
    ising_geometry g;
    ising_couplings c;
    setup(MPI_COMM_WORLD, opts, &p, &g, &c);
    double beta = 1.3, upper, trivial;
    ising_trw_bound(&p, &g, &c, beta, &upper, &trivial);
    ising_exact_result r;
    ising_exact_chain(1000, 0, c.J[0], c.field, beta, &r);
    double dev = fabs(upper - r.lnZ) / fabs(r.lnZ);
    snprintf(what, sizeof(what),
             "open chain of 1000, J = 0.8, h = 0.1, beta = 1.3: TRW = lnZ (transfer matrix), "
             "rel. dev %.1e (tol 1e-12)",
             dev);
    check(dev < 1e-12, what);
    teardown(&p, &g, &c);
  }
}

static void large_case(const char *size_opt, int L, double beta)
{
  const char *opts[] = {"-lattice_size", size_opt, NULL};
  ising_params p;
  ising_geometry g;
  ising_couplings c;
  setup(MPI_COMM_WORLD, opts, &p, &g, &c);
  double upper, trivial;
  ising_trw_bound(&p, &g, &c, beta, &upper, &trivial);
  ising_exact_result r;
  ising_exact_kaufman(L, L, c.J[0], c.J[1], beta, &r);
  char what[200];
  snprintf(what, sizeof(what), "%d^2 periodic, beta = %g: lnZ/N = %.6f <= TRW/N = %.6f <= trivial/N = %.6f, all finite",
           L, beta, r.lnZ / (double)g.nsites, upper / (double)g.nsites, trivial / (double)g.nsites);
  check(isfinite(upper) && r.lnZ <= upper && upper < trivial, what);
  teardown(&p, &g, &c);
}

int main(int argc, char **argv)
{
  PetscInitialize(&argc, &argv, NULL, NULL);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  tree_cases();
  chain_cases();
  large_case("256,256", 256, 1.0);
  large_case("64,64", 64, 0.4406868);
  large_case("64,64", 64, 0.3);
  sandwich_cases();
  if (rank == 0) printf("%d failure(s)\n", failures);
  PetscFinalize();
  return failures != 0;
}
