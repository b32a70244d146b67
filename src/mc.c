/* mc.c: the Monte Carlo task (mc.h).
 *   ising_spins_init              local
 *   ising_mc_sweep, ising_mc_run  collective */
#include "ising/mc.h"

#include "ising/couplings.h"
#include "ising/error.h"
#include "ising/exact.h"
#include "ising/observables.h"
#include "ising/rng.h"
#include "ising/stats.h"
#include "ising/timers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ising_spins_init(const ising_params *p, const ising_geometry *g, int8_t *spins)
{
  memset(spins, 0, g->nextended);
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++)
      for (int ex = 1; ex <= g->n[0]; ex++) {
        int8_t s = 1;
        if (p->hot_start)
          s = ising_rng_u32(p->seed, ISING_STREAM_INIT, 0, (uint64_t)ising_geometry_global_index(g, ex, ey, ez)) & 1
                  ? 1
                  : -1;
        spins[ising_geometry_index(g, ex, ey, ez)] = s;
      }
}

void ising_mc_sweep(ising_sweeper *k, ising_halo *halo, int8_t *spins, uint64_t step, int64_t *changed)
{
  for (int colour = 0; colour < 2; colour++) {
    ising_timer_start(ISING_PHASE_UPDATE);
    *changed += ising_sweep_colour(k, spins, colour, step);
    ising_timer_stop(ISING_PHASE_UPDATE);
    ising_timer_start(ISING_PHASE_HALO);
    ising_halo_exchange(halo, spins);
    ising_timer_stop(ISING_PHASE_HALO);
  }
}

/* Which exact method applies to the model, if any. */
typedef enum { EXACT_NONE, EXACT_ENUMERATION, EXACT_KAUFMAN, EXACT_CHAIN } exact_method;

static exact_method choose_exact(const ising_params *p)
{
  if (!p->exact) return EXACT_NONE;
  if (p->nsites <= ISING_EXACT_MAX_SPINS) return EXACT_ENUMERATION;
  int uniform = p->couplings == ISING_COUPLINGS_UNIFORM && p->field_sigma == 0.0;
  if (uniform && p->dim == 2 && p->periodic[0] && p->periodic[1] && p->field == 0.0) return EXACT_KAUFMAN;
  if (uniform && p->dim == 1) return EXACT_CHAIN;
  return EXACT_NONE;
}

static const char *exact_method_name(exact_method m)
{
  switch (m) {
  case EXACT_ENUMERATION: return "enumeration";
  case EXACT_KAUFMAN: return "kaufman";
  case EXACT_CHAIN: return "transfer_matrix";
  default: return "none";
  }
}

/* Rank 0 computes, everyone receives: the result is the same on all ranks. */
static int exact_values(const ising_params *p, exact_method m, const ising_bondlist *model, double beta, MPI_Comm comm,
                        ising_exact_result *r)
{
  int rank, rc = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    switch (m) {
    case EXACT_ENUMERATION: rc = ising_exact_enumerate(model, beta, r, NULL); break;
    case EXACT_KAUFMAN:
      rc = ising_exact_kaufman((int)p->L[0], (int)p->L[1], ising_quantize(p->J[0]), ising_quantize(p->J[1]), beta, r);
      break;
    case EXACT_CHAIN:
      rc = ising_exact_chain(p->L[0], p->periodic[0], ising_quantize(p->J[0]), ising_quantize(p->field), beta, r);
      /* The chain's susceptibility is beta N (<m^2> - <m>^2); the estimate
       * uses <|m|>, so the two are not comparable. */
      r->susceptibility = NAN;
      break;
    default: rc = -1;
    }
  }
  MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
  MPI_Bcast(r, (int)sizeof(*r), MPI_BYTE, 0, comm);
  return rc;
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

