/* test_stats.c: the stats module (stats.h) against exact answers.
 *
 * Every check prints its measured deviation next to its tolerance; the exit
 * status is 0 iff all pass.  Statistical tolerances are a stated number of
 * standard deviations of the estimator plus any known bias; the random input
 * comes from a fixed seed, so a given build always sees the same numbers.
 *
 *   tau_int     AR(1) x_t = a x_{t-1} + sqrt(1-a^2) g_t, n = 1e6, a = 0, 0.5,
 *               0.9, 0.99 (FFT lags) against (1+a)/(2(1-a)); degenerate inputs.
 *   binning     binned error of the AR(1) mean against sqrt(2 tau_int / n);
 *               the drop-the-oldest rule; invalid bin counts; the bin rule.
 *   coverage    400 AR(1) series (a = 0.9) through tau_int -> choose_bins ->
 *               binned_mean: fraction with |mean| < err against Student t.
 *   jackknife   <x^2> - <x>^2 of iid normals against the exact sd of the
 *               sample variance; linear f against the binned error (1e-12).
 *   estimates   m = +-1, e iid normal: exact moments, Binder 2/3,
 *               susceptibility 0, specific heat beta^2 N var(e); n < 2;
 *               bit-identical repeated calls. */
#include "ising/stats.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double pi = 3.14159265358979323846;
static int failures;

static void check(const char *what, double deviation, double tolerance)
{
  const int ok = deviation <= tolerance; /* a NaN deviation fails */
  printf("%-62s deviation %10.3e  tolerance %10.3e  %s\n", what, deviation, tolerance, ok ? "ok" : "FAILED");
  if (!ok) failures++;
}

typedef struct {
  uint64_t state;
  int have_spare;
  double spare;
} rng;

