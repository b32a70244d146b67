/* test_meanfield.c: the mean-field engine (meanfield.h) against exact
 * answers, on 1-4 ranks.
 *
 * 1. Uniform periodic lattices in 1D, 2D and 3D, with and without a field,
 *    above and below the mean-field transition beta z J = 1: from the ferro
 *    start the distributed damped sweeps converge to the scalar solution of
 *    m = tanh(beta (z J m + h)) at every site to 1e-12, and the ELBO equals
 *    N (S(m) + beta (d J m^2 + h m)) to 1e-12 relative.
 * 2. (rank count 1 only) The bound on 120 random enumerable instances:
 *    4x4 periodic, 4x4 open, 2x2x4, 2x3x4 open, 5x5 open, rings of 12 and 16
 *    spins; uniform, +-J and Gaussian couplings; uniform and random fields;
 *    random beta in [0.1, 2]; random start.  ELBO <= lnZ (exact
 *    enumeration) to 1e-12 relative, and for N <= 16 the KL divergence
 *    computed directly by enumerating q(s) satisfies ELBO + KL = lnZ to
 *    1e-10 relative.
 * 3. ising_mf_tanh against tanhl, and the same bits on every instruction set.
 * 4. ising_ais_masked_sum (ln q(s) of AIS from mean field) against a plain
 *    loop of 128-bit additions, bit for bit, on every instruction set: odd and
 *    even rows, 1D-3D, open and periodic, random spins and terms over the
 *    whole allowed range |d_i| < 2^69 (every bit of the low halves random). */
#include "ising/ais.h"
#include "ising/bondlist.h"
#include "ising/couplings.h"
#include "ising/exact.h"
#include "ising/geometry.h"
#include "ising/halo.h"
#include "ising/meanfield.h"
#include "ising/params.h"
#include "ising/rng.h"

#include <math.h>
#include <petscsys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, rank;

static void check(int ok, const char *what)
{
  int all;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  if (rank == 0) printf("%-100s %s\n", what, all ? "ok" : "FAILED");
  failures += !all;
}

static int setup(const char *const *opts, ising_params *p, ising_geometry *g, ising_couplings *c)
{
  PetscOptionsClear(NULL);
  for (int k = 0; opts[k]; k += 2) PetscOptionsSetValue(NULL, opts[k], opts[k + 1]);
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (ising_params_load(MPI_COMM_WORLD, size, p)) return 1;
  if (ising_geometry_create(MPI_COMM_WORLD, p, g)) return 1;
  return ising_couplings_create(p, g, c);
}

/* Damped sweeps from m (halo exchanged inside) until the change is tiny. */
static void relax(const ising_geometry *g, const ising_couplings *c, double beta, double damping, double *m,
                  int max_iter)
{
  ising_halo halo;
  ising_halo_create(g, MPI_DOUBLE, &halo);
  ising_halo_exchange(&halo, m);
  for (int it = 0; it < max_iter; it++) {
    double change = 0, part, total;
    for (int colour = 0; colour < 2; colour++) {
      ising_mf_sweep_colour(g, c, beta, damping, m, colour, &part);
      change = fmax(change, part);
      ising_halo_exchange(&halo, m);
    }
    MPI_Allreduce(&change, &total, 1, MPI_DOUBLE, MPI_MAX, g->comm);
    if (total < 1e-15) break;
  }
  ising_halo_free(&halo);
}

/* The branch the damped sweeps reach from m = 1: the same damped iteration,
 * then Newton to polish. */
static double scalar_solution(double beta, double zJ, double h)
{
  double m = 1.0;
  for (int it = 0; it < 100000; it++) m = 0.3 * m + 0.7 * tanh(beta * (zJ * m + h));
  for (int it = 0; it < 20; it++) {
    double t = tanh(beta * (zJ * m + h)), f = m - t, df = 1 - beta * zJ * (1 - t * t);
    m -= f / df;
  }
  return m;
}

