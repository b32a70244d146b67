/* quench.c: coarsening after a quench (quench.h).
 *   ising_quench_run   collective */
#include "ising/quench.h"

#include "ising/error.h"
#include "ising/halo.h"
#include "ising/mc.h"
#include "ising/observables.h"
#include "ising/rebalance.h"
#include "ising/rng.h"
#include "ising/structure.h"
#include "ising/sweep.h"
#include "ising/timers.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double two_pi = 6.283185307179586476925286766559;

/* Per-history records, [history][time], identical on every rank. */
typedef struct {
  int nt, H;
  double *e, *m, *unsat, *s0, *s1; /* energy and m per spin, unsatisfied bonds, sum S, sum |k| S */
  double *shell_sum, *shell_sq;    /* [time][shell]: sums over histories of the shell mean of S and its square */
} records;

/* Mean and standard error over the first h histories of x[.][j]. */
static void mean_err(const double *x, int h, int nt, int j, double *mean, double *err)
{
  double s = 0.0, q = 0.0;
  for (int k = 0; k < h; k++) s += x[(size_t)k * (size_t)nt + (size_t)j];
  s /= h;
  for (int k = 0; k < h; k++) {
    double d = x[(size_t)k * (size_t)nt + (size_t)j] - s;
    q += d * d;
  }
  *mean = s;
  *err = h > 1 ? sqrt(q / (h - 1) / h) : NAN;
}

/* c * <num> / <den> over h histories, with its jackknife error. */
static void ratio_err(const double *num, const double *den, double c, int h, int nt, int j, double *val, double *err)
{
  double sn = 0.0, sd = 0.0;
  for (int k = 0; k < h; k++) {
    sn += num ? num[(size_t)k * (size_t)nt + (size_t)j] : 1.0;
    sd += den[(size_t)k * (size_t)nt + (size_t)j];
  }
  *val = c * sn / sd;
  if (h < 2 || !isfinite(*val)) {
    *err = NAN;
    return;
  }
  double mean = 0.0, q = 0.0, *jk = malloc(sizeof(double) * (size_t)h);
  if (!jk) {
    *err = NAN;
    return;
  }
  for (int k = 0; k < h; k++) {
    double n = sn - (num ? num[(size_t)k * (size_t)nt + (size_t)j] : 1.0);
    jk[k] = c * n / (sd - den[(size_t)k * (size_t)nt + (size_t)j]);
    mean += jk[k] / h;
  }
  for (int k = 0; k < h; k++) q += (jk[k] - mean) * (jk[k] - mean);
  free(jk);
  *err = sqrt((double)(h - 1) / h * q);
}

static int put(ising_io *io, const char *name, const double *v, int64_t n)
{
  int64_t zero = 0;
  return ising_io_write_double(io, name, &zero, &n, v);
}

static int create(ising_io *io, const char *name, int64_t n)
{
  return ising_io_dataset_double(io, name, 1, &n);
}

static const char *const series[] = {"energy",
                                     "energy_err",
                                     "magnetization",
                                     "magnetization_err",
                                     "abs_magnetization",
                                     "abs_magnetization_err",
                                     "unsatisfied_bonds",
                                     "unsatisfied_bonds_err",
                                     "domain_length",
                                     "domain_length_err",
                                     "domain_length_sk",
                                     "domain_length_sk_err"};
#define NSERIES (sizeof(series) / sizeof(series[0]))

/* Per-history records in /quench/histories, [history, time]. */
static const char *const history_names[] = {"energy", "magnetization", "unsatisfied_bonds", "sk_sum",
                                            "sk_first_moment"};

/* The averages over the first h histories: out[s][j] for series s. */
static void averages(const records *r, int h, double bonds, int sk, double *out)
{
  const int nt = r->nt;
  double *abs_m = malloc(sizeof(double) * (size_t)h * (size_t)nt);
  for (int j = 0; j < nt; j++) {
    double *o = out;
    mean_err(r->e, h, nt, j, &o[0 * nt + j], &o[1 * nt + j]);
    mean_err(r->m, h, nt, j, &o[2 * nt + j], &o[3 * nt + j]);
    if (abs_m) {
      for (int k = 0; k < h; k++)
        abs_m[(size_t)k * (size_t)nt + (size_t)j] = fabs(r->m[(size_t)k * (size_t)nt + (size_t)j]);
      mean_err(abs_m, h, nt, j, &o[4 * nt + j], &o[5 * nt + j]);
    } else {
      o[4 * nt + j] = o[5 * nt + j] = NAN;
    }
    mean_err(r->unsat, h, nt, j, &o[6 * nt + j], &o[7 * nt + j]);
    o[6 * nt + j] /= bonds;
    o[7 * nt + j] /= bonds;
    ratio_err(NULL, r->unsat, bonds, h, nt, j, &o[8 * nt + j], &o[9 * nt + j]);
    /* ratio_err with num NULL is bonds * h / sum: the inverse of the mean. */
    if (sk)
      ratio_err(r->s0, r->s1, two_pi, h, nt, j, &o[10 * nt + j], &o[11 * nt + j]);
    else
      o[10 * nt + j] = o[11 * nt + j] = NAN;
  }
  free(abs_m);
}

