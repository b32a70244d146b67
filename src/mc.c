/* mc.c: the Monte Carlo task (mc.h).
 *   ising_spins_init              local
 *   ising_mc_sweep, ising_mc_run  collective */
#include "ising/mc.h"

#include "ising/checkpoint.h"
#include "ising/couplings.h"
#include "ising/error.h"
#include "ising/freeenergy.h"
#include "ising/observables.h"
#include "ising/rebalance.h"
#include "ising/rng.h"
#include "ising/stats.h"
#include "ising/timers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ising_spins_init(const ising_geometry *g, uint64_t seed, uint32_t stream, uint64_t step, int hot, int8_t *spins)
{
  memset(spins, 0, g->nextended);
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++)
      for (int ex = 1; ex <= g->n[0]; ex++) {
        uint64_t site = (uint64_t)ising_geometry_global_index(g, ex, ey, ez);
        spins[ising_geometry_index(g, ex, ey, ez)] = !hot || ising_rng_u32(seed, stream, step, site) & 1 ? 1 : -1;
      }
}

typedef struct {
  ising_halo *halo;
  int8_t *spins;
} mid_exchange;

/* The exchange between the colours of a fused sweep: axes y and z only (the
 * kernel fills the x halo itself), started as soon as colour 0 is final on
 * the faces and completed when colour 1 needs it. */
static void mid_begin(void *ctx)
{
  mid_exchange *x = ctx;
  ising_timer_switch(ISING_PHASE_UPDATE, ISING_PHASE_HALO);
  ising_halo_begin(x->halo, x->spins, 1);
  ising_timer_switch(ISING_PHASE_HALO, ISING_PHASE_UPDATE);
}

static void mid_end(void *ctx)
{
  mid_exchange *x = ctx;
  ising_timer_switch(ISING_PHASE_UPDATE, ISING_PHASE_HALO);
  ising_halo_end(x->halo);
  ising_timer_switch(ISING_PHASE_HALO, ISING_PHASE_UPDATE);
}

/* Measurements wait here until MEASURE_BATCH of them (or the end of a
 * temperature, or a checkpoint) are reduced over the ranks in one
 * all-reduce: with a measurement after every sweep, the ranks would
 * otherwise meet in an all-reduce after every sweep (the values are the
 * same either way: exact integer sums). */
#define MEASURE_BATCH 64
typedef struct {
  int n;         /* measurements waiting */
  int64_t first; /* the index of the first in the time series */
  ising_observables_sums sums[MEASURE_BATCH];
} measurements;

/* The time series e and m are kept on rank 0 alone (the other ranks pass NULL). */
static void flush_measurements(const ising_geometry *g, measurements *pm, double *e, double *m)
{
  if (!pm->n) return;
  double ev[MEASURE_BATCH], mv[MEASURE_BATCH];
  ising_observables_reduce(g, pm->n, pm->sums, ev, mv);
  if (e) memcpy(e + pm->first, ev, sizeof(double) * (size_t)pm->n);
  if (m) memcpy(m + pm->first, mv, sizeof(double) * (size_t)pm->n);
  pm->n = 0;
}

/* The energy and magnetisation are tracked from the kernels' exact changes
 * (ising_sweep_stats), so a measurement needs no pass over the lattice.  A
 * rank's tracked values are its share at the start plus the changes of its
 * own sites, which differ from its share of the bonds; their sums over the
 * ranks are the totals.  confirm_tracked measures both by a pass and
 * compares the totals, exactly (collective); 0, or -1 (message printed on
 * every rank) if they differ. */
static int confirm_tracked(const ising_geometry *g, const ising_couplings *c, const int8_t *spins,
                           ising_observables_sums tracked)
{
  const ising_observables_sums measured = ising_observables_local(g, c, spins);
  ising_int128 v[4] = {tracked.energy, measured.energy, tracked.magnetization, measured.magnetization};
  ising_allreduce_int128(g->comm, v, 4);
  return ising_check(g->comm, v[0] != v[1] || v[2] != v[3],
                     "internal error: the tracked energy or magnetisation differs from the measured one");
}

