/* test_mbar.c: MBAR (mbar.h) against exact answers, and its exponential.
 *
 * 1. ising_mbar_exp on 200 001 points of [-708, 0] and some special ones,
 *    with every instruction set the CPU has: the same bits for every
 *    instruction set, and within 3 units in the last place of expl (long
 *    double); below -708 the value at -708.
 * 2. MBAR on a model with a continuous density of states and an exact
 *    partition function: H = x_1 + ... + x_N, each x_i in [0, 1] with
 *    density e^{-beta x} / z, z(beta) = (1 - e^{-beta}) / beta, so
 *    ln Z(beta) = N ln z(beta) and <H>(beta) = N (1/beta - 1/(e^beta - 1)).
 *    Exact samples (inverse CDF) at 6 temperatures, 1000 each: every energy
 *    distinct, as with Gaussian couplings.  R = 16 independent data sets
 *    give ln Z(beta_k) - ln Z(beta_0) at every temperature and <H> at a
 *    temperature between them (reweighting); the mean of each over the data
 *    sets must lie within 4 standard errors (sd / sqrt R, sd their scatter)
 *    of the exact value (a chance failure has probability below 1e-4 per
 *    check), and the scatter must be neither zero nor larger than 0.2.
 * 3. The same MBAR solution, bit for bit, with ISING_SIMD=scalar as with the
 *    best instruction set.
 * 4. Reweighting many points in one call: each point's ln Z, <H> and Var(H)
 *    are the bits of a call for that point alone, and agree with a direct
 *    long-double evaluation of the sums (relative 1e-13 for ln Z and <H>,
 *    1e-10 for Var(H), which is a difference of sums) on every length 1-40
 *    of energies (every tail of the vector loops) and every instruction set.
 * 5. The solver's passes go over the energies in blocks that stay in cache:
 *    on 23 temperatures of 2001 samples (46 023 energies, not a multiple of
 *    8), f and ln D are the same bits with blocks of 8, 24, 1001 (1008) and 10^6
 *    energies (one whole pass) as with the solver's own blocks, on every
 *    instruction set.
 * 6. The overlap matrix (ising_mbar_overlap): rows sum to 1, symmetric,
 *    the same bits on every instruction set, neighbours of a good ladder
 *    above 0.03 and far-apart states below 1e-4. */
#include "ising/mbar.h"
#include "ising/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what)
{
  printf("%-74s %s\n", what, ok ? "ok" : "FAILED");
  failures += !ok;
}

static void test_exp(void)
{
  const size_t grid = 200001;
  const double special[] = {
      0.0,    -0.0,   -1e-300, -1e-17,   -0.34657359027997264, -0.34657359028, -1.0, -707.9, -708.0,
      -708.5, -745.0, -1e6,    -INFINITY};
  const size_t ns = sizeof(special) / sizeof(special[0]), n = grid + ns;
  double *x = malloc(sizeof(double) * n), *y0 = malloc(sizeof(double) * n), *y = malloc(sizeof(double) * n);
  if (!x || !y0 || !y) {
    check(0, "memory");
    return;
  }
  for (size_t i = 0; i < grid; i++) x[i] = -708.0 * (double)i / (double)(grid - 1);
  memcpy(x + grid, special, sizeof(special));
  ising_mbar_exp(ISING_SIMD_SCALAR, x, y0, n);
  for (int s = ISING_SIMD_SCALAR + 1; s <= (int)ising_simd_supported(); s++) {
    ising_mbar_exp((ising_simd)s, x, y, n);
    char what[96];
    snprintf(what, sizeof(what), "exp: %s gives the same bits as scalar", ising_simd_name((ising_simd)s));
    check(!memcmp(y, y0, sizeof(double) * n), what);
  }
  memcpy(y, x, sizeof(double) * n); /* in place */
  ising_mbar_exp(ising_simd_supported(), y, y, n);
  check(!memcmp(y, y0, sizeof(double) * n), "exp: in place (y = x)");
  double worst = 0.0;
  int low_ok = 1;
  const double at708 = y0[grid - 1]; /* x = -708 */
  for (size_t i = 0; i < n; i++) {
    if (x[i] < -708.0) {
      low_ok &= y0[i] == at708;
      continue;
    }
    const long double e = expl((long double)x[i]);
    const double ulp = nextafter(y0[i], INFINITY) - y0[i];
    const double err = (double)(fabsl((long double)y0[i] - e) / (long double)ulp);
    if (err > worst) worst = err;
  }
  char what[96];
  snprintf(what, sizeof(what), "exp: within 3 units in the last place on [-708, 0] (worst %.2f)", worst);
  check(worst <= 3.0, what);
  check(low_ok && at708 > 0 && at708 < 3.4e-308, "exp: below -708 the value at -708 (< 3.4e-308)");
  free(x);
  free(y0);
  free(y);
}

