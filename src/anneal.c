/* anneal.c: simulated annealing and ground states (anneal.h).
 *   ising_anneal_run   collective */
#include "ising/anneal.h"

#include "ising/checkpoint.h"
#include "ising/error.h"
#include "ising/halo.h"
#include "ising/mc.h"
#include "ising/observables.h"
#include "ising/rebalance.h"
#include "ising/rng.h"
#include "ising/sweep.h"
#include "ising/timers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double schedule(const ising_params *p, int64_t k)
{
  double f = (double)k / (double)(p->anneal_steps - 1);
  if (p->anneal_geometric) return p->anneal_beta_start * pow(p->anneal_beta_end / p->anneal_beta_start, f);
  return p->anneal_beta_start + f * (p->anneal_beta_end - p->anneal_beta_start);
}

/* The state after n sweeps of restart r: hits of the best energy so far,
 * the current and the best spins, the final energies of restarts < r. */
static int anneal_checkpoint(ising_checkpoint *ck, ising_io *io, const ising_geometry *g, int64_t r, int64_t n,
                             int64_t hits, int8_t *spins, int8_t *best, const double *energies, int64_t restarts)
{
  const int64_t counters[3] = {r, n, hits};
  int64_t three = 3;
  ising_io cio;
  int8_t *kept = r > 0 ? best : spins; /* before the first restart ends there is no best yet */
  ising_timer_start(ISING_PHASE_OUTPUT);
  int bad = ising_checkpoint_begin(ck, io, ISING_TASK_ANNEAL, &cio) ||
            ising_checkpoint_put(&cio, "/anneal/counters", H5T_NATIVE_INT64, 1, &three, counters) ||
            ising_checkpoint_put_spins(&cio, "/anneal/spins", g, 0, &spins) ||
            ising_checkpoint_put_spins(&cio, "/anneal/best_spins", g, 0, &kept) ||
            ising_checkpoint_put(&cio, "/anneal/energies", H5T_NATIVE_DOUBLE, 1, &restarts, energies);
  bad = ising_checkpoint_end(ck, &cio, bad);
  ising_timer_stop(ISING_PHASE_OUTPUT);
  return bad;
}

/* This configuration's exact total energy (units of 2^-32); needs the halo. */
static ising_int128 total_energy(const ising_geometry *g, const ising_couplings *c, const int8_t *spins)
{
  ising_int128 e = ising_observables_local(g, c, spins).energy;
  ising_allreduce_int128(g->comm, &e, 1);
  return e;
}