static int write_averages(ising_io *io, const records *r, int h, double bonds, int sk, const ising_structure *st)
{
  const int nt = r->nt;
  double *out = malloc(sizeof(double) * NSERIES * (size_t)nt);
  if (ising_check(io->comm, !out, "out of memory for the quench averages")) {
    free(out); /* another rank's allocation failed */
    return -1;
  }
  averages(r, h, bonds, sk, out);
  char path[128];
  int bad = 0;
  for (size_t s = 0; s < NSERIES && !bad; s++) {
    if (!sk && s >= 10) break;
    snprintf(path, sizeof(path), "/quench/%s", series[s]);
    bad = put(io, path, out + s * (size_t)nt, nt);
  }
  int64_t start[2] = {0, 0}, count[2] = {h, nt};
  const double *per[] = {r->e, r->m, r->unsat, r->s0, r->s1};
  for (int k = 0; k < (sk ? 5 : 3) && !bad; k++) {
    snprintf(path, sizeof(path), "/quench/histories/%s", history_names[k]);
    bad = ising_io_write_double(io, path, start, count, per[k]);
  }
  if (!bad && sk) {
    const int ns = st->nshells;
    double *mean = malloc(sizeof(double) * (size_t)nt * (size_t)ns),
           *err = malloc(sizeof(double) * (size_t)nt * (size_t)ns);
    bad = ising_check(io->comm, !mean || !err, "out of memory for the structure factor averages");
    for (size_t i = 0; !bad && i < (size_t)nt * (size_t)ns; i++) {
      mean[i] = r->shell_sum[i] / h;
      err[i] = h > 1 ? sqrt(fmax(r->shell_sq[i] / h - mean[i] * mean[i], 0.0) / (h - 1)) : NAN;
    }
    count[0] = nt;
    count[1] = ns;
    if (!bad)
      bad = ising_io_write_double(io, "/quench/structure_factor", start, count, mean) ||
            ising_io_write_double(io, "/quench/structure_factor_err", start, count, err);
    free(mean);
    free(err);
  }
  int64_t done = h;
  if (!bad) bad = ising_io_attr_int64(io, "/quench", "histories_done", &done, 0) || ising_io_flush(io);
  free(out);
  return bad ? -1 : 0;
}

static int create_datasets(ising_io *io, const ising_params *p, const ising_geometry *g, int sk,
                           const ising_structure *st, double bonds)
{
  const int64_t nt = p->quench_ntimes;
  double *time = malloc(sizeof(double) * (size_t)nt);
  if (ising_check(io->comm, !time, "out of memory")) {
    free(time); /* another rank's allocation failed */
    return -1;
  }
  for (int64_t j = 0; j < nt; j++) time[j] = (double)p->quench_times[j];
  int bad = ising_io_group(io, "/quench") || create(io, "/quench/time", nt) || put(io, "/quench/time", time, nt);
  free(time);
  char path[128];
  for (size_t s = 0; s < NSERIES && !bad; s++) {
    if (!sk && s >= 10) break;
    snprintf(path, sizeof(path), "/quench/%s", series[s]);
    bad = create(io, path, nt);
  }
  int64_t dims[2] = {p->quench_histories, nt};
  for (int k = 0; k < (sk ? 5 : 3) && !bad; k++) {
    snprintf(path, sizeof(path), "/quench/histories/%s", history_names[k]);
    bad = ising_io_dataset_double(io, path, 2, dims);
  }
  if (!bad && sk) {
    int64_t ns = st->nshells;
    double *modes = malloc(sizeof(double) * (size_t)ns);
    bad = ising_check(io->comm, !modes, "out of memory");
    for (int64_t b = 0; !bad && b < ns; b++) modes[b] = (double)st->modes[b];
    dims[0] = nt;
    dims[1] = ns;
    if (!bad)
      bad = create(io, "/quench/k", ns) || put(io, "/quench/k", st->kmean, ns) || create(io, "/quench/modes", ns) ||
            put(io, "/quench/modes", modes, ns) || ising_io_dataset_double(io, "/quench/structure_factor", 2, dims) ||
            ising_io_dataset_double(io, "/quench/structure_factor_err", 2, dims);
    free(modes);
  }
  if (!bad && p->quench_snapshots) bad = ising_io_dataset_field(io, "/quench/snapshots", nt, g, H5T_NATIVE_INT8);
  int64_t hist = p->quench_histories, sweeps = p->quench_sweeps, zero = 0;
  if (!bad)
    bad = ising_io_attr_double(io, "/quench", "beta", &p->quench_beta, 0) ||
          ising_io_attr_string(io, "/quench", "algorithm", ising_algorithm_name(p->algorithm)) ||
          ising_io_attr_int64(io, "/quench", "histories", &hist, 0) ||
          ising_io_attr_int64(io, "/quench", "histories_done", &zero, 0) ||
          ising_io_attr_int64(io, "/quench", "sweeps", &sweeps, 0) ||
          ising_io_attr_double(io, "/quench", "bonds", &bonds, 0);
  return bad ? -1 : 0;
}