#define K     6
#define NS    1000
#define UNITS 16
#define R     16

static double log_z(double b)
{
  return UNITS * log(-expm1(-b) / b);
}

static double mean_h(double b)
{
  return UNITS * (1.0 / b - 1.0 / expm1(b));
}

/* Data set `set`: NS exact samples of H at each temperature. */
static void sample(int set, const double *beta, double *H)
{
  for (int k = 0; k < K; k++)
    for (int t = 0; t < NS; t++) {
      double h = 0.0;
      for (int i = 0; i < UNITS; i++) {
        uint32_t w[4];
        ising_rng4(2026 + (uint64_t)set, 0, (uint64_t)k, (uint64_t)t * UNITS + (uint64_t)i, w);
        h += -log1p(-ising_rng_uniform(w[0]) * -expm1(-beta[k])) / beta[k];
      }
      H[k * NS + t] = h;
    }
}

/* MBAR on H: dlnz[k] = ln Z(beta_k) - ln Z(beta_0) by reweighting, h_mid = <H>(b_mid). 0 or -1. */
static int mbar(const double *beta, const double *H, double b_mid, double *dlnz, double *h_mid, double *f)
{
  size_t n[K], U;
  double Hu[K * NS], c[K * NS], lnd[K * NS], lnd2[K * NS];
  for (int k = 0; k < K; k++) n[k] = NS;
  U = ising_mbar_distinct(K * NS, H, Hu, c);
  memset(f, 0, sizeof(double) * K);
  if (ising_mbar_solve(K, beta, n, U, Hu, c, f, lnd) ||
      !isfinite(ising_mbar_denominators(K, beta, n, U, Hu, c, f, lnd2)))
    return -1;
  /* the solver's ln D at its solution is what ising_mbar_denominators computes for it, bit for bit */
  if (memcmp(lnd, lnd2, sizeof(double) * U)) return -1;
  double h1[K], var[K], one;
  ising_mbar_reweight(U, Hu, c, f, lnd, K, beta, dlnz, h1, var);
  ising_mbar_reweight(U, Hu, c, f, lnd, 1, &b_mid, &one, h_mid, var);
  return U == K * NS ? 0 : -1; /* continuous energies: all distinct */
}