static double entropy(double m)
{
  double p = 0.5 * (1 + m), q = 0.5 * (1 - m);
  return -(p > 0 ? p * log(p) : 0) - (q > 0 ? q * log(q) : 0);
}

static void uniform_case(const char *size, int dim, double beta, double h)
{
  char field[32], b[32], what[200];
  snprintf(field, sizeof(field), "%g", h);
  snprintf(b, sizeof(b), "%g", beta);
  const char *opts[] = {"-lattice_size", size, "-field", field, "-beta", b, "-J", "0.75", NULL};
  ising_params p;
  ising_geometry g;
  ising_couplings c;
  if (setup(opts, &p, &g, &c)) {
    check(0, "set-up");
    return;
  }
  double *m = calloc(g.nextended, sizeof(double));
  int zlo = ising_geometry_lo(&g, 2), ylo = ising_geometry_lo(&g, 1);
  for (int ez = zlo; ez < zlo + g.n[2]; ez++)
    for (int ey = ylo; ey < ylo + g.n[1]; ey++)
      for (int ex = 1; ex <= g.n[0]; ex++) m[ising_geometry_index(&g, ex, ey, ez)] = 1.0;
  relax(&g, &c, beta, 0.3, m, 100000);
  double zJ = 2 * dim * c.J[0], mstar = scalar_solution(beta, zJ, c.field), dev = 0;
  for (int ez = zlo; ez < zlo + g.n[2]; ez++)
    for (int ey = ylo; ey < ylo + g.n[1]; ey++)
      for (int ex = 1; ex <= g.n[0]; ex++) dev = fmax(dev, fabs(m[ising_geometry_index(&g, ex, ey, ez)] - mstar));
  double all;
  MPI_Allreduce(&dev, &all, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  ising_mf_result r = ising_mf_evaluate(&g, &c, beta, m);
  double expect = (double)g.nsites * (entropy(mstar) + beta * (dim * c.J[0] * mstar * mstar + c.field * mstar));
  double rel = fabs(r.elbo - expect) / fabs(expect);
  snprintf(what, sizeof(what),
           "%s beta*zJ = %.2f h = %g: m* = %.12f, max |m_i - m*| = %.1e, ELBO rel. dev %.1e (tol 1e-12)", size,
           beta * zJ, h, mstar, all, rel);
  check(all < 1e-12 && rel < 1e-12 && r.residual < 1e-12, what);
  free(m);
  ising_couplings_free(&c);
  ising_geometry_free(&g);
  ising_params_free(&p);
}

/* splitmix64 for the choice of instances (not for the physics). */
static uint64_t mix(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void bound_cases(void)
{
  static const char *const lattices[][2] = {{"4,4", "periodic"}, {"4,4", "open"}, {"2,2,4", "periodic"},
                                            {"2,3,3", "open"},   {"5,4", "open"}, {"12", "periodic"},
                                            {"16", "periodic"}};
  static const char *const kinds[] = {"uniform", "pm", "gaussian"};
  uint64_t state = 12345;
  int below = 0, identity = 0, n_identity = 0, n = 0;
  double worst_bound = -1, worst_identity = 0;
  for (int inst = 0; inst < 120; inst++) {
    const char *const *lat = lattices[inst % 7];
    const char *kind = kinds[(inst / 7) % 3];
    char beta[32], seed[32], sigma[32], fieldv[32];
    snprintf(beta, sizeof(beta), "%.6f", 0.1 + 1.9 * (double)(mix(&state) >> 11) * 0x1p-53);
    snprintf(seed, sizeof(seed), "%d", inst + 1);
    snprintf(fieldv, sizeof(fieldv), "%.3f",
             (inst % 3 == 0) ? 0.0 : 0.4 * ((double)(mix(&state) >> 11) * 0x1p-53 - 0.5));
    snprintf(sigma, sizeof(sigma), "%.3f", (inst % 2) ? 0.5 : 0.0);
    const char *opts[] = {"-lattice_size", lat[0], "-lattice_bc",    lat[1], "-couplings", kind,
                          "-beta",         beta,   "-disorder_seed", seed,   "-seed",      seed,
                          "-field",        fieldv, "-field_sigma",   sigma,  NULL};
    ising_params p;
    ising_geometry g;
    ising_couplings c;
    if (setup(opts, &p, &g, &c)) {
      check(0, "set-up of a bound instance");
      return;
    }
    double *m = calloc(g.nextended, sizeof(double));
    int zlo = ising_geometry_lo(&g, 2), ylo = ising_geometry_lo(&g, 1);
    for (int ez = zlo; ez < zlo + g.n[2]; ez++)
      for (int ey = ylo; ey < ylo + g.n[1]; ey++)
        for (int ex = 1; ex <= g.n[0]; ex++)
          m[ising_geometry_index(&g, ex, ey, ez)] = 2 * ((double)(mix(&state) >> 11) * 0x1p-53) - 1;
    /* Any m is a valid q; converged or not, the bound must hold. */
    relax(&g, &c, p.beta[0], 0.5, m, inst % 4 == 0 ? 3 : 2000);
    ising_mf_result r = ising_mf_evaluate(&g, &c, p.beta[0], m);
    ising_bondlist b;
    ising_couplings_bondlist(&p, &b);
    ising_exact_result ex;
    ising_exact_enumerate(&b, p.beta[0], &ex, NULL);
    double excess = (r.elbo - ex.lnZ) / fabs(ex.lnZ);
    worst_bound = fmax(worst_bound, excess);
    below += excess <= 1e-12; /* NaN (a failed enumeration) counts as a failure */
    n++;
    if (b.nspins <= 16) {
      /* KL(q||p) = sum_s q(s) [ln q(s) + beta H(s)] + lnZ, enumerated. */
      double *mg = malloc(sizeof(double) * (size_t)b.nspins);
      for (int ez = zlo; ez < zlo + g.n[2]; ez++)
        for (int ey = ylo; ey < ylo + g.n[1]; ey++)
          for (int ex2 = 1; ex2 <= g.n[0]; ex2++)
            mg[ising_geometry_global_index(&g, ex2, ey, ez)] = m[ising_geometry_index(&g, ex2, ey, ez)];
      long double kl = 0, lw[ISING_EXACT_MAX_SPINS][2]; /* ln q_i(s_i), s_i = +1 [0] and -1 [1]; -inf if 0 */
      for (int i = 0; i < b.nspins; i++)
        for (int u = 0; u < 2; u++) {
          double w = 0.5 * (1 + mg[i] * (u ? -1 : 1));
          lw[i][u] = w > 0 ? logl(w) : -INFINITY;
        }
      for (long st = 0; st < (1L << b.nspins); st++) {
        long double lq = 0, H = 0;
        int zero = 0;
        for (int i = 0; i < b.nspins; i++) {
          int s = (st >> i) & 1 ? 1 : -1;
          if (isinf(lw[i][s < 0]))
            zero = 1;
          else
            lq += lw[i][s < 0];
          H -= b.h[i] * s;
        }
        if (zero) continue;
        for (int k = 0; k < b.nbonds; k++)
          H -= b.J[k] * (((st >> b.i[k]) & 1) ? 1 : -1) * (((st >> b.j[k]) & 1) ? 1 : -1);
        kl += expl(lq) * (lq + p.beta[0] * H);
      }
      kl += ex.lnZ;
      double dev = fabs((double)(r.elbo + kl) - ex.lnZ) / fabs(ex.lnZ);
      worst_identity = fmax(worst_identity, dev);
      identity += dev < 1e-10 && kl >= -1e-12;
      n_identity++;
      free(mg);
    }
    ising_bondlist_free(&b);
    free(m);
    ising_couplings_free(&c);
    ising_geometry_free(&g);
    ising_params_free(&p);
  }
  char what[200];
  snprintf(what, sizeof(what),
           "ELBO <= lnZ on %d/%d random enumerable instances (largest (ELBO-lnZ)/|lnZ| = %.2e, tol 1e-12)", below, n,
           worst_bound);
  check(below == n, what);
  snprintf(what, sizeof(what),
           "ELBO + KL(q||p) = lnZ by enumeration on %d/%d instances (worst rel. dev %.1e, tol 1e-10)", identity,
           n_identity, worst_identity);
  check(identity == n_identity && n_identity >= 60, what);
}

/* ising_mf_tanh: within 3 units in the last place of tanhl (long double) from 1e-300 to 30 (2.4 at worst on 2
 * million arguments from 1e-8 to 30, where glibc's tanh reaches 2.1), tanh 0 = 0, -0 = -0, +-inf = +-1, NaN = NaN,
 * odd, and the same bits for every instruction set and every array length (vector bodies and scalar tails). */
static void tanh_cases(void)
{
  enum { N = 4000 };
  static double x[N], y[N], ref[N], part[N];
  int n = 0;
  x[n++] = 0.0;
  x[n++] = -0.0;
  x[n++] = 4.9e-324;
  x[n++] = 1e-300;
  x[n++] = INFINITY;
  x[n++] = -INFINITY;
  x[n++] = 1e300;
  for (double v = 1e-12; v < 30.0 && n < N - 2; v *= 1.0123) { /* every interval of k ln2 / 2 many times */
    x[n++] = v;
    x[n++] = -v * 1.0000001;
  }
  for (double v = 0.0; v < 12.0 && n < N; v += 0.3465735902799727) x[n++] = v; /* near the reduction's ties */
  ising_mf_tanh(ISING_SIMD_SCALAR, x, ref, (size_t)n);
  double worst = 0.0;
  int special = ref[0] == 0.0 && !signbit(ref[0]) && ref[1] == 0.0 && signbit(ref[1]) && ref[4] == 1.0 &&
                ref[5] == -1.0 && ref[6] == 1.0;
  for (int i = 0; i < n; i++) {
    const long double exact = tanhl((long double)x[i]);
    const double near = (double)exact, ulp = fabs(nextafter(near, INFINITY) - near);
    if (isfinite(x[i]) && near != 0.0) worst = fmax(worst, (double)(fabsl((long double)ref[i] - exact) / ulp));
  }
  const double nan_in = NAN;
  double nan_out;
  ising_mf_tanh(ISING_SIMD_SCALAR, &nan_in, &nan_out, 1);
  char what[160];
  snprintf(what, sizeof(what), "tanh: %d arguments, worst error %.2f ulp against tanhl (tol 3), special values", n,
           worst);
  check(worst <= 3.0 && special && isnan(nan_out), what);
  for (int s = ISING_SIMD_AVX2; s <= (int)ising_simd_supported(); s++) {
    ising_mf_tanh((ising_simd)s, x, y, (size_t)n);
    int same = memcmp(y, ref, sizeof(double) * (size_t)n) == 0;
    for (int len = 1; len <= 41 && same; len++) { /* every tail length, at several offsets */
      for (int off = 0; off + len <= n; off += 97) {
        ising_mf_tanh((ising_simd)s, x + off, part, (size_t)len);
        same &= memcmp(part, ref + off, sizeof(double) * (size_t)len) == 0;
      }
    }
    snprintf(what, sizeof(what), "tanh: %s gives the scalar bits (whole array, pieces of 1-41)",
             ising_simd_name((ising_simd)s));
    check(same, what);
  }
}

static void masked_sum_cases(void)
{
  static const char *const lattices[][2] = {{"37", "open"},       {"13,7", "open"},  {"16,16", "open"},
                                            {"40", "periodic"},   {"5,4,3", "open"}, {"10,6,4", "periodic"},
                                            {"64,8", "periodic"}, {"3,3,3", "open"}};
  uint64_t seed = 7;
  for (size_t l = 0; l < sizeof(lattices) / sizeof(lattices[0]); l++) {
    const char *opts[] = {"-lattice_size", lattices[l][0], "-lattice_bc", lattices[l][1], NULL};
    ising_params p;
    ising_geometry g;
    ising_couplings c;
    if (setup(opts, &p, &g, &c)) {
      check(0, "masked sum: setup");
      continue;
    }
    const size_t nl = g.nlocal ? g.nlocal : 1;
    int64_t *dh = malloc(sizeof(int64_t) * nl);
    uint64_t *dl = malloc(sizeof(uint64_t) * nl);
    int8_t *spins = calloc(g.nextended, 1);
    int same = dh && dl && spins;
    for (int rep = 0; rep < 4 && same; rep++) {
      /* rep 0: every d_i at the extremes (dh = -32 with dl = 0, dh = 31 with dl = 2^64 - 1) and every spin up;
       * then random terms and spins (rep 3: about one spin in 8 up) */
      for (size_t i = 0; i < g.nlocal; i++) {
        const uint64_t r = mix(&seed);
        dh[i] = rep == 0 ? (i & 1 ? 31 : -32) : (int64_t)(r % 64) - 32;
        dl[i] = rep == 0 ? (i & 1 ? UINT64_MAX : 0) : mix(&seed);
      }
      for (size_t i = 0; i < g.nextended; i++) {
        const uint64_t r = mix(&seed);
        spins[i] = rep == 0 ? 1 : rep == 3 ? (r % 8 == 0 ? 1 : -1) : (r & 1 ? 1 : -1);
      }
      ising_int128 ref = 0;
      size_t n = 0;
      for (int ez = ising_geometry_lo(&g, 2); ez < ising_geometry_lo(&g, 2) + g.n[2]; ez++)
        for (int ey = ising_geometry_lo(&g, 1); ey < ising_geometry_lo(&g, 1) + g.n[1]; ey++)
          for (int ex = 1; ex <= g.n[0]; ex++, n++)
            if (spins[ising_geometry_index(&g, ex, ey, ez)] > 0)
              ref += (ising_int128)dh[n] * ((ising_int128)1 << 64) + (ising_int128)dl[n];
      for (int s = ISING_SIMD_SCALAR; s <= (int)ising_simd_supported(); s++)
        same &= ising_ais_masked_sum((ising_simd)s, &g, dh, dl, spins) == ref;
    }
    char what[160];
    snprintf(what, sizeof(what), "masked sum: %s %s, every instruction set equals 128-bit additions", lattices[l][0],
             lattices[l][1]);
    check(same, what);
    free(dh);
    free(dl);
    free(spins);
    ising_couplings_free(&c);
    ising_geometry_free(&g);
    ising_params_free(&p);
  }
}

int main(int argc, char **argv)
{
  PetscInitialize(&argc, &argv, NULL, NULL);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  /* beta z J with J = 0.75: 1D z = 2, 2D z = 4, 3D z = 6. */
  uniform_case("16", 1, 0.5, 0.0);
  uniform_case("16", 1, 1.0, 0.0);
  uniform_case("16", 1, 0.8, 0.1);
  uniform_case("8,6", 2, 0.2, 0.0);
  uniform_case("8,6", 2, 0.5, 0.0);
  uniform_case("8,6", 2, 0.4, -0.2);
  uniform_case("4,4,6", 3, 0.15, 0.0);
  uniform_case("4,4,6", 3, 0.4, 0.0);
  uniform_case("4,4,6", 3, 0.3, 0.05);
  if (size == 1) bound_cases();
  tanh_cases();
  masked_sum_cases();
  if (rank == 0) printf("%d failure(s)\n", failures);
  PetscFinalize();
  return failures != 0;
}