static void print_summary(const ising_params *p, const records *r, double bonds, int sk)
{
  const int nt = r->nt, H = r->H;
  double *out = malloc(sizeof(double) * NSERIES * (size_t)nt);
  if (!out) return;
  averages(r, H, bonds, sk, out);
  printf("\nquench: %d histor%s of %lld sweeps at beta ", H, H > 1 ? "ies" : "y", (long long)p->quench_sweeps);
  if (isinf(p->quench_beta))
    printf("inf (zero temperature, ties decided by a fair coin)\n");
  else
    printf("%g\n", p->quench_beta);
  printf("  %10s  %24s  %10s  %24s  %24s\n", "sweeps", "energy per spin", "|m|", "L from walls", "L from S(k)");
  for (int j = 0; j < nt; j++) {
    char e[64], le[64], ls[64];
    snprintf(e, sizeof(e), "%.6f +- %.6f", out[j], out[nt + j]);
    snprintf(le, sizeof(le), "%.4g +- %.2g", out[8 * nt + j], out[9 * nt + j]);
    if (sk)
      snprintf(ls, sizeof(ls), "%.4g +- %.2g", out[10 * nt + j], out[11 * nt + j]);
    else
      snprintf(ls, sizeof(ls), "-");
    printf("  %10lld  %24s  %10.4f  %24s  %24s\n", (long long)p->quench_times[j], e, out[4 * nt + j], le, ls);
  }
  fflush(stdout);
  free(out);
}