static void test_mbar(void)
{
  const double beta[K] = {0.5, 1.0, 1.5, 2.0, 2.5, 3.0}, b_mid = 1.75;
  static double H[K * NS];
  double sum[K + 1] = {0}, sq[K + 1] = {0}, f[K];
  int ok = 1;
  for (int set = 0; set < R && ok; set++) {
    double dlnz[K], h_mid;
    sample(set, beta, H);
    ok = !mbar(beta, H, b_mid, dlnz, &h_mid, f);
    for (int k = 0; k <= K && ok; k++) {
      const double v = k < K ? dlnz[k] : h_mid;
      sum[k] += v;
      sq[k] += v * v;
    }
  }
  check(ok, "MBAR: converges on every data set, every energy distinct");
  if (!ok) return;
  for (int k = 1; k <= K; k++) {
    const double mean = sum[k] / R, sd = sqrt(fmax(sq[k] / R - mean * mean, 0.0) * R / (R - 1)),
                 exact = k < K ? log_z(beta[k]) - log_z(beta[0]) : mean_h(b_mid);
    char what[128];
    if (k < K)
      snprintf(what, sizeof(what), "MBAR: ln Z(%.1f) - ln Z(%.1f) = %.4f +- %.4f, exact %.4f", beta[k], beta[0], mean,
               sd / sqrt(R), exact);
    else
      snprintf(what, sizeof(what), "MBAR: <H>(%.2f) reweighted = %.4f +- %.4f, exact %.4f", b_mid, mean, sd / sqrt(R),
               exact);
    check(sd > 0 && sd < 0.2 && fabs(mean - exact) <= 4.0 * sd / sqrt(R), what);
  }
  /* 3: the same bits with the plain instructions */
  double dlnz[K], h_mid, dlnz_s[K], h_mid_s, f_s[K];
  sample(0, beta, H);
  const char *env = getenv("ISING_SIMD");
  char *saved = env ? strdup(env) : NULL;
  int same = !mbar(beta, H, b_mid, dlnz, &h_mid, f);
  setenv("ISING_SIMD", "scalar", 1);
  same = same && !mbar(beta, H, b_mid, dlnz_s, &h_mid_s, f_s);
  if (saved)
    setenv("ISING_SIMD", saved, 1);
  else
    unsetenv("ISING_SIMD");
  free(saved);
  same = same && !memcmp(f, f_s, sizeof(f)) && !memcmp(dlnz, dlnz_s, sizeof(dlnz)) && h_mid == h_mid_s;
  check(same, "MBAR: the same bits with ISING_SIMD=scalar");
}

/* Reweighting by hand in long double: ln sum_t c_t e^(-b H_t - lnd_t) + f0, <H>, Var(H). */
static void reweight_direct(size_t U, const double *H, const double *c, const double *lnd, double f0, double b,
                            double out[3])
{
  long double m = -INFINITY, s = 0, s1 = 0, s2 = 0;
  for (size_t t = 0; t < U; t++) m = fmaxl(m, -(long double)b * H[t] - lnd[t]);
  for (size_t t = 0; t < U; t++) {
    const long double w = c[t] * expl(-(long double)b * H[t] - lnd[t] - m);
    s += w;
    s1 += w * H[t];
  }
  const long double mean = s1 / s;
  for (size_t t = 0; t < U; t++) {
    const long double w = c[t] * expl(-(long double)b * H[t] - lnd[t] - m);
    s2 += w * (H[t] - mean) * (H[t] - mean);
  }
  out[0] = (double)(m + logl(s) + f0);
  out[1] = (double)mean;
  out[2] = (double)(s2 / s);
}