static uint64_t splitmix64(rng *r)
{
  uint64_t z = (r->state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* In (0, 1): never 0, so log() in Box-Muller is finite. */
static double uniform(rng *r)
{
  return ((double)(splitmix64(r) >> 11) + 0.5) * 0x1p-53;
}

static double normal(rng *r)
{
  if (r->have_spare) {
    r->have_spare = 0;
    return r->spare;
  }
  const double radius = sqrt(-2.0 * log(uniform(r))), angle = 2.0 * pi * uniform(r);
  r->spare = radius * sin(angle);
  r->have_spare = 1;
  return radius * cos(angle);
}

/* Started from the stationary distribution (unit variance), so no
 * thermalisation is needed. */
static void ar1(rng *r, double a, double *x, size_t n)
{
  const double s = sqrt(1.0 - a * a);
  x[0] = normal(r);
  for (size_t i = 1; i < n; i++) x[i] = a * x[i - 1] + s * normal(r);
}

static double ar1_tau(double a)
{
  return (1.0 + a) / (2.0 * (1.0 - a));
}

/* Relative shortfall of the variance of a bin mean of L AR(1) values below
 * its asymptotic 2 tau_int / L: 2a(1 - a^L) / (L (1 - a^2)).  It bounds the
 * relative bias of a binned error from bins of length L. */
static double ar1_bin_bias(double a, size_t L)
{
  return 2.0 * a * (1.0 - pow(a, (double)L)) / ((double)L * (1.0 - a * a));
}

/* Relative standard deviation of an error estimated from nb bin means whose
 * distribution has excess kurtosis kappa: half that of their sample variance. */
static double error_of_error(size_t nb, double kappa)
{
  return 0.5 * sqrt(2.0 / (double)(nb - 1) + kappa / (double)nb);
}

/* P(|T| < 1) for Student's t with nu degrees of freedom: the coverage of a
 * one-sigma error bar estimated from nu + 1 bins.  Simpson's rule with 200
 * intervals is accurate to far below the binomial tolerance it feeds. */
static double student_t_within_one(double nu)
{
  const int intervals = 200;
  const double h = 2.0 / intervals;
  const double log_norm = lgamma(0.5 * (nu + 1.0)) - lgamma(0.5 * nu) - 0.5 * log(nu * pi);
  double sum = 0.0;
  for (int i = 0; i <= intervals; i++) {
    const double t = -1.0 + i * h;
    const double weight = (i == 0 || i == intervals) ? 1.0 : (i % 2 ? 4.0 : 2.0);
    sum += weight * exp(log_norm - 0.5 * (nu + 1.0) * log1p(t * t / nu));
  }
  return sum * h / 3.0;
}

static void test_tau_and_binned_error(rng *r)
{
  const size_t n = 1000000;
  /* a = 0.99 (tau = 99.5, window ~600) exercises the FFT path beyond the
   * first 64 lags. */
  const double as[] = {0.0, 0.5, 0.9, 0.99};
  double *x = malloc(n * sizeof *x);
  if (!x) {
    check("tau_int: allocation", 1.0, 0.0);
    return;
  }
  for (size_t i = 0; i < sizeof as / sizeof as[0]; i++) {
    const double a = as[i], exact = ar1_tau(a);
    char what[128];
    size_t W;
    ar1(r, a, x, n);
    const double tau = ising_stats_tau_int(x, n, ISING_STATS_TAU_WINDOW_C, &W);
    /* Madras-Sokal: var(tau)/tau^2 = 2(2W+1)/n; the truncated tail
     * sum_{t>W} a^t = a^(W+1)/(1-a) is a known bias, added.  (The bias from
     * subtracting the sample mean, ~tau (2W+1)/n, is below 1e-3 tau.) */
    const double sigma = exact * sqrt(2.0 * (2.0 * (double)W + 1.0) / (double)n);
    const double tail = pow(a, (double)W + 1.0) / (1.0 - a);
    snprintf(what, sizeof what, "tau_int AR(1) a=%.2f (W=%zu, tau=%.4f): 5 sigma + tail", a, W, tau);
    check(what, fabs(tau - exact), 5.0 * sigma + tail);

    int too_short;
    const size_t nb = ising_stats_choose_bins(n, tau, &too_short);
    double mean, err;
    ising_stats_binned_mean(x, n, nb, &mean, &err);
    const double exact_err = sqrt(2.0 * exact / (double)n);
    /* Relative error of the error from nb near-normal bin means, 4 sigma,
     * plus the bias of bins of finite length. */
    snprintf(what, sizeof what, "binned err/exact - 1, a=%.1f, %zu bins: 4 sigma + bias", a, nb);
    check(what, fabs(err / exact_err - 1.0), 4.0 * error_of_error(nb, 0.0) + ar1_bin_bias(a, n / nb));
    snprintf(what, sizeof what, "binned mean, a=%.1f (true 0): 5 exact errors", a);
    check(what, fabs(mean), 5.0 * exact_err);
  }
  free(x);
}

static void test_tau_degenerate(void)
{
  const double one = 0.7;
  double x[1000];
  size_t W = 99;
  double tau = ising_stats_tau_int(&one, 1, 0.0, &W);
  check("tau_int n=1: |tau - 1/2| + W (exact)", fabs(tau - 0.5) + (double)W, 0.0);
  for (size_t i = 0; i < 1000; i++) x[i] = 0.1;
  W = 99;
  tau = ising_stats_tau_int(x, 1000, 0.0, &W);
  check("tau_int constant 0.1 series: |tau - 1/2| + W (exact)", fabs(tau - 0.5) + (double)W, 0.0);
  x[500] = NAN;
  W = 99;
  tau = ising_stats_tau_int(x, 1000, 0.0, &W);
  check("tau_int with a NaN: tau not NaN (count) + W (exact)", (double)!isnan(tau) + (double)W, 0.0);
  for (size_t i = 0; i < 1000; i++) x[i] = (double)(i % 2);
  W = 99;
  tau = ising_stats_tau_int(x, 1000, 0.0, &W);
  /* Alternating series: rho(t) = (-1)^t (up to 1/(n-t) edge terms), so
   * tau_int(1) = -1/2 (< 1/2, not clamped) and the window closes at W = 1. */
  check("tau_int alternating series: |tau + 1/2| (W=1 expected)", fabs(tau + 0.5) + (double)(W != 1), 1e-12);
}

static void test_binning_rules(void)
{
  const double x[] = {100.0, 1.0, 2.0, 3.0, 4.0};
  double mean, err;
  ising_stats_binned_mean(x, 5, 2, &mean, &err);
  /* Drops x[0]; bins {1,2}, {3,4}: mean 2.5, err sqrt((1 + 1) / (2 * 1)) = 1. */
  check("binned_mean drops the oldest: |mean - 2.5| + |err - 1|", fabs(mean - 2.5) + fabs(err - 1.0), 0.0);
  ising_stats_binned_mean(x, 5, 1, &mean, &err);
  check("binned_mean 1 bin: mean of all, err NaN (exact)", fabs(mean - 22.0) + (double)!isnan(err), 0.0);
  ising_stats_binned_mean(x, 5, 6, &mean, &err);
  check("binned_mean n < nbins: mean of all, err NaN (exact)", fabs(mean - 22.0) + (double)!isnan(err), 0.0);

  static const struct {
    size_t n;
    double tau;
    size_t nbins;
    int too_short;
  } cases[] = {
      {1000000, 9.5, 64, 0},                       /* n / 95 = 10526 -> capped at 64 */
      {3000, 9.5, 31, 0},                          /* bins of 96 >= 95 */
      {1000, 9.5, 16, 1},                          /* 10 bins of 95 -> raised to 16 of 62 */
      {3000, 0.1, 64, 0},                          /* tau below 1/2 counts as 1/2 */
      {20, 0.5, 16, 1},                            /* bins of 1 < 5 */
      {10, 0.5, 10, 1},                            /* no more bins than values */
      {1, 0.5, 1, 1},        {100000, NAN, 16, 1}, /* unknown tau: flagged */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char what[128];
    int too_short = -1;
    const size_t nb = ising_stats_choose_bins(cases[i].n, cases[i].tau, &too_short);
    snprintf(what, sizeof what, "choose_bins(%zu, %g) = %zu, too_short %d (exact)", cases[i].n, cases[i].tau,
             cases[i].nbins, cases[i].too_short);
    check(what, fabs((double)nb - (double)cases[i].nbins) + abs(too_short - cases[i].too_short), 0.0);
  }
}

static void test_coverage(rng *r)
{
  const size_t n = 32768, series = 400;
  const double a = 0.9;
  double *x = malloc(n * sizeof *x);
  if (!x) {
    check("coverage: allocation", 1.0, 0.0);
    return;
  }
  double covered = 0.0, expected = 0.0, variance = 0.0, bias = 0.0;
  for (size_t s = 0; s < series; s++) {
    double mean, err;
    ar1(r, a, x, n);
    const size_t nb = ising_stats_choose_bins(n, ising_stats_tau_int(x, n, 0.0, NULL), NULL);
    ising_stats_binned_mean(x, n, nb, &mean, &err);
    const double p = student_t_within_one((double)(nb - 1));
    covered += fabs(mean) < err;
    expected += p;
    variance += p * (1.0 - p);
    bias = fmax(bias, ar1_bin_bias(a, n / nb));
  }
  /* Binomial: 4 sigma of the count.  Errors low by a relative eps shift the
   * coverage by 2 phi(1) eps, phi(1) = 0.242; eps <= the bin-length bias. */
  const double tol = 4.0 * sqrt(variance) / (double)series + 2.0 * 0.242 * bias;
  char what[128];
  snprintf(what, sizeof what, "coverage a=0.9: %.4f of %zu vs %.4f: 4 sigma + bias", covered / (double)series, series,
           expected / (double)series);
  check(what, fabs(covered - expected) / (double)series, tol);
  free(x);
}

static double sample_variance(const double *means, void *ctx)
{
  (void)ctx;
  return means[1] - means[0] * means[0];
}

static double first_mean(const double *means, void *ctx)
{
  (void)ctx;
  return means[0];
}

static double two_minus_three(const double *means, void *ctx)
{
  (void)ctx;
  return 2.0 * means[0] - 3.0 * means[1];
}

static void test_jackknife(rng *r)
{
  {
    const size_t n = 131072, nb = 256, L = n / nb;
    const double mu = 3.0, sd = 2.0, var = sd * sd;
    double *x = malloc(2 * n * sizeof *x);
    if (!x) {
      check("jackknife: allocation", 1.0, 0.0);
      return;
    }
    double *x2 = x + n;
    for (size_t i = 0; i < n; i++) {
      x[i] = mu + sd * normal(r);
      x2[i] = x[i] * x[i];
    }
    const double *series[2] = {x, x2};
    double value, err;
    ising_stats_jackknife(series, 2, n, nb, sample_variance, NULL, &value, &err);
    /* The 1/n sample variance of n normals: mean (n-1)/n var, sd
     * sqrt(2(n-1)) var / n; 5 sd plus the bias var / n. */
    const double exact_sd = sqrt(2.0 * (double)(n - 1)) * var / (double)n;
    check("jackknife <x^2>-<x>^2 iid normal: value, 5 sd + bias", fabs(value - var), 5.0 * exact_sd + var / (double)n);
    /* To first order the jackknife is the binned error of (x - mu)^2, whose
     * bin means are chi^2_L / L: excess kurtosis 12 / L.  4 sigma. */
    check("jackknife <x^2>-<x>^2 iid normal: err/exact sd - 1, 4 sigma", fabs(err / exact_sd - 1.0),
          4.0 * error_of_error(nb, 12.0 / (double)L));
    free(x);
  }
  {
    /* n % nb != 0, so the dropped values must be the same ones. */
    const size_t n = 100003, nb = 64;
    double *x = malloc(3 * n * sizeof *x);
    if (!x) {
      check("jackknife: allocation", 1.0, 0.0);
      return;
    }
    double *y = x + n, *z = x + 2 * n;
    ar1(r, 0.5, x, n);
    for (size_t i = 0; i < n; i++) {
      y[i] = x[i] + normal(r);
      z[i] = 2.0 * x[i] - 3.0 * y[i];
    }
    const double *series[2] = {x, y};
    double value, err, mean, binned_err;
    ising_stats_jackknife(series, 2, n, nb, first_mean, NULL, &value, &err);
    ising_stats_binned_mean(x, n, nb, &mean, &binned_err);
    check("jackknife f=<x>: |value - binned mean| / binned err", fabs(value - mean) / binned_err, 1e-12);
    check("jackknife f=<x>: |err / binned err - 1|", fabs(err / binned_err - 1.0), 1e-12);
    /* The covariance of x and y enters through the common bins. */
    ising_stats_jackknife(series, 2, n, nb, two_minus_three, NULL, &value, &err);
    ising_stats_binned_mean(z, n, nb, &mean, &binned_err);
    check("jackknife f=2<x>-3<y>: |value - binned mean of z| / binned err", fabs(value - mean) / binned_err, 1e-12);
    check("jackknife f=2<x>-3<y>: |err / binned err of z - 1|", fabs(err / binned_err - 1.0), 1e-12);
    ising_stats_jackknife(series, 2, n, 1, first_mean, NULL, &value, &err);
    check("jackknife 1 bin: err NaN (count)", (double)!isnan(err), 0.0);
    free(x);
  }
}

static const size_t estimate_fields[] = {
    offsetof(ising_estimates, energy),
    offsetof(ising_estimates, energy_err),
    offsetof(ising_estimates, magnetization),
    offsetof(ising_estimates, magnetization_err),
    offsetof(ising_estimates, abs_magnetization),
    offsetof(ising_estimates, abs_magnetization_err),
    offsetof(ising_estimates, m2),
    offsetof(ising_estimates, m2_err),
    offsetof(ising_estimates, m4),
    offsetof(ising_estimates, m4_err),
    offsetof(ising_estimates, specific_heat),
    offsetof(ising_estimates, specific_heat_err),
    offsetof(ising_estimates, susceptibility),
    offsetof(ising_estimates, susceptibility_err),
    offsetof(ising_estimates, binder),
    offsetof(ising_estimates, binder_err),
    offsetof(ising_estimates, tau_int_energy),
    offsetof(ising_estimates, tau_int_abs_magnetization),
    offsetof(ising_estimates, tau_int_m2),
};

static const size_t error_fields[] = {
    offsetof(ising_estimates, energy_err),
    offsetof(ising_estimates, magnetization_err),
    offsetof(ising_estimates, abs_magnetization_err),
    offsetof(ising_estimates, m2_err),
    offsetof(ising_estimates, m4_err),
    offsetof(ising_estimates, specific_heat_err),
    offsetof(ising_estimates, susceptibility_err),
    offsetof(ising_estimates, binder_err),
};

static double field(const ising_estimates *s, size_t offset)
{
  double v;
  memcpy(&v, (const char *)s + offset, sizeof v);
  return v;
}

static void test_estimates(rng *r)
{
  const size_t n = 65536;
  const double beta = 0.44, N = 256.0, e0 = -1.2, sd = 0.3;
  double *e = malloc(2 * n * sizeof *e);
  if (!e) {
    check("estimates: allocation", 1.0, 0.0);
    return;
  }
  double *m = e + n;
  for (size_t i = 0; i < n; i++) {
    e[i] = e0 + sd * normal(r);
    m[i] = uniform(r) < 0.5 ? 1.0 : -1.0;
  }
  ising_estimates s;
  ising_estimates_compute(e, m, n, beta, N, &s);
  const size_t nb = s.nbins, L = n / nb;
  const double eoe = 4.0 * error_of_error(nb, 0.0);

  check("estimates: nbins 64, not too short (exact)", fabs((double)nb - 64.0) + s.bins_too_short, 0.0);
  check("estimates: <|m|> = 1, err 0 (exact)", fabs(s.abs_magnetization - 1.0) + s.abs_magnetization_err, 0.0);
  check("estimates: <m^2> = <m^4> = 1, errs 0 (exact)", fabs(s.m2 - 1.0) + fabs(s.m4 - 1.0) + s.m2_err + s.m4_err, 0.0);
  check("estimates: tau_int of |m| and m^2 = 1/2 (exact)",
        fabs(s.tau_int_abs_magnetization - 0.5) + fabs(s.tau_int_m2 - 0.5), 0.0);
  check("estimates: susceptibility 0, err 0 (exact)", fabs(s.susceptibility) + s.susceptibility_err, 0.0);
  /* Every leave-one-out value is bit-identical; only the rounding of their
   * mean over nb terms can leave a spread. */
  check("estimates: |binder - 2/3|, rounding", fabs(s.binder - 2.0 / 3.0), 2.0 * DBL_EPSILON);
  check("estimates: binder err, rounding of nb equal terms", s.binder_err, (double)nb * DBL_EPSILON);

  const double m_err = 1.0 / sqrt((double)n);
  check("estimates: |<m>| (true 0), 5 exact errors", fabs(s.magnetization), 5.0 * m_err);
  check("estimates: <m> err/exact - 1, 4 sigma", fabs(s.magnetization_err / m_err - 1.0), eoe);

  const double e_err = sd / sqrt((double)n);
  check("estimates: |<e> - e0|, 5 exact errors", fabs(s.energy - e0), 5.0 * e_err);
  check("estimates: <e> err/exact - 1, 4 sigma", fabs(s.energy_err / e_err - 1.0), eoe);

  size_t W;
  const double tau_e = ising_stats_tau_int(e, n, ISING_STATS_TAU_WINDOW_C, &W);
  check("estimates: tau_int_energy = ising_stats_tau_int(e) (exact)", fabs(s.tau_int_energy - tau_e), 0.0);
  check("estimates: |tau_int_energy - 1/2|, 5 sigma (Madras-Sokal)", fabs(s.tau_int_energy - 0.5),
        5.0 * 0.5 * sqrt(2.0 * (2.0 * (double)W + 1.0) / (double)n));

  /* Specific heat beta^2 N var(e): the sample variance has relative sd
   * sqrt(2/n) (bias 1/n added); its jackknife error has the kurtosis
   * correction of chi^2_L bin means. */
  const double c_exact = beta * beta * N * sd * sd, c_sd = c_exact * sqrt(2.0 / (double)n);
  check("estimates: specific heat / beta^2 N var - 1, 5 sigma + bias", fabs(s.specific_heat / c_exact - 1.0),
        5.0 * sqrt(2.0 / (double)n) + 1.0 / (double)n);
  check("estimates: specific heat err/exact sd - 1, 4 sigma", fabs(s.specific_heat_err / c_sd - 1.0),
        4.0 * error_of_error(nb, 12.0 / (double)L));

  ising_estimates again;
  ising_estimates_compute(e, m, n, beta, N, &again);
  ar1(r, 0.8, e, n);
  ar1(r, 0.95, m, n);
  ising_estimates_compute(e, m, n, beta, N, &s);
  memset(&again, 0, sizeof again);
  ising_estimates_compute(e, m, n, beta, N, &again);
  double differing = (s.n != again.n) + (s.nbins != again.nbins) + (s.bins_too_short != again.bins_too_short);
  for (size_t i = 0; i < sizeof estimate_fields / sizeof estimate_fields[0]; i++) {
    const double u = field(&s, estimate_fields[i]), v = field(&again, estimate_fields[i]);
    differing += memcmp(&u, &v, sizeof u) != 0;
  }
  check("estimates: repeated call, fields not bit-identical (count)", differing, 0.0);

  for (size_t len = 0; len < 2; len++) {
    char what[128];
    ising_estimates_compute(e, m, len, beta, N, &s);
    double not_nan = 0.0;
    for (size_t i = 0; i < sizeof error_fields / sizeof error_fields[0]; i++)
      not_nan += !isnan(field(&s, error_fields[i]));
    snprintf(what, sizeof what, "estimates n=%zu: errors not NaN (count)", len);
    check(what, not_nan, 0.0);
    snprintf(what, sizeof what, "estimates n=%zu: energy %s", len, len ? "= e[0]" : "NaN");
    check(what, len ? fabs(s.energy - e[0]) : (double)!isnan(s.energy), 0.0);
  }
  free(e);
}

int main(void)
{
  rng r = {0x5eed2024u, 0, 0.0};
  test_tau_and_binned_error(&r);
  test_tau_degenerate();
  test_binning_rules();
  test_coverage(&r);
  test_jackknife(&r);
  test_estimates(&r);
  printf("%s: %d check(s) failed\n", failures ? "FAILED" : "passed", failures);
  return failures ? 1 : 0;
}