void ising_mc_sweep(ising_sweeper *k, ising_halo *halo, int8_t *spins, uint64_t step, ising_sweep_stats *acc)
{
  if (ising_sweep_fused_ok(k)) {
    mid_exchange x = {halo, spins};
    ising_timer_start(ISING_PHASE_UPDATE);
    ising_sweep_fused(k, spins, step, mid_begin, mid_end, &x, acc);
    ising_timer_switch(ISING_PHASE_UPDATE, ISING_PHASE_HALO);
    ising_halo_begin(halo, spins, 1); /* the kernel filled the x halo */
    ising_halo_end(halo);
    ising_timer_stop(ISING_PHASE_HALO);
    return;
  }
  for (int colour = 0; colour < 2; colour++) {
    ising_timer_start(ISING_PHASE_UPDATE);
    ising_sweep_colour(k, spins, colour, step, acc);
    ising_timer_switch(ISING_PHASE_UPDATE, ISING_PHASE_HALO);
    ising_halo_exchange(halo, spins);
    ising_timer_stop(ISING_PHASE_HALO);
  }
}

/* The per-temperature datasets of /observables, in the order written. */
static const char *const obs_names[] = {"beta",
                                        "energy",
                                        "energy_err",
                                        "magnetization",
                                        "magnetization_err",
                                        "abs_magnetization",
                                        "abs_magnetization_err",
                                        "m2",
                                        "m2_err",
                                        "m4",
                                        "m4_err",
                                        "specific_heat",
                                        "specific_heat_err",
                                        "susceptibility",
                                        "susceptibility_err",
                                        "binder",
                                        "binder_err",
                                        "tau_int_energy",
                                        "tau_int_abs_magnetization",
                                        "tau_int_m2",
                                        "acceptance",
                                        "measurements",
                                        "bins",
                                        "bins_too_short"};
#define NOBS (sizeof(obs_names) / sizeof(obs_names[0]))

static const char *const exact_names[] = {
    "energy_exact", "specific_heat_exact",  "magnetization_exact", "abs_magnetization_exact", "m2_exact",
    "m4_exact",     "susceptibility_exact", "binder_exact"};
#define NEXACT (sizeof(exact_names) / sizeof(exact_names[0]))

static int write_entry(ising_io *io, const char *group, const char *name, int k, double v)
{
  char path[256];
  int64_t start = k, count = 1;
  snprintf(path, sizeof(path), "%s/%s", group, name);
  return ising_io_write_double(io, path, &start, &count, &v);
}

int ising_mc_create_observables(const ising_params *p, int have_exact, ising_io *io)
{
  const int64_t nmeas = p->sweeps / p->measure_interval;
  char path[256];
  int64_t nb = p->nbeta, dims[2] = {nmeas, p->nbeta};
  int rc = ising_io_group(io, "/observables");
  for (size_t k = 0; k < NOBS && !rc; k++) {
    snprintf(path, sizeof(path), "/observables/%s", obs_names[k]);
    rc = ising_io_dataset_double(io, path, 1, &nb);
  }
  if (!rc) rc = ising_io_dataset_double(io, "/timeseries/energy", 2, dims);
  if (!rc) rc = ising_io_dataset_double(io, "/timeseries/magnetization", 2, dims);
  if (!rc) rc = ising_io_attr_int64(io, "/timeseries", "measure_interval", &p->measure_interval, 0);
  if (!rc) rc = ising_io_attr_int64(io, "/timeseries", "thermalize", &p->thermalize, 0);
  for (size_t k = 0; k < NEXACT && !rc && have_exact; k++) {
    snprintf(path, sizeof(path), "/observables/%s", exact_names[k]);
    rc = ising_io_dataset_double(io, path, 1, &nb);
  }
  return rc;
}

static int create_spin_datasets(const ising_geometry *g, int64_t nsnap, ising_io *io)
{
  int rc = ising_io_dataset_field(io, "/state/spins", 0, g, H5T_NATIVE_INT8);
  if (!rc && nsnap > 0) {
    rc = ising_io_dataset_field(io, "/snapshots/spins", nsnap, g, H5T_NATIVE_INT8);
    if (!rc) rc = ising_io_dataset_double(io, "/snapshots/sweep", 1, &nsnap);
    if (!rc) rc = ising_io_dataset_double(io, "/snapshots/beta", 1, &nsnap);
  }
  return rc;
}