static int create_datasets(const ising_params *p, const ising_geometry *g, exact_method em, int64_t nmeas,
                           int64_t nsnap, ising_io *io)
{
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
  if (!rc) rc = ising_io_dataset_field(io, "/state/spins", 0, g, H5T_NATIVE_INT8);
  if (!rc && nsnap > 0) {
    rc = ising_io_dataset_field(io, "/snapshots/spins", nsnap, g, H5T_NATIVE_INT8);
    if (!rc) rc = ising_io_dataset_double(io, "/snapshots/sweep", 1, &nsnap);
    if (!rc) rc = ising_io_dataset_double(io, "/snapshots/beta", 1, &nsnap);
  }
  if (!rc && em != EXACT_NONE) {
    for (size_t k = 0; k < NEXACT && !rc; k++) {
      snprintf(path, sizeof(path), "/observables/%s", exact_names[k]);
      rc = ising_io_dataset_double(io, path, 1, &nb);
    }
    char method[64];
    snprintf(method, sizeof(method), "exact:%s", exact_method_name(em));
    if (!rc) rc = ising_io_dataset_double(io, "/free_energy/beta", 1, &nb);
    if (!rc) rc = ising_io_dataset_double(io, "/free_energy/lnZ", 1, &nb);
    if (!rc) rc = ising_io_dataset_double(io, "/free_energy/lnZ_err", 1, &nb);
    if (!rc) rc = ising_io_dataset_double(io, "/free_energy/lnZ_exact", 1, &nb);
    if (!rc) rc = ising_io_attr_string(io, "/free_energy", "method", method);
  }
  return rc;
}

static int write_results(ising_io *io, int k, double beta, const ising_estimates *est, double acceptance,
                         exact_method em, int ex_ok, const ising_exact_result *ex)
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
  if (em == EXACT_NONE || rc) return rc;
  /* Where the exact method failed at this beta the entries stay NaN. */
  const double x[NEXACT] = {ex->energy, ex->specific_heat,  ex->magnetization, ex->abs_magnetization, ex->m2,
                            ex->m4,     ex->susceptibility, ex->binder};
  for (size_t j = 0; j < NEXACT && !rc && ex_ok; j++) rc = write_entry(io, "/observables", exact_names[j], k, x[j]);
  if (!rc) rc = write_entry(io, "/free_energy", "beta", k, beta);
  if (!rc && ex_ok) rc = write_entry(io, "/free_energy", "lnZ", k, ex->lnZ);
  if (!rc && ex_ok) rc = write_entry(io, "/free_energy", "lnZ_err", k, 0.0);
  if (!rc && ex_ok) rc = write_entry(io, "/free_energy", "lnZ_exact", k, ex->lnZ);
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
  fprintf(out, "    exact %-18s %14.8f  deviation %+.2f sigma\n", name, exact, err > 0 ? (v - exact) / err : 0.0);
}