static void test_reweight_points(void)
{
  enum { P = 7, UMAX = 40 };
  const double beta[K] = {0.5, 1.0, 1.5, 2.0, 2.5, 3.0}, pts[P] = {0.5, 0.9, 1.25, 1.75, 2.2, 2.6, 3.0};
  static double H[K * NS], Hu[K * NS], c[K * NS], lnd[K * NS];
  size_t n[K];
  double f[K] = {0};
  for (int k = 0; k < K; k++) n[k] = NS;
  sample(1, beta, H);
  const size_t U = ising_mbar_distinct(K * NS, H, Hu, c);
  int solved = !ising_mbar_solve(K, beta, n, U, Hu, c, f, lnd), batch = solved, exact = solved;
  for (size_t t = 0; t < U; t++) c[t] = (double)(1 + t % 3); /* multiplicities other than 1 */
  double worst[3] = {0, 0, 0};
  for (int s = ISING_SIMD_SCALAR; solved && s <= (int)ising_simd_supported(); s++) {
    setenv("ISING_SIMD", ising_simd_name((ising_simd)s), 1);
    for (size_t len = 1; len <= UMAX; len++) {
      /* len energies spread over the whole range, so that the weights span many orders of magnitude and the
       * largest term moves with the point */
      double Hs[UMAX], cs[UMAX], lnds[UMAX], z[P], h1[P], var[P];
      for (size_t j = 0; j < len; j++) {
        const size_t at = len > 1 ? j * (U - 1) / (len - 1) : U / 2;
        Hs[j] = Hu[at];
        cs[j] = c[at];
        lnds[j] = lnd[at];
      }
      ising_mbar_reweight(len, Hs, cs, f, lnds, P, pts, z, h1, var);
      for (int i = 0; i < P; i++) {
        double z1, h11, var1, d[3];
        ising_mbar_reweight(len, Hs, cs, f, lnds, 1, &pts[i], &z1, &h11, &var1);
        batch = batch && !memcmp(&z1, &z[i], sizeof(double)) && !memcmp(&h11, &h1[i], sizeof(double)) &&
                !memcmp(&var1, &var[i], sizeof(double));
        reweight_direct(len, Hs, cs, lnds, f[0], pts[i], d);
        const double e[3] = {fabs(z[i] - d[0]) / fmax(1.0, fabs(d[0])), fabs(h1[i] - d[1]) / fabs(d[1]),
                             fabs(var[i] - d[2]) / fmax(d[2], 1e-300 + d[1] * d[1] * 1e-16)};
        for (int q = 0; q < 3; q++) worst[q] = fmax(worst[q], e[q]);
        exact = exact && e[0] <= 1e-13 && e[1] <= 1e-13 && e[2] <= 1e-10;
      }
    }
  }
  unsetenv("ISING_SIMD");
  check(batch, "reweighting: 7 points in one call, each the bits of a call alone");
  char what[160];
  snprintf(what, sizeof(what), "reweighting: 1-40 energies against long double (worst %.1e %.1e %.1e)", worst[0],
           worst[1], worst[2]);
  check(exact, what);
}

static void test_solver_blocks(void)
{
  enum { KB = 23, NB = 2001 };
  static double H[KB * NB], Hu[KB * NB], c[KB * NB], lnd[KB * NB], lnd0[KB * NB];
  double beta[KB], f[KB], f0[KB];
  size_t n[KB];
  for (int k = 0; k < KB; k++) {
    beta[k] = 0.5 + 0.1 * k;
    n[k] = NB;
    for (int t = 0; t < NB; t++) { /* 4 units of the model of test 2 */
      double h = 0.0;
      for (int i = 0; i < 4; i++) {
        uint32_t w[4];
        ising_rng4(77, 0, (uint64_t)k, (uint64_t)t * 4 + (uint64_t)i, w);
        h += -log1p(-ising_rng_uniform(w[0]) * -expm1(-beta[k])) / beta[k];
      }
      H[k * NB + t] = h;
    }
  }
  const size_t U = ising_mbar_distinct(KB * NB, H, Hu, c);
  const size_t blocks[5] = {0, 8, 24, 1001, 1000000};
  int same = U == KB * NB;
  for (int s = ISING_SIMD_SCALAR; same && s <= (int)ising_simd_supported(); s++) {
    setenv("ISING_SIMD", ising_simd_name((ising_simd)s), 1);
    for (int b = 0; b < 5 && same; b++) {
      ising_mbar_test_blocks(blocks[b]);
      memset(f, 0, sizeof(f));
      same = !ising_mbar_solve(KB, beta, n, U, Hu, c, f, lnd);
      if (s == ISING_SIMD_SCALAR && b == 0) {
        memcpy(f0, f, sizeof(f));
        memcpy(lnd0, lnd, sizeof(double) * U);
      }
      same = same && !memcmp(f, f0, sizeof(f)) && !memcmp(lnd, lnd0, sizeof(double) * U);
    }
  }
  ising_mbar_test_blocks(0);
  unsetenv("ISING_SIMD");
  check(same, "MBAR: the same bits with blocks of 8, 24, 1001, 10^6 energies");
}