static int write_results(ising_io *io, int k, double beta, const ising_estimates *est, double acceptance, int ex_ok,
                         const ising_exact_result *ex)
{
  const double v[NOBS] = {beta,
                          est->energy,
                          est->energy_err,
                          est->magnetization,
                          est->magnetization_err,
                          est->abs_magnetization,
                          est->abs_magnetization_err,
                          est->m2,
                          est->m2_err,
                          est->m4,
                          est->m4_err,
                          est->specific_heat,
                          est->specific_heat_err,
                          est->susceptibility,
                          est->susceptibility_err,
                          est->binder,
                          est->binder_err,
                          est->tau_int_energy,
                          est->tau_int_abs_magnetization,
                          est->tau_int_m2,
                          acceptance,
                          (double)est->n,
                          (double)est->nbins,
                          (double)est->bins_too_short};
  int rc = 0;
  for (size_t j = 0; j < NOBS && !rc; j++) rc = write_entry(io, "/observables", obs_names[j], k, v[j]);
  if (!ex_ok || rc) return rc;
  const double x[NEXACT] = {ex->energy, ex->specific_heat,  ex->magnetization, ex->abs_magnetization, ex->m2,
                            ex->m4,     ex->susceptibility, ex->binder};
  for (size_t j = 0; j < NEXACT && !rc; j++) rc = write_entry(io, "/observables", exact_names[j], k, x[j]);
  return rc;
}

/* "value +- error" with the error to two significant digits. */
static void print_value(FILE *out, double v, double err)
{
  int digits = 6;
  if (isfinite(err) && err > 0) {
    digits = 1 - (int)floor(log10(err));
    if (digits < 0) digits = 0;
    if (digits > 10) digits = 10;
  }
  fprintf(out, "  %12.*f +- %-10.*f", digits, v, digits, err);
}

static void print_deviation(FILE *out, const char *name, double v, double err, double exact)
{
  if (!isfinite(exact)) return;
  if (err > 0)
    fprintf(out, "    exact %-18s %14.8f  deviation %+.2f sigma\n", name, exact, (v - exact) / err);
  else
    fprintf(out, "    exact %-18s %14.8f  deviation %s (zero error bar)\n", name, exact, v == exact ? "0" : "n/a");
}

int ising_mc_write_slots(ising_io *io, const char *path, int64_t K, int64_t nmeas, const double *src)
{
  const int64_t rows = K >= (1 << 20) ? 1 : (1 << 20) / K; /* 8 MiB of rows at a time */
  const int64_t nbuf = (nmeas < rows ? nmeas : rows) * K;
  int rank;
  MPI_Comm_rank(io->comm, &rank);
  double *buf = malloc(sizeof(double) * (size_t)(nbuf > 0 && rank == 0 ? nbuf : 1));
  int rc = ising_check(io->comm, !buf, "out of memory writing the time series") ? -1 : 0;
  for (int64_t r0 = 0; r0 < nmeas && !rc; r0 += rows) {
    const int64_t nr = nmeas - r0 < rows ? nmeas - r0 : rows, start[2] = {r0, 0}, count[2] = {nr, K};
    for (int64_t i = 0; i < nr && rank == 0; i++) /* only rank 0's data is written */
      for (int64_t k = 0; k < K; k++) buf[i * K + k] = src[k * nmeas + r0 + i];
    rc = ising_io_write_double(io, path, start, count, buf);
  }
  free(buf);
  return rc ? -1 : 0;
}

int ising_mc_write_series(const ising_params *p, ising_io *io, const double *e, const double *m)
{
  const int64_t nmeas = p->sweeps / p->measure_interval, K = p->nbeta;
  ising_timer_start(ISING_PHASE_OUTPUT);
  int rc = ising_mc_write_slots(io, "/timeseries/energy", K, nmeas, e) ||
           ising_mc_write_slots(io, "/timeseries/magnetization", K, nmeas, m) || ising_io_flush(io);
  ising_timer_stop(ISING_PHASE_OUTPUT);
  return rc ? -1 : 0;
}

