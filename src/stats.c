/* stats.c: error analysis of Monte Carlo time series (stats.h).  All local.
 *   ising_stats_tau_int       tau_int with Sokal's automatic window (direct
 *                             sums for the first 64 lags, then all lags by FFT)
 *   ising_stats_binned_mean   mean and standard error from bin means
 *   ising_stats_choose_bins   bin count from n and tau_int
 *   ising_stats_jackknife     f of k means with its jackknife error
 *   ising_estimates_compute   every estimate of one temperature
 *
 * |m|, m^2, m^4 and e^2 are formed on the fly from the stored series
 * (observable()), so ising_estimates_compute copies no series: its only
 * workspace is the bin means, at most ISING_STATS_MAX_BINS per observable,
 * on the stack.  Every sum runs in a fixed order, for bit-identical results. */
#include "ising/stats.h"

#include "ising/fft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum observable { OBS_VALUE, OBS_ABS, OBS_SQUARE, OBS_FOURTH };

static inline double observable(double x, enum observable o)
{
  switch (o) {
  case OBS_ABS: return fabs(x);
  case OBS_SQUARE: return x * x;
  case OBS_FOURTH: return (x * x) * (x * x);
  default: return x;
  }
}

static double series_mean(const double *x, size_t n, enum observable o)
{
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) sum += observable(x[i], o);
  return sum / (double)n;
}

static int series_constant(const double *x, size_t n, enum observable o)
{
  const double first = observable(x[0], o);
  for (size_t i = 1; i < n; i++)
    if (observable(x[i], o) != first) return 0;
  return 1;
}

/* sum_{i < n-t} (y_i - mu)(y_{i+t} - mu) with y = observable(x).  This loop is
 * the whole cost of tau_int; four partial sums break the dependency chain of
 * the floating-point adds (about 4x faster) and still fix the order. */
static double lagged_sum(const double *x, size_t n, size_t t, enum observable o, double mu)
{
  const size_t len = n - t;
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    s0 += (observable(x[i], o) - mu) * (observable(x[i + t], o) - mu);
    s1 += (observable(x[i + 1], o) - mu) * (observable(x[i + 1 + t], o) - mu);
    s2 += (observable(x[i + 2], o) - mu) * (observable(x[i + 2 + t], o) - mu);
    s3 += (observable(x[i + 3], o) - mu) * (observable(x[i + 3 + t], o) - mu);
  }
  for (; i < len; i++) s0 += (observable(x[i], o) - mu) * (observable(x[i + t], o) - mu);
  return (s0 + s1) + (s2 + s3);
}

/* All lagged sums sum_{i<n-t} (y_i - mu)(y_{i+t} - mu), t < n, by FFT in
 * O(n log n) (ising_fft_autocorrelation); NULL if out of memory. */
static double *lagged_sums_fft(const double *x, size_t n, enum observable o, double mu)
{
  double *y = malloc(sizeof(double) * n), *r = malloc(sizeof(double) * n);
  if (y && r) {
    for (size_t i = 0; i < n; i++) y[i] = observable(x[i], o) - mu;
    if (ising_fft_autocorrelation(y, n, r) == 0) {
      free(y);
      return r;
    }
  }
  free(y);
  free(r);
  return NULL;
}

/* Lags scanned with direct sums before switching to the FFT: short
 * autocorrelation times (the common case) cost O(n W) with W small; long
 * ones would cost O(n^2) directly. */
#define DIRECT_LAGS 64

static double tau_int_of(const double *x, size_t n, enum observable o, double c, size_t *window)
{
  if (window) *window = 0;
  if (n < 2) return 0.5;
  if (!(c > 0.0)) c = ISING_STATS_TAU_WINDOW_C;
  const double mu = series_mean(x, n, o);
  const double c0 = lagged_sum(x, n, 0, o, mu) / (double)n;
  if (isnan(c0)) return NAN;
  /* Tested exactly rather than via c0 == 0: a constant series whose mean is
   * not representable has a tiny c0 > 0 and rho(t) = 1 for every t, so the
   * window condition would never hold and the scan would cost O(n^2). */
  if (series_constant(x, n, o)) return 0.5;
  const size_t wmax = n / 2;
  double tau = 0.5, *sums = NULL;
  size_t t = 1;
  for (; t <= wmax; t++) {
    if (t > DIRECT_LAGS && !sums) sums = lagged_sums_fft(x, n, o, mu);
    tau += (sums ? sums[t] : lagged_sum(x, n, t, o, mu)) / ((double)(n - t) * c0);
    if ((double)t >= c * tau) break;
  }
  free(sums);
  if (window) *window = t <= wmax ? t : wmax;
  return tau;
}

