/* ais.c: annealed importance sampling (ais.h).
 *   ising_ais_run   collective */
#include "ising/ais.h"

#include "ising/error.h"
#include "ising/halo.h"
#include "ising/mc.h"
#include "ising/observables.h"
#include "ising/rng.h"
#include "ising/sweep.h"
#include "ising/timers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int ising_ais_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c, ising_io *io,
                  ising_freeenergy *fe)
{
  const int M = p->ais_chains, K = p->nbeta;
  const int64_t S = p->ais_steps;
  int rc = ISING_EXIT_RUNTIME;
  double bmax = 0.0;
  for (int k = 0; k < K; k++) bmax = p->beta[k] > bmax ? p->beta[k] : bmax;
  double *sched = malloc(sizeof(double) * (size_t)(S + K)), *w = malloc(sizeof(double) * (size_t)M * (size_t)K);
  int8_t *spins = malloc(g->nextended);
  ising_halo halo;
  ising_halo_create(g, MPI_INT8_T, &halo);
  if (ising_check(g->comm, !sched || !w || !spins, "out of memory for annealed importance sampling")) goto done;
  /* the schedule: a uniform grid up to beta_max and every run temperature, sorted, without repeats */
  int64_t ns = 0;
  for (int64_t t = 1; t <= S; t++) sched[ns++] = bmax * (double)t / (double)S;
  for (int k = 0; k < K; k++) sched[ns++] = p->beta[k];
  qsort(sched, (size_t)ns, sizeof(double), cmp_double);
  int64_t n = 0;
  for (int64_t t = 0; t < ns; t++)
    if (sched[t] > 0 && (n == 0 || sched[t] != sched[n - 1])) sched[n++] = sched[t];

  double last = MPI_Wtime();
  for (int m = 0; m < M; m++) {
    ising_spins_init(g, p->seed, ISING_STREAM_AIS_INIT, (uint64_t)m, 1, spins);
    ising_halo_exchange(&halo, spins);
    ising_int128 energy = ising_observables_local(g, c, spins).energy;
    ising_allreduce_int128(g->comm, &energy, 1);
    double logw = 0.0, prev = 0.0;
    uint64_t sweep = 0;
    for (int k = 0; k < K; k++)
      if (p->beta[k] == 0.0) w[(size_t)m * (size_t)K + (size_t)k] = 0.0;
    for (int64_t t = 0; t < n; t++) {
      logw -= (sched[t] - prev) * ((double)energy / ISING_QUANTUM_SCALE);
      prev = sched[t];
      for (int k = 0; k < K; k++)
        if (p->beta[k] == sched[t]) w[(size_t)m * (size_t)K + (size_t)k] = logw;
      if (t == n - 1) break; /* the last point needs no sweeps after it */
      ising_sweeper sweeper;
      ising_sweeper_init(&sweeper, g, c, p->algorithm, sched[t], p->seed, ISING_STREAM_AIS);
      ising_sweep_stats acc = {0, 0};
      for (int64_t s = 0; s < p->ais_sweeps_per_step; s++)
        ising_mc_sweep(&sweeper, &halo, spins, ((uint64_t)m << 32) | sweep++, &acc);
      ising_allreduce_int128(g->comm, &acc.denergy, 1);
      energy += acc.denergy;
    }
    if (!p->quiet && g->rank == 0 && MPI_Wtime() - last >= p->progress_interval) {
      last = MPI_Wtime();
      printf("progress: AIS chain %d/%d done\n", m + 1, M);
      fflush(stdout);
    }
  }

  ising_timer_start(ISING_PHASE_ANALYSIS);
  const double ln2n = (double)p->nsites * log(2.0);
  int bad = 0;
  for (int k = 0; k < K && !bad; k++) {
    ising_exact_result ex;
    if (ising_freeenergy_exact(fe, k, &ex) < 0) { /* the exact value beside the estimate, where one exists */
      bad = 1;
      break;
    }
    double wmax = -INFINITY, sum = 0.0, sum2 = 0.0, mean = 0.0, var = 0.0;
    for (int m = 0; m < M; m++) wmax = fmax(wmax, w[(size_t)m * (size_t)K + (size_t)k]);
    for (int m = 0; m < M; m++) {
      double x = exp(w[(size_t)m * (size_t)K + (size_t)k] - wmax);
      sum += x;
      sum2 += x * x;
      mean += w[(size_t)m * (size_t)K + (size_t)k] / M;
    }
    for (int m = 0; m < M; m++) var += pow(w[(size_t)m * (size_t)K + (size_t)k] - mean, 2) / (M > 1 ? M - 1 : 1);
    double xbar = sum / M, xvar = M > 1 ? (sum2 - M * xbar * xbar) / (M - 1) : NAN;
    double lnz = ln2n + wmax + log(xbar), err = M > 1 ? sqrt(fmax(xvar, 0.0) / M) / xbar : NAN;
    double ess = sum * sum / sum2;
    bad = ising_freeenergy_put_ais(fe, k, lnz, err, ln2n + mean, M > 1 ? sqrt(var / M) : NAN, ess);
  }
  ising_timer_stop(ISING_PHASE_ANALYSIS);
  int64_t dims[2] = {M, K}, start[2] = {0, 0};
  int64_t steps = n, chains = M;
  if (!bad)
    bad = ising_io_dataset_double(io, "/ais/log_weights", 2, dims) ||
          ising_io_write_double(io, "/ais/log_weights", start, dims, w) ||
          ising_io_attr_int64(io, "/ais", "schedule_points", &steps, 0) ||
          ising_io_attr_int64(io, "/ais", "chains", &chains, 0) ||
          ising_io_attr_int64(io, "/ais", "sweeps_per_step", &p->ais_sweeps_per_step, 0) || ising_io_flush(io);
  if (bad) goto done;
  rc = 0;
done:
  ising_halo_free(&halo);
  free(sched);
  free(w);
  free(spins);
  return rc;
}