void ising_mc_print_temperature(FILE *out, double beta, const ising_estimates *e, double acceptance, int have_exact,
                                const ising_exact_result *x)
{
  fprintf(out, "beta = %g: %zu measurements in %zu bins%s, acceptance %.4f\n", beta, e->n, e->nbins,
          e->bins_too_short ? " (WARNING: bins shorter than 10 tau_int; run longer)" : "", acceptance);
  fprintf(out, "  %-22s", "energy per spin");
  print_value(out, e->energy, e->energy_err);
  fprintf(out, "  tau_int %.2f\n", e->tau_int_energy);
  fprintf(out, "  %-22s", "|m|");
  print_value(out, e->abs_magnetization, e->abs_magnetization_err);
  fprintf(out, "  tau_int %.2f\n", e->tau_int_abs_magnetization);
  fprintf(out, "  %-22s", "specific heat");
  print_value(out, e->specific_heat, e->specific_heat_err);
  fprintf(out, "\n  %-22s", "susceptibility");
  print_value(out, e->susceptibility, e->susceptibility_err);
  fprintf(out, "  tau_int(m^2) %.2f\n  %-22s", e->tau_int_m2, "Binder cumulant");
  print_value(out, e->binder, e->binder_err);
  fputc('\n', out);
  if (!have_exact) return;
  fprintf(out, "    exact %-18s %14.8f\n", "lnZ", x->lnZ);
  print_deviation(out, "energy", e->energy, e->energy_err, x->energy);
  print_deviation(out, "m (signed)", e->magnetization, e->magnetization_err, x->magnetization);
  print_deviation(out, "|m|", e->abs_magnetization, e->abs_magnetization_err, x->abs_magnetization);
  print_deviation(out, "specific heat", e->specific_heat, e->specific_heat_err, x->specific_heat);
  print_deviation(out, "susceptibility", e->susceptibility, e->susceptibility_err, x->susceptibility);
  print_deviation(out, "Binder cumulant", e->binder, e->binder_err, x->binder);
}

static const double no_series; /* what a rank without the series passes to a write that selects nothing */

int ising_mc_finish_temperature(const ising_params *p, ising_io *io, ising_freeenergy *fe, int k, const double *e,
                                const double *m, double acceptance, int series, int print, ising_estimates *out)
{
  const int64_t nmeas = p->sweeps / p->measure_interval;
  ising_timer_start(ISING_PHASE_ANALYSIS);
  /* Rank 0 holds the series (the other ranks may not); it analyses, all receive. */
  ising_estimates est;
  int rank;
  MPI_Comm_rank(io->comm, &rank);
  if (rank == 0) ising_estimates_compute(e, m, (size_t)nmeas, p->beta[k], (double)p->nsites, &est);
  MPI_Bcast(&est, (int)sizeof(est), MPI_BYTE, 0, io->comm);
  ising_timer_stop(ISING_PHASE_ANALYSIS);
  if (out) *out = est;
  ising_exact_result ex;
  ising_timer_start(ISING_PHASE_EXACT);
  int ex_ok = ising_freeenergy_exact(fe, k, &ex);
  ising_timer_stop(ISING_PHASE_EXACT);
  if (ex_ok < 0) return -1;
  ising_timer_start(ISING_PHASE_OUTPUT);
  int64_t start[2] = {0, k}, count[2] = {nmeas, 1};
  int bad = write_results(io, k, p->beta[k], &est, acceptance, ex_ok, &ex) ||
            ising_freeenergy_put_sample(fe, k, est.energy, est.energy_err, est.specific_heat, est.specific_heat_err) ||
            ising_freeenergy_put_series(fe, k, e, (size_t)nmeas, est.tau_int_energy) ||
            (series && (ising_io_write_double(io, "/timeseries/energy", start, count, e ? e : &no_series) ||
                        ising_io_write_double(io, "/timeseries/magnetization", start, count, m ? m : &no_series))) ||
            ising_io_flush(io);
  ising_timer_stop(ISING_PHASE_OUTPUT);
  if (bad) return -1;
  if (print) {
    ising_mc_print_temperature(stdout, p->beta[k], &est, acceptance, ex_ok, &ex);
    fflush(stdout);
  }
  return 0;
}