double ising_stats_tau_int(const double *x, size_t n, double c, size_t *window)
{
  return tau_int_of(x, n, OBS_VALUE, c, window);
}

/* Bin b of nb consecutive bins over x[n % nb .. n). */
static double bin_mean(const double *x, size_t n, size_t nb, size_t b, enum observable o)
{
  const size_t len = n / nb;
  return series_mean(x + n % nb + b * len, len, o);
}

/* Invalid requests fall back to one bin of all n values (a mean, no error). */
static size_t usable_bins(size_t n, size_t nbins)
{
  return nbins >= 2 && n >= nbins ? nbins : (n > 0);
}

/* Needs n >= nb.  The bin means are recomputed in the second pass rather than
 * stored, so that any nb works without allocation; the same function gives
 * the same bits both times. */
static void binned_stats(const double *x, size_t n, enum observable o, size_t nb, double *mean, double *err)
{
  *mean = NAN;
  *err = NAN;
  if (nb == 0) return;
  double sum = 0.0;
  for (size_t b = 0; b < nb; b++) sum += bin_mean(x, n, nb, b, o);
  *mean = sum / (double)nb;
  if (nb < 2) return;
  double ss = 0.0;
  for (size_t b = 0; b < nb; b++) {
    const double d = bin_mean(x, n, nb, b, o) - *mean;
    ss += d * d;
  }
  *err = sqrt(ss / ((double)nb * (double)(nb - 1)));
}

void ising_stats_binned_mean(const double *x, size_t n, size_t nbins, double *mean, double *err)
{
  binned_stats(x, n, OBS_VALUE, usable_bins(n, nbins), mean, err);
}

size_t ising_stats_choose_bins(size_t n, double tau_max, int *too_short)
{
  /* An unknown (NaN) tau gets the longest bins there are. */
  const double tau = isnan(tau_max) ? INFINITY : fmax(tau_max, 0.5);
  const double len_min = ceil(ISING_STATS_BIN_TAU_FACTOR * tau);
  size_t nb = n;
  int short_bins = 1;
  if (n >= 2) {
    nb = len_min < (double)n ? n / (size_t)len_min : 0;
    if (nb < ISING_STATS_MIN_BINS) nb = ISING_STATS_MIN_BINS;
    if (nb > ISING_STATS_MAX_BINS) nb = ISING_STATS_MAX_BINS;
    if (nb > n) nb = n;
    short_bins = (double)(n / nb) < ISING_STATS_BIN_TAU_FACTOR * tau;
  }
  if (too_short) *too_short = short_bins;
  return nb;
}

/* bm[a * nb + b] is the mean of bin b of series a; work holds 2 k + nb
 * doubles.  Leave-one-out means are (total - B_b) / (nb - 1) of the bin
 * means, so for a linear f this is algebraically the binned error. */
static void jackknife_bins(const double *bm, int k, size_t nb, ising_stats_derived_fn f, void *ctx, double *work,
                           double *value, double *err)
{
  double *total = work, *means = work + k, *fb = work + 2 * k;
  *value = NAN;
  *err = NAN;
  if (nb == 0) return;
  for (int a = 0; a < k; a++) {
    total[a] = 0.0;
    for (size_t b = 0; b < nb; b++) total[a] += bm[(size_t)a * nb + b];
    means[a] = total[a] / (double)nb;
  }
  *value = f(means, ctx);
  if (nb < 2) return;
  double fbar = 0.0;
  for (size_t b = 0; b < nb; b++) {
    for (int a = 0; a < k; a++) means[a] = (total[a] - bm[(size_t)a * nb + b]) / (double)(nb - 1);
    fb[b] = f(means, ctx);
    fbar += fb[b];
  }
  fbar /= (double)nb;
  double ss = 0.0;
  for (size_t b = 0; b < nb; b++) ss += (fb[b] - fbar) * (fb[b] - fbar);
  *err = sqrt((double)(nb - 1) / (double)nb * ss);
}