/* 6. The overlap matrix n_l S_kl (ising_mbar_overlap): every row sums to 1 (the weights of a state, split by the
 *    states their samples came from) to 1e-12, S is symmetric bit for bit, the same bits on every instruction set,
 *    the neighbours of the ladder of test 2 overlap by more than 0.03 (0.18 at least), and two states whose samples
 *    lie in disjoint clusters (1000 energies in [10, 11) at beta = 0.5, 1000 in [0, 1) at beta = 3) by less than
 *    1e-4 (9.6e-6). */
static void test_overlap(void)
{
  const double beta[K] = {0.5, 1.0, 1.5, 2.0, 2.5, 3.0};
  static double H[K * NS], Hu[K * NS], c[K * NS], lnd[K * NS];
  double f[K] = {0}, S[K][K];
  size_t n[K];
  for (int k = 0; k < K; k++) n[k] = NS;
  sample(0, beta, H);
  const size_t U = ising_mbar_distinct(K * NS, H, Hu, c);
  int ok = !ising_mbar_solve(K, beta, n, U, Hu, c, f, lnd);
  for (int k = 0; k < K && ok; k++)
    for (int l = 0; l < K; l++) S[k][l] = ising_mbar_overlap(U, Hu, c, lnd, f[k], beta[k], f[l], beta[l]);
  double worst = 0.0, least = 1.0;
  int symmetric = ok, same = ok;
  for (int k = 0; k < K && ok; k++) {
    double row = 0.0;
    for (int l = 0; l < K; l++) {
      row += (double)n[l] * S[k][l];
      symmetric &= S[k][l] == S[l][k];
    }
    worst = fmax(worst, fabs(row - 1.0));
    if (k + 1 < K) least = fmin(least, (double)NS * S[k][k + 1]);
  }
  for (int s = ISING_SIMD_SCALAR; same && s < (int)ising_simd_supported(); s++) {
    setenv("ISING_SIMD", ising_simd_name((ising_simd)s), 1);
    same = ising_mbar_overlap(U, Hu, c, lnd, f[1], beta[1], f[2], beta[2]) == S[1][2];
  }
  unsetenv("ISING_SIMD");
  printf("overlap: largest |row sum - 1| %.2g, least neighbour overlap %.3g\n", worst, least);
  check(ok && worst <= 1e-12, "overlap: every row of n_l S_kl sums to 1");
  check(symmetric, "overlap: S_kl = S_lk bit for bit");
  check(same, "overlap: the same bits on every instruction set");
  check(least > 0.03, "overlap: neighbours of the ladder above 0.03");
  /* two far-apart states: 1000 samples in [10, 11) at beta = 0.5 and 1000 in [0, 1) at beta = 3 */
  static double Hf[2 * NS], Hfu[2 * NS], cf[2 * NS], lndf[2 * NS];
  const double bf[2] = {0.5, 3.0};
  size_t nf[2] = {NS, NS};
  for (int t = 0; t < NS; t++) {
    Hf[t] = 10.0 + 0.001 * t;
    Hf[NS + t] = 0.001 * t;
  }
  const size_t Uf = ising_mbar_distinct(2 * NS, Hf, Hfu, cf);
  double ff[2] = {0, 0};
  const int solved = !ising_mbar_solve(2, bf, nf, Uf, Hfu, cf, ff, lndf);
  const double o = solved ? (double)NS * ising_mbar_overlap(Uf, Hfu, cf, lndf, ff[0], bf[0], ff[1], bf[1]) : NAN;
  printf("overlap: two far-apart states %.3g\n", o);
  check(solved && o < 1e-4, "overlap: states whose energies do not overlap get almost none");
}

int main(void)
{
  test_exp();
  test_mbar();
  test_reweight_points();
  test_solver_blocks();
  test_overlap();
  printf("%d failure(s)\n", failures);
  return failures != 0;
}