typedef struct {
  double start, last;
  int64_t done, total;
} progress;

static void report_progress(const ising_params *p, progress *pr, int rank, int k, uint64_t sweep, int64_t nsweeps,
                            int thermalising)
{
  pr->done++;
  if (p->quiet || rank) return;
  double now = MPI_Wtime();
  if (now - pr->last < p->progress_interval) return;
  pr->last = now;
  double rate = (double)pr->done / (now - pr->start);
  printf("progress: beta %d/%d = %g, sweep %llu/%lld%s, %.1f sweeps/s, ETA %.0f s\n", k + 1, p->nbeta, p->beta[k],
         (unsigned long long)sweep, (long long)nsweeps, thermalising ? " (thermalising)" : "", rate,
         (double)(pr->total - pr->done) / rate);
  fflush(stdout);
}

/* Measurements made after n sweeps of a temperature (thermalisation included). */
static int64_t measurements_done(const ising_params *p, int64_t n)
{
  return n > p->thermalize ? (n - p->thermalize) / p->measure_interval : 0;
}

/* The state at a sweep boundary of temperature k: n sweeps of it done
 * (thermalisation included), changed spins so far in its measured sweeps
 * (this rank's share), the spins, and its time series so far (the
 * measurements made, at least one entry). */
static int mc_checkpoint(ising_checkpoint *ck, const ising_params *p, ising_io *io, const ising_geometry *g, int k,
                         int64_t n, int64_t changed_local, int8_t *spins, const double *e, const double *m,
                         int64_t nmeas)
{
  int64_t changed, three = 3;
  MPI_Allreduce(&changed_local, &changed, 1, MPI_INT64_T, MPI_SUM, g->comm);
  const int64_t counters[3] = {k, n, changed};
  const int64_t kept = measurements_done(p, n) > 1 ? measurements_done(p, n) : 1; /* the series so far */
  ising_io cio;
  ising_timer_start(ISING_PHASE_OUTPUT);
  int bad = ising_checkpoint_begin(ck, io, ISING_TASK_MC, &cio) ||
            ising_checkpoint_put(&cio, "/mc/counters", H5T_NATIVE_INT64, 1, &three, counters) ||
            ising_checkpoint_put_spins(&cio, "/mc/spins", g, 0, &spins) ||
            ising_checkpoint_put_series(&cio, "/mc/energy", 1, 1, nmeas, kept, e) ||
            ising_checkpoint_put_series(&cio, "/mc/magnetization", 1, 1, nmeas, kept, m);
  bad = ising_checkpoint_end(ck, &cio, bad);
  ising_timer_stop(ISING_PHASE_OUTPUT);
  return bad;
}

/* The state of mc_checkpoint back from the restart file (cio). */
static int mc_resume(ising_checkpoint *ck, ising_io *cio, const ising_params *p, const ising_geometry *g, int *k,
                     int64_t *n, int64_t *changed, int8_t *spins, double *e, double *m)
{
  const int64_t nmeas = p->sweeps / p->measure_interval;
  int64_t c[3] = {-1, -1, -1};
  int bad = ising_checkpoint_get(cio, "/mc/counters", H5T_NATIVE_INT64, 3, c) ||
            ising_checkpoint_get_spins(cio, "/mc/spins", g, 0, &spins);
  bad |= c[0] < 0 || c[0] >= p->nbeta || c[1] < 0 || c[1] > p->thermalize + p->sweeps || c[2] < 0 ||
         c[2] / p->nsites > c[1];
  /* every measurement made so far must be there (the counters are the same on every rank) */
  const int64_t made = bad ? 0 : measurements_done(p, c[1]);
  bad = bad || ising_checkpoint_get_series(cio, "/mc/energy", 1, 1, nmeas, made, g->rank == 0 ? e : NULL) ||
        ising_checkpoint_get_series(cio, "/mc/magnetization", 1, 1, nmeas, made, g->rank == 0 ? m : NULL);
  ising_io_close(cio);
  if (ising_checkpoint_check(ck, bad, "the Monte Carlo state (/mc) is unreadable or out of range")) return -1;
  *k = (int)c[0];
  *n = c[1];
  *changed = g->rank == 0 ? c[2] : 0; /* a sum over ranks */
  return 0;
}