void ising_stats_jackknife(const double *const *series, int k, size_t n, size_t nbins, ising_stats_derived_fn f,
                           void *ctx, double *value, double *err)
{
  *value = NAN;
  *err = NAN;
  if (k < 1) return;
  const size_t nb = usable_bins(n, nbins);
  const size_t ks = (size_t)k;
  double *bm = malloc((ks * nb + 2 * ks + nb) * sizeof *bm);
  if (!bm) return;
  for (size_t a = 0; a < ks; a++)
    for (size_t b = 0; b < nb; b++) bm[a * nb + b] = bin_mean(series[a], n, nb, b, OBS_VALUE);
  jackknife_bins(bm, k, nb, f, ctx, bm + ks * nb, value, err);
  free(bm);
}

typedef struct {
  double beta, N;
} thermo_ctx;

/* means = {<e>, <e^2>} */
static double specific_heat(const double *means, void *ctx)
{
  const thermo_ctx *th = ctx;
  return th->beta * th->beta * th->N * (means[1] - means[0] * means[0]);
}

/* means = {<|m|>, <m^2>} */
static double susceptibility(const double *means, void *ctx)
{
  const thermo_ctx *th = ctx;
  return th->beta * th->N * (means[1] - means[0] * means[0]);
}

/* means = {<m^2>, <m^4>} */
static double binder(const double *means, void *ctx)
{
  (void)ctx;
  return 1.0 - means[1] / (3.0 * means[0] * means[0]);
}

/* Rows of the bin-mean table; each jackknife below takes two adjacent rows. */
enum { ROW_E, ROW_E2, ROW_ABS_M, ROW_M2, ROW_M4, NROWS };

void ising_estimates_compute(const double *e, const double *m, size_t n, double beta, double N, ising_estimates *out)
{
  static const struct {
    int of_m;
    enum observable o;
  } rows[NROWS] = {[ROW_E] = {0, OBS_VALUE},
                   [ROW_E2] = {0, OBS_SQUARE},
                   [ROW_ABS_M] = {1, OBS_ABS},
                   [ROW_M2] = {1, OBS_SQUARE},
                   [ROW_M4] = {1, OBS_FOURTH}};
  double bm[NROWS * ISING_STATS_MAX_BINS];
  double work[2 * 2 + ISING_STATS_MAX_BINS];
  thermo_ctx th = {beta, N};

  memset(out, 0, sizeof *out);
  out->n = n;
  out->tau_int_energy = tau_int_of(e, n, OBS_VALUE, ISING_STATS_TAU_WINDOW_C, NULL);
  out->tau_int_abs_magnetization = tau_int_of(m, n, OBS_ABS, ISING_STATS_TAU_WINDOW_C, NULL);
  out->tau_int_m2 = tau_int_of(m, n, OBS_SQUARE, ISING_STATS_TAU_WINDOW_C, NULL);
  double tau_max = fmax(out->tau_int_energy, fmax(out->tau_int_abs_magnetization, out->tau_int_m2));
  if (isnan(out->tau_int_energy) || isnan(out->tau_int_abs_magnetization) || isnan(out->tau_int_m2)) tau_max = NAN;
  const size_t nb = ising_stats_choose_bins(n, tau_max, &out->bins_too_short);
  out->nbins = nb;

  binned_stats(e, n, OBS_VALUE, nb, &out->energy, &out->energy_err);
  binned_stats(m, n, OBS_VALUE, nb, &out->magnetization, &out->magnetization_err);
  binned_stats(m, n, OBS_ABS, nb, &out->abs_magnetization, &out->abs_magnetization_err);
  binned_stats(m, n, OBS_SQUARE, nb, &out->m2, &out->m2_err);
  binned_stats(m, n, OBS_FOURTH, nb, &out->m4, &out->m4_err);

  for (int r = 0; r < NROWS; r++)
    for (size_t b = 0; b < nb; b++) bm[(size_t)r * nb + b] = bin_mean(rows[r].of_m ? m : e, n, nb, b, rows[r].o);
  jackknife_bins(bm + ROW_E * nb, 2, nb, specific_heat, &th, work, &out->specific_heat, &out->specific_heat_err);
  jackknife_bins(bm + ROW_ABS_M * nb, 2, nb, susceptibility, &th, work, &out->susceptibility, &out->susceptibility_err);
  jackknife_bins(bm + ROW_M2 * nb, 2, nb, binder, NULL, work, &out->binder, &out->binder_err);
}