static void print_estimates(FILE *out, double beta, const ising_estimates *e, double acceptance, exact_method em,
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
  if (em == EXACT_NONE) return;
  fprintf(out, "    exact %-18s %14.8f\n", "lnZ", x->lnZ);
  print_deviation(out, "energy", e->energy, e->energy_err, x->energy);
  print_deviation(out, "|m|", e->abs_magnetization, e->abs_magnetization_err, x->abs_magnetization);
  print_deviation(out, "specific heat", e->specific_heat, e->specific_heat_err, x->specific_heat);
  print_deviation(out, "susceptibility", e->susceptibility, e->susceptibility_err, x->susceptibility);
  print_deviation(out, "Binder cumulant", e->binder, e->binder_err, x->binder);
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

int ising_mc_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c, ising_io *io)
{
  const int64_t nmeas = p->sweeps / p->measure_interval;
  const int64_t snaps_per_beta = p->snapshot_interval > 0 ? p->sweeps / p->snapshot_interval : 0;
  const exact_method em = choose_exact(p);
  int rc = ISING_EXIT_RUNTIME;
  ising_bondlist model = {0};
  ising_halo halo;
  ising_halo_create(g, MPI_INT8_T, &halo);
  int8_t *spins = malloc(g->nextended);
  double *e = malloc(sizeof(double) * (size_t)nmeas), *m = malloc(sizeof(double) * (size_t)nmeas);
  int oom = !spins || !e || !m;
  if (em == EXACT_ENUMERATION && g->rank == 0) oom |= ising_couplings_bondlist(p, &model) != 0;
  if (ising_check(g->comm, oom, "out of memory for the spins and time series")) goto done;
  if (create_datasets(p, g, em, nmeas, snaps_per_beta * p->nbeta, io)) goto done;

  ising_spins_init(p, g, spins);
  ising_halo_exchange(&halo, spins);

  progress pr = {MPI_Wtime(), MPI_Wtime(), 0, (p->thermalize + p->sweeps) * p->nbeta};
  uint64_t step = 0;
  for (int k = 0; k < p->nbeta; k++) {
    ising_sweeper sweeper;
    ising_sweeper_init(&sweeper, g, c, p->algorithm, p->beta[k], p->seed, ISING_STREAM_DYNAMICS);
    int64_t changed = 0, changed_total = 0;
    for (int64_t s = 1; s <= p->thermalize; s++) {
      ising_mc_sweep(&sweeper, &halo, spins, step++, &changed);
      report_progress(p, &pr, g->rank, k, (uint64_t)s, p->thermalize, 1);
    }
    changed = 0;
    for (int64_t s = 1; s <= p->sweeps; s++) {
      ising_mc_sweep(&sweeper, &halo, spins, step++, &changed);
      if (s % p->measure_interval == 0) {
        ising_timer_start(ISING_PHASE_MEASURE);
        int64_t t = s / p->measure_interval - 1;
        ising_observables_measure(g, c, spins, &e[t], &m[t]);
        ising_timer_stop(ISING_PHASE_MEASURE);
      }
      if (snaps_per_beta && s % p->snapshot_interval == 0) {
        ising_timer_start(ISING_PHASE_OUTPUT);
        int64_t idx = k * snaps_per_beta + s / p->snapshot_interval - 1, one = 1;
        double sweep_no = (double)(p->thermalize + s), b = p->beta[k];
        int bad = ising_io_write_field(io, "/snapshots/spins", idx, g, H5T_NATIVE_INT8, spins) ||
                  ising_io_write_double(io, "/snapshots/sweep", &idx, &one, &sweep_no) ||
                  ising_io_write_double(io, "/snapshots/beta", &idx, &one, &b);
        ising_timer_stop(ISING_PHASE_OUTPUT);
        if (bad) goto done;
      }
      report_progress(p, &pr, g->rank, k, (uint64_t)(p->thermalize + s), p->thermalize + p->sweeps, 0);
    }
    MPI_Allreduce(&changed, &changed_total, 1, MPI_INT64_T, MPI_SUM, g->comm);
    double acceptance = (double)changed_total / ((double)p->sweeps * (double)p->nsites);

    ising_timer_start(ISING_PHASE_ANALYSIS);
    ising_estimates est;
    ising_estimates_compute(e, m, (size_t)nmeas, p->beta[k], (double)p->nsites, &est);
    ising_timer_stop(ISING_PHASE_ANALYSIS);

    ising_exact_result ex;
    int ex_ok = 0;
    if (em != EXACT_NONE) {
      ising_timer_start(ISING_PHASE_EXACT);
      ex_ok = exact_values(p, em, &model, p->beta[k], g->comm, &ex) == 0;
      ising_timer_stop(ISING_PHASE_EXACT);
      if (!ex_ok)
        ising_warn(g->comm, "the exact method (%s) does not apply at beta = %g; no exact values there",
                   exact_method_name(em), p->beta[k]);
    }

    ising_timer_start(ISING_PHASE_OUTPUT);
    int64_t start[2] = {0, k}, count[2] = {nmeas, 1};
    int bad = write_results(io, k, p->beta[k], &est, acceptance, em, ex_ok, &ex) ||
              ising_io_write_double(io, "/timeseries/energy", start, count, e) ||
              ising_io_write_double(io, "/timeseries/magnetization", start, count, m) || ising_io_flush(io);
    ising_timer_stop(ISING_PHASE_OUTPUT);
    if (bad) goto done;
    if (!p->quiet && g->rank == 0) {
      print_estimates(stdout, p->beta[k], &est, acceptance, ex_ok ? em : EXACT_NONE, &ex);
      fflush(stdout);
    }
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
  ising_bondlist_free(&model);
  ising_halo_free(&halo);
  free(spins);
  free(e);
  free(m);
  return rc;
}
