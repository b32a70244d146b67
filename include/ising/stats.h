/* stats.h: error analysis of Monte Carlo time series and the estimates of
 * one temperature built from it.  Everything here is local (no MPI) and
 * deterministic: sums run in a fixed order, so the same input gives
 * bit-identical output.
 *
 * Binning convention shared by every function below: a series of n values is
 * cut into nbins consecutive bins of n / nbins values each, and the first
 * n % nbins values (the oldest, least thermalised) are dropped.  Means
 * reported next to a binned error are means of the kept values, so the
 * jackknife of a linear function reproduces the binned error.
 *
 *   double ising_stats_tau_int(const double *x, size_t n, double c,
 *                              size_t *window)
 *       Local.  Integrated autocorrelation time with Sokal's automatic
 *       window, tau_int = 1/2 for uncorrelated data.
 *
 *   void ising_stats_binned_mean(const double *x, size_t n, size_t nbins,
 *                                double *mean, double *err)
 *       Local.  Mean and its standard error from the spread of bin means.
 *
 *   size_t ising_stats_choose_bins(size_t n, double tau_max, int *too_short)
 *       Local.  The bin count the code uses for n values with the given
 *       autocorrelation time; flags bins shorter than 10 tau_int.
 *
 *   void ising_stats_jackknife(const double *const *series, int k, size_t n,
 *                              size_t nbins, ising_stats_derived_fn f,
 *                              void *ctx, double *value, double *err)
 *       Local.  f of the means of k series and its jackknife error over bins.
 *
 *   void ising_estimates_compute(const double *e, const double *m, size_t n,
 *                                double beta, double N, ising_estimates *out)
 *       Local.  Energy, magnetisation, moments, specific heat,
 *       susceptibility and Binder cumulant with errors, from the time series
 *       of one temperature. */
#ifndef ISING_STATS_H
#define ISING_STATS_H

#include <stddef.h>

/* Sokal's window factor c: the window W is the smallest with W >= c tau_int(W). */
#define ISING_STATS_TAU_WINDOW_C 6.0
/* Bins are meant to be at least this many tau_int long. */
#define ISING_STATS_BIN_TAU_FACTOR 10.0
/* Bin count limits of ising_stats_choose_bins. */
#define ISING_STATS_MIN_BINS 16
#define ISING_STATS_MAX_BINS 64

/* tau_int(W) = 1/2 + sum_{t=1..W} rho(t), rho(t) = C(t)/C(0) with
 * C(t) = 1/(n-t) sum_i (x_i - xbar)(x_{i+t} - xbar), and W the smallest
 * window with W >= c tau_int(W); c <= 0 (or NaN) selects
 * ISING_STATS_TAU_WINDOW_C.  The error of the mean is then
 * sqrt(2 tau_int var / n).  The first 64 lags use direct sums (O(n) each,
 * about 0.4 ns per value and lag); a window beyond that switches to all lags
 * at once by FFT (O(n log n), zero-padded to a power of two >= 2n), so a
 * long autocorrelation time never costs O(n^2).  W is capped at
 * n/2; a returned W == n/2 means the condition never held and the series is
 * far too short for its autocorrelation time.  The result is not clamped:
 * anticorrelated data can give tau_int < 1/2.  Degenerate input (n < 2 or
 * all values equal) gives 1/2 with W = 0; NaN in x gives NaN with W = 0.
 * *window receives W when window is not NULL. */
double ising_stats_tau_int(const double *x, size_t n, double c, size_t *window);

/* Mean of the kept values and standard error of the mean,
 * sqrt(sum_b (B_b - mean)^2 / (nbins (nbins - 1))) over the bin means B_b.
 * Needs nbins >= 2 and n >= nbins; otherwise *mean is the mean of all n
 * values (NaN for n == 0) and *err is NaN. */
void ising_stats_binned_mean(const double *x, size_t n, size_t nbins, double *mean, double *err);

/* Rule: bins of at least L_min = ceil(10 tau) values, tau = max(tau_max, 1/2),
 * i.e. nbins = n / L_min clamped to [16, 64] (and to n).  Why: bins of length
 * L underestimate the error by O(tau_int / L), about 5% at L = 10 tau_int (an
 * AR(1) process), already below the statistical error of the error from 64
 * bins, 1/sqrt(2 * 63) = 9%; beyond 64 bins the error bar would gain
 * precision only by shortening bins towards that bias, so spare data go into
 * longer bins instead.  At least 16 bins keep the error of the error below
 * 1/sqrt(2 * 15) = 18% and the jackknife stable, even when that makes bins
 * shorter than L_min.  A NaN tau_max counts as infinite (16 bins).
 * *too_short (if not NULL) is set to 1 when the bins actually used are
 * shorter than 10 tau (always for n < 2, where n is returned, and for NaN
 * tau_max), else 0. */
size_t ising_stats_choose_bins(size_t n, double tau_max, int *too_short);

/* A derived quantity f(<A_1>, ..., <A_k>) of the means of k series. */
typedef double (*ising_stats_derived_fn)(const double *means, void *ctx);

/* Bins each of the k series (all of length n) into nbins bins, evaluates f on
 * the k leave-one-bin-out means for each bin b, and returns *value =
 * f(means of the kept values) (not bias-corrected) and
 * *err = sqrt((nbins-1)/nbins sum_b (f_b - fbar)^2).  Needs k >= 1,
 * nbins >= 2 and n >= nbins; otherwise *value is f of the means of all n
 * values (NaN for n == 0 or k < 1) and *err is NaN.  Both are NaN if the
 * workspace, about (k + 1) nbins doubles, cannot be allocated. */
void ising_stats_jackknife(const double *const *series, int k, size_t n, size_t nbins, ising_stats_derived_fn f,
                           void *ctx, double *value, double *err);

/* The Monte Carlo estimates for one temperature. */
typedef struct {
  size_t n;                                        /* measurements */
  size_t nbins;                                    /* bins used for every error below */
  int bins_too_short;                              /* 1: bins shorter than 10 tau_int, errors too small */
  double energy, energy_err;                       /* <e> */
  double magnetization, magnetization_err;         /* <m> signed */
  double abs_magnetization, abs_magnetization_err; /* <|m|> */
  double m2, m2_err, m4, m4_err;                   /* <m^2>, <m^4> */
  double specific_heat, specific_heat_err;         /* beta^2 N (<e^2> - <e>^2) */
  double susceptibility, susceptibility_err;       /* beta N (<m^2> - <|m|>^2) */
  double binder, binder_err;                       /* 1 - <m^4> / (3 <m^2>^2) */
  double tau_int_energy, tau_int_abs_magnetization, tau_int_m2;
} ising_estimates;

/* From the energy per spin e[t] and the signed magnetisation per spin m[t],
 * t = 0..n-1, at inverse temperature beta with N spins.  The bin count is
 * ising_stats_choose_bins(n, max of the three tau_int (window factor
 * ISING_STATS_TAU_WINDOW_C)); means and their errors come from binning,
 * derived quantities and their errors from the jackknife over the same bins.
 * The signed magnetisation's own tau_int is not consulted (below T_c it is
 * the tunnelling time), so its error is only meaningful when m decorrelates
 * as fast as |m|.  For n < 2 every error is NaN, nbins = n and
 * bins_too_short = 1; the values are those of the single measurement (NaN for
 * n == 0). */
void ising_estimates_compute(const double *e, const double *m, size_t n, double beta, double N, ising_estimates *out);

#endif