int ising_quench_run(const ising_params *p, const ising_geometry *g0, const ising_couplings *c0, ising_io *io)
{
  const ising_geometry *g = g0;
  const ising_couplings *c = c0;
  ising_rebalance blk;
  ising_rebalance_init(&blk, p, g0, c0);
  const int nt = p->quench_ntimes, H = p->quench_histories, sk = p->quench_structure_factor;
  if (sk) blk.max_block = INT_MAX / 2; /* the structure factor's transposes hold two doubles per site in an int count */
  const double bonds = (double)ising_observables_bonds(g), N = (double)g->nsites;
  int rc = ISING_EXIT_RUNTIME;
  ising_structure st;
  memset(&st, 0, sizeof(st));
  records r = {.nt = nt, .H = H};
  int8_t *spins = malloc(g->nextended);
  ising_int128 *shell = NULL;
  ising_halo halo;
  ising_halo_create(g, MPI_INT8_T, &halo);
  const size_t hn = (size_t)H * (size_t)nt;
  r.e = malloc(sizeof(double) * hn);
  r.m = malloc(sizeof(double) * hn);
  r.unsat = malloc(sizeof(double) * hn);
  r.s0 = malloc(sizeof(double) * hn);
  r.s1 = malloc(sizeof(double) * hn);
  if (ising_check(g->comm, !spins || !r.e || !r.m || !r.unsat || !r.s0 || !r.s1, "out of memory for the quench"))
    goto done;
  if (sk) {
    if (ising_structure_create(g, &st)) goto done;
    shell = malloc(sizeof(ising_int128) * (size_t)st.nshells);
    r.shell_sum = calloc((size_t)nt * (size_t)st.nshells, sizeof(double));
    r.shell_sq = calloc((size_t)nt * (size_t)st.nshells, sizeof(double));
    if (ising_check(g->comm, !shell || !r.shell_sum || !r.shell_sq, "out of memory for the structure factor"))
      goto done;
  }
  ising_timer_start(ISING_PHASE_OUTPUT);
  int bad =
      create_datasets(io, p, g, sk, sk ? &st : NULL, bonds) || (p->rebalance > 0 && ising_rebalance_write(&blk, io, 1));
  ising_timer_stop(ISING_PHASE_OUTPUT);
  if (bad) goto done;

  double last = MPI_Wtime();
  for (int h = 0; h < H; h++) {
    ising_spins_init(g, p->seed, ISING_STREAM_QUENCH_INIT, (uint64_t)h, 1, spins);
    ising_halo_exchange(&halo, spins);
    ising_sweeper sweeper;
    ising_sweeper_init(&sweeper, g, c, p->algorithm, p->quench_beta, p->seed, ISING_STREAM_QUENCH);
    int64_t t = 0;
    for (int j = 0; j < nt; j++) {
      ising_sweep_stats acc = {0, 0, 0};
      for (; t < p->quench_times[j]; t++) {
        ising_mc_sweep(&sweeper, &halo, spins, ((uint64_t)h << 32) | (uint64_t)t, &acc);
        if (!ising_rebalance_due(&blk) || (t + 1 == p->quench_sweeps && h + 1 == H)) continue; /* not after the last */
        char when[96];
        snprintf(when, sizeof(when), "after sweep %lld of history %d ", (long long)(t + 1), h + 1);
        const int moved = ising_rebalance_check(&blk, p, 1, &spins, &halo, when);
        if (moved < 0) goto done;
        if (!moved) continue;
        g = blk.g;
        c = blk.c;
        ising_sweeper_init(&sweeper, g, c, p->algorithm, p->quench_beta, p->seed, ISING_STREAM_QUENCH);
        if (sk) { /* the transposes start from the blocks */
          ising_structure_free(&st);
          if (ising_structure_create(g, &st)) goto done;
        }
        ising_timer_start(ISING_PHASE_OUTPUT);
        bad = ising_rebalance_write(&blk, io, 0);
        ising_timer_stop(ISING_PHASE_OUTPUT);
        if (bad) goto done;
      }
      ising_timer_start(ISING_PHASE_MEASURE);
      ising_observables_sums sums = ising_observables_local(g, c, spins);
      ising_int128 v[3] = {sums.energy, sums.magnetization, ising_observables_unsatisfied(g, c, spins)};
      ising_allreduce_int128(g->comm, v, 3);
      const size_t at = (size_t)h * (size_t)nt + (size_t)j;
      r.e[at] = (double)v[0] / ISING_QUANTUM_SCALE / N;
      r.m[at] = (double)v[1] / N;
      r.unsat[at] = (double)v[2];
      r.s0[at] = r.s1[at] = NAN;
      if (sk) {
        if (ising_structure_compute(&st, spins, shell)) goto done;
        r.s0[at] = r.s1[at] = 0.0;
        for (int b = 0; b < st.nshells; b++) {
          double mean = st.modes[b] ? (double)shell[b] / ISING_QUANTUM_SCALE / (double)st.modes[b] : NAN;
          r.shell_sum[(size_t)j * (size_t)st.nshells + (size_t)b] += mean;
          r.shell_sq[(size_t)j * (size_t)st.nshells + (size_t)b] += mean * mean;
          if (b > 0 && st.modes[b] && st.kmean[b] <= 3.14159265358979323846) { /* first moment of the shells */
            r.s0[at] += mean;
            r.s1[at] += st.kmean[b] * mean;
          }
        }
      }
      ising_timer_stop(ISING_PHASE_MEASURE);
      if (h == 0 && p->quench_snapshots) {
        ising_timer_start(ISING_PHASE_OUTPUT);
        bad = ising_io_write_field(io, "/quench/snapshots", j, g, H5T_NATIVE_INT8, spins);
        ising_timer_stop(ISING_PHASE_OUTPUT);
        if (bad) goto done;
      }
      if (!p->quiet && g->rank == 0 && MPI_Wtime() - last >= p->progress_interval) {
        last = MPI_Wtime();
        printf("progress: quench history %d/%d, sweep %lld/%lld, energy per spin %.6f, unsatisfied bonds %.4g%%\n",
               h + 1, H, (long long)t, (long long)p->quench_sweeps, r.e[at], 100.0 * r.unsat[at] / bonds);
        fflush(stdout);
      }
    }
    ising_timer_start(ISING_PHASE_OUTPUT);
    bad = write_averages(io, &r, h + 1, bonds, sk, &st);
    ising_timer_stop(ISING_PHASE_OUTPUT);
    if (bad) goto done;
  }
  if (!p->quiet && g->rank == 0) print_summary(p, &r, bonds, sk);
  rc = 0;
done:
  ising_halo_free(&halo);
  ising_structure_free(&st);
  ising_rebalance_free(&blk);
  free(spins);
  free(shell);
  free(r.e);
  free(r.m);
  free(r.unsat);
  free(r.s0);
  free(r.s1);
  free(r.shell_sum);
  free(r.shell_sq);
  return rc;
}