int ising_anneal_run(const ising_params *p, const ising_geometry *g0, const ising_couplings *c0, ising_io *io,
                     ising_freeenergy *fe, ising_checkpoint *ck)
{
  const ising_geometry *g = g0;
  const ising_couplings *c = c0;
  ising_rebalance blk;
  ising_rebalance_init(&blk, p, g0, c0);
  const int64_t R = p->anneal_restarts, per_restart = p->anneal_steps * p->anneal_sweeps_per_step;
  int rc = ISING_EXIT_RUNTIME;
  int8_t *spins = malloc(g->nextended), *best = calloc(1, g->nextended); /* -rebalance moves best from the start */
  double *energies = malloc(sizeof(double) * (size_t)R);
  ising_halo halo;
  ising_halo_create(g, MPI_INT8_T, &halo);
  if (ising_check(g->comm, !spins || !best || !energies, "out of memory for annealing")) goto done;
  for (int64_t r = 0; r < R; r++) energies[r] = NAN;

  ising_int128 best_e = 0;
  int64_t hits = 0, r0 = 0, n0 = 0;
  ising_io cio;
  const int resume = ising_checkpoint_resume(ck, ISING_TASK_ANNEAL, &cio);
  if (resume < 0) goto done;
  if (resume) {
    /* Restart r0 continues after n0 sweeps; the best energy so far is that
     * of the best configuration, recomputed exactly. */
    int64_t cnt[3] = {-1, -1, -1};
    memset(spins, 0, g->nextended);
    memset(best, 0, g->nextended);
    int bad = ising_checkpoint_get(&cio, "/anneal/counters", H5T_NATIVE_INT64, 3, cnt) ||
              ising_checkpoint_get_spins(&cio, "/anneal/spins", g, 0, &spins) ||
              ising_checkpoint_get_spins(&cio, "/anneal/best_spins", g, 0, &best) ||
              ising_checkpoint_get(&cio, "/anneal/energies", H5T_NATIVE_DOUBLE, R, energies);
    ising_io_close(&cio);
    bad |= cnt[0] < 0 || cnt[0] >= R || cnt[1] < 0 || cnt[1] > per_restart || cnt[2] < (cnt[0] > 0) || cnt[2] > cnt[0];
    if (ising_checkpoint_check(ck, bad, "the annealing state (/anneal) is unreadable or out of range")) {
      rc = ISING_EXIT_INPUT;
      goto done;
    }
    r0 = cnt[0];
    n0 = cnt[1];
    hits = cnt[2];
    ising_halo_exchange(&halo, best);
    if (r0 > 0) best_e = total_energy(g, c, best);
  }
  if (p->rebalance > 0 && ising_rebalance_write(&blk, io, 1)) goto done;
  double last = MPI_Wtime();
  const double t0 = last;
  const int64_t sweeps_left = (R - r0) * per_restart - n0; /* for the progress lines' rate and ETA */
  int64_t done_sweeps = 0;
  for (int64_t r = r0; r < R; r++) {
    if (!resume || r > r0) ising_spins_init(g, p->seed, ISING_STREAM_ANNEAL_INIT, (uint64_t)r, 1, spins);
    ising_halo_exchange(&halo, spins);
    ising_sweeper sweeper;
    const int64_t first = r == r0 ? n0 : 0;
    for (int64_t n = first; n < per_restart; n++) {
      if (n == first || n % p->anneal_sweeps_per_step == 0)
        ising_sweeper_init(&sweeper, g, c, p->algorithm, schedule(p, n / p->anneal_sweeps_per_step), p->seed,
                           ISING_STREAM_ANNEAL0 + (uint32_t)r);
      ising_sweep_stats acc = {0, 0, 0};
      ising_mc_sweep(&sweeper, &halo, spins, (uint64_t)n, &acc);
      done_sweeps++;
      if (ising_rebalance_due(&blk) && (n + 1 < per_restart || r + 1 < R)) { /* not after the last sweep */
        char when[96];
        snprintf(when, sizeof(when), "after sweep %lld of restart %lld ", (long long)(n + 1), (long long)(r + 1));
        int8_t *fields[2] = {spins, best};
        const int moved = ising_rebalance_check(&blk, p, 2, fields, &halo, when);
        spins = fields[0];
        best = fields[1];
        if (moved < 0) goto done;
        if (moved) {
          g = blk.g;
          c = blk.c;
          /* the next sweep's temperature: a new step re-initialises it again at the top of the loop */
          ising_sweeper_init(&sweeper, g, c, p->algorithm, schedule(p, n / p->anneal_sweeps_per_step), p->seed,
                             ISING_STREAM_ANNEAL0 + (uint32_t)r);
          if (ising_rebalance_write(&blk, io, 0)) goto done;
        }
      }
      if (!p->quiet && g->rank == 0 && MPI_Wtime() - last >= p->progress_interval) { /* a long restart */
        last = MPI_Wtime();
        const double rate = (double)done_sweeps / (last - t0);
        printf("progress: anneal restart %lld/%lld, sweep %lld/%lld, beta %g, %.1f sweeps/s, ETA %.0f s\n",
               (long long)(r + 1), (long long)R, (long long)(n + 1), (long long)per_restart, sweeper.beta, rate,
               (double)(sweeps_left - done_sweeps) / rate);
        fflush(stdout);
      }
      const int action = ising_checkpoint_poll(ck);
      if (action != ISING_CHECKPOINT_NONE && anneal_checkpoint(ck, io, g, r, n + 1, hits, spins, best, energies, R))
        goto done;
      if (action == ISING_CHECKPOINT_STOP) {
        rc = ISING_EXIT_INTERRUPTED;
        goto done;
      }
    }
    ising_timer_start(ISING_PHASE_MEASURE);
    ising_int128 e = total_energy(g, c, spins);
    ising_timer_stop(ISING_PHASE_MEASURE);
    energies[r] = (double)e / ISING_QUANTUM_SCALE;
    if (r == 0 || e < best_e) {
      best_e = e;
      hits = 1;
      memcpy(best, spins, g->nextended);
    } else if (e == best_e) {
      hits++;
    }
    if (!p->quiet && g->rank == 0 && MPI_Wtime() - last >= p->progress_interval) {
      last = MPI_Wtime();
      printf("progress: anneal restart %lld/%lld, best energy %.10g (%lld hits)\n", (long long)(r + 1), (long long)R,
             (double)best_e / ISING_QUANTUM_SCALE, (long long)hits);
      fflush(stdout);
    }
  }

  ising_exact_result ex;
  int have = ising_freeenergy_exact(fe, 0, &ex);
  if (have < 0) goto done;
  ising_timer_start(ISING_PHASE_OUTPUT);
  double best_total = (double)best_e / ISING_QUANTUM_SCALE, per_spin = best_total / (double)g->nsites;
  double beta_range[2] = {p->anneal_beta_start, p->anneal_beta_end};
  int64_t one = 1, zero = 0, nr = R, steps = p->anneal_steps, sweeps = p->anneal_sweeps_per_step;
  double hits_d = (double)hits, restarts_d = (double)R;
  int bad = ising_io_dataset_double(io, "/ground_state/energy", 1, &one) ||
            ising_io_write_double(io, "/ground_state/energy", &zero, &one, &best_total) ||
            ising_io_dataset_double(io, "/ground_state/energy_per_spin", 1, &one) ||
            ising_io_write_double(io, "/ground_state/energy_per_spin", &zero, &one, &per_spin) ||
            ising_io_dataset_double(io, "/ground_state/hits", 1, &one) ||
            ising_io_write_double(io, "/ground_state/hits", &zero, &one, &hits_d) ||
            ising_io_dataset_double(io, "/ground_state/restarts", 1, &one) ||
            ising_io_write_double(io, "/ground_state/restarts", &zero, &one, &restarts_d) ||
            ising_io_dataset_double(io, "/ground_state/restart_energies", 1, &nr) ||
            ising_io_write_double(io, "/ground_state/restart_energies", &zero, &nr, energies) ||
            ising_io_dataset_field(io, "/ground_state/spins", 0, g, H5T_NATIVE_INT8) ||
            ising_io_write_field(io, "/ground_state/spins", 0, g, H5T_NATIVE_INT8, best) ||
            ising_io_attr_string(io, "/ground_state", "schedule", p->anneal_geometric ? "geometric" : "linear") ||
            ising_io_attr_double(io, "/ground_state", "beta_range", beta_range, 2) ||
            ising_io_attr_int64(io, "/ground_state", "steps", &steps, 0) ||
            ising_io_attr_int64(io, "/ground_state", "sweeps_per_step", &sweeps, 0);
  if (!bad && have && isfinite(ex.ground_energy)) {
    bad = ising_io_dataset_double(io, "/ground_state/energy_exact", 1, &one) ||
          ising_io_write_double(io, "/ground_state/energy_exact", &zero, &one, &ex.ground_energy) ||
          ising_io_dataset_double(io, "/ground_state/degeneracy_exact", 1, &one) ||
          ising_io_write_double(io, "/ground_state/degeneracy_exact", &zero, &one, &ex.ground_degeneracy);
  }
  if (!bad) bad = ising_io_flush(io);
  ising_timer_stop(ISING_PHASE_OUTPUT);
  if (bad) goto done;
  if (!p->quiet && g->rank == 0) {
    printf("\nannealing: %lld restarts, %s schedule beta %g -> %g in %lld steps of %lld sweeps\n", (long long)R,
           p->anneal_geometric ? "geometric" : "linear", p->anneal_beta_start, p->anneal_beta_end,
           (long long)p->anneal_steps, (long long)p->anneal_sweeps_per_step);
    printf("  lowest energy %.10g (%.10g per spin), reached by %lld of %lld restarts\n", best_total, per_spin,
           (long long)hits, (long long)R);
    if (have && isfinite(ex.ground_energy))
      printf("  exact ground state (%s): energy %.10g, degeneracy %.0f%s\n", ising_freeenergy_method(fe),
             ex.ground_energy, ex.ground_degeneracy,
             fabs(best_total - ex.ground_energy) <= 1e-9 * (1 + fabs(ex.ground_energy)) ? "  (found)"
                                                                                        : "  (NOT found)");
    fflush(stdout);
  }
  rc = 0;
done:
  ising_halo_free(&halo);
  free(spins);
  free(best);
  free(energies);
  ising_rebalance_free(&blk);
  return rc;
}