int ising_mc_run(const ising_params *p, const ising_geometry *g0, const ising_couplings *c0, ising_io *io,
                 ising_freeenergy *fe, ising_checkpoint *ck)
{
  ising_rebalance blk;
  ising_rebalance_init(&blk, p, g0, c0);
  const ising_geometry *g = g0;
  const ising_couplings *c = c0;
  const int64_t nmeas = p->sweeps / p->measure_interval, per_beta = p->thermalize + p->sweeps;
  const int64_t snaps_per_beta = p->snapshot_interval > 0 ? p->sweeps / p->snapshot_interval : 0;
  const int have_exact = fe->method != ISING_EXACT_NONE;
  int rc = ISING_EXIT_RUNTIME;
  ising_halo halo;
  ising_halo_create(g, MPI_INT8_T, &halo);
  int8_t *spins = malloc(g->nextended);
  /* the current temperature's time series: on rank 0 alone (it analyses and writes them; one entry elsewhere) */
  const int keeper = g->rank == 0;
  const size_t nts = keeper ? (size_t)nmeas : 1;
  double *e = calloc(nts, sizeof(double)), *m = calloc(nts, sizeof(double));
  double *kept_e = keeper ? e : NULL, *kept_m = keeper ? m : NULL; /* where the measurements go */
  int oom = !spins || !e || !m;
  if (ising_check(g->comm, oom, "out of memory for the spins and time series")) goto done;
  if (ising_mc_create_observables(p, have_exact, io) || create_spin_datasets(g, snaps_per_beta * p->nbeta, io))
    goto done;

  /* A restart continues at temperature k0 after n0 of its sweeps. */
  int k0 = 0;
  int64_t n0 = 0, changed0 = 0;
  ising_io cio;
  int resume = ising_checkpoint_resume(ck, ISING_TASK_MC, &cio);
  if (resume < 0) goto done;
  if (resume) {
    memset(spins, 0, g->nextended);
    if (mc_resume(ck, &cio, p, g, &k0, &n0, &changed0, spins, e, m)) {
      rc = ISING_EXIT_INPUT;
      goto done;
    }
  } else {
    ising_spins_init(g, p->seed, ISING_STREAM_INIT, 0, p->hot_start, spins);
  }
  ising_halo_exchange(&halo, spins);

  progress pr = {MPI_Wtime(), MPI_Wtime(), 0, per_beta * p->nbeta - (k0 * per_beta + n0)};
  measurements pending = {0, 0, {{0, 0}}};
  uint64_t step = (uint64_t)(k0 * per_beta + n0);
  /* this rank's tracked energy and magnetisation at the start of the temperature (confirm_tracked) */
  ising_observables_sums base = ising_observables_local(g, c, spins);
  if (p->rebalance > 0 && ising_rebalance_write(&blk, io, 1)) goto done;
  for (int k = k0; k < p->nbeta; k++) {
    ising_sweeper sweeper;
    ising_sweeper_init(&sweeper, g, c, p->algorithm, p->beta[k], p->seed, ISING_STREAM_DYNAMICS);
    ising_sweep_stats acc = {k == k0 ? changed0 : 0, 0, 0};
    int64_t changed_total = 0;
    for (int64_t n = k == k0 ? n0 : 0; n < per_beta; n++) {
      if (n == p->thermalize) acc.changed = 0; /* acceptance counts the measured sweeps */
      ising_mc_sweep(&sweeper, &halo, spins, step++, &acc);
      const ising_observables_sums now = {base.energy + acc.denergy, base.magnetization + acc.dmag};
      const int64_t s = n + 1 - p->thermalize; /* measured sweeps done, <= 0 while thermalising */
      if (s > 0 && s % p->measure_interval == 0) {
        ising_timer_start(ISING_PHASE_MEASURE);
        if (!pending.n) pending.first = s / p->measure_interval - 1;
        pending.sums[pending.n++] = now;
        /* every MEASURE_BATCH measurements the tracked values are confirmed by a pass */
        const int bad = pending.n == MEASURE_BATCH && confirm_tracked(g, c, spins, now);
        if (pending.n == MEASURE_BATCH) flush_measurements(g, &pending, kept_e, kept_m);
        ising_timer_stop(ISING_PHASE_MEASURE);
        if (bad) goto done;
      }
      if (s > 0 && snaps_per_beta && s % p->snapshot_interval == 0) {
        ising_timer_start(ISING_PHASE_OUTPUT);
        int64_t idx = k * snaps_per_beta + s / p->snapshot_interval - 1, one = 1;
        double sweep_no = (double)(p->thermalize + s), b = p->beta[k];
        int bad = ising_io_write_field(io, "/snapshots/spins", idx, g, H5T_NATIVE_INT8, spins) ||
                  ising_io_write_double(io, "/snapshots/sweep", &idx, &one, &sweep_no) ||
                  ising_io_write_double(io, "/snapshots/beta", &idx, &one, &b);
        ising_timer_stop(ISING_PHASE_OUTPUT);
        if (bad) goto done;
      }
      if (s > 0)
        report_progress(p, &pr, g->rank, k, (uint64_t)(n + 1), per_beta, 0);
      else
        report_progress(p, &pr, g->rank, k, (uint64_t)(n + 1), p->thermalize, 1);
      if (ising_rebalance_due(&blk) && n + 1 < per_beta) { /* not after the last sweep of a beta */
        char when[96];
        snprintf(when, sizeof(when), "after sweep %lld of beta %g ", (long long)(n + 1), p->beta[k]);
        const int moved = ising_rebalance_check(&blk, p, 1, &spins, &halo, when);
        if (moved < 0) goto done;
        if (moved) {
          g = blk.g;
          c = blk.c;
          ising_sweeper_init(&sweeper, g, c, p->algorithm, p->beta[k], p->seed, ISING_STREAM_DYNAMICS);
          /* the tracked energy and magnetisation restart from the new blocks' shares (their totals are the same) */
          base = ising_observables_local(g, c, spins);
          acc.denergy = 0;
          acc.dmag = 0;
          if (ising_rebalance_write(&blk, io, 0)) goto done;
        }
      }
      const int action = ising_checkpoint_poll(ck);
      if (action != ISING_CHECKPOINT_NONE) flush_measurements(g, &pending, kept_e, kept_m);
      if (action != ISING_CHECKPOINT_NONE && mc_checkpoint(ck, p, io, g, k, n + 1, acc.changed, spins, e, m, nmeas))
        goto done;
      if (action == ISING_CHECKPOINT_STOP) {
        rc = ISING_EXIT_INTERRUPTED;
        goto done;
      }
    }
    ising_timer_start(ISING_PHASE_MEASURE);
    flush_measurements(g, &pending, kept_e, kept_m);
    base.energy += acc.denergy;
    base.magnetization += acc.dmag;
    const int bad = confirm_tracked(g, c, spins, base);
    ising_timer_stop(ISING_PHASE_MEASURE);
    if (bad) goto done;
    MPI_Allreduce(&acc.changed, &changed_total, 1, MPI_INT64_T, MPI_SUM, g->comm);
    double acceptance = (double)changed_total / ((double)p->sweeps * (double)p->nsites);

    if (ising_mc_finish_temperature(p, io, fe, k, kept_e, kept_m, acceptance, 1, !p->quiet && g->rank == 0, NULL))
      goto done;
  }
  ising_timer_start(ISING_PHASE_OUTPUT);
  int64_t done_sweeps = (int64_t)step;
  if (ising_io_write_field(io, "/state/spins", 0, g, H5T_NATIVE_INT8, spins) ||
      ising_io_attr_int64(io, "/state/spins", "sweeps_done", &done_sweeps, 0)) {
    ising_timer_stop(ISING_PHASE_OUTPUT);
    goto done;
  }
  ising_timer_stop(ISING_PHASE_OUTPUT);
  rc = 0;
done:
  ising_halo_free(&halo);
  free(spins);
  free(e);
  free(m);
  ising_rebalance_free(&blk);
  return rc;
}
