/* anneal.c: simulated annealing and ground states (anneal.h).
 *   ising_anneal_run   collective */
#include "ising/anneal.h"

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

static double schedule(const ising_params *p, int64_t k)
{
  double f = (double)k / (double)(p->anneal_steps - 1);
  if (p->anneal_geometric) return p->anneal_beta_start * pow(p->anneal_beta_end / p->anneal_beta_start, f);
  return p->anneal_beta_start + f * (p->anneal_beta_end - p->anneal_beta_start);
}

int ising_anneal_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c, ising_io *io,
                     ising_freeenergy *fe)
{
  const int64_t R = p->anneal_restarts;
  int rc = ISING_EXIT_RUNTIME;
  int8_t *spins = malloc(g->nextended), *best = malloc(g->nextended);
  double *energies = malloc(sizeof(double) * (size_t)R);
  ising_halo halo;
  ising_halo_create(g, MPI_INT8_T, &halo);
  if (ising_check(g->comm, !spins || !best || !energies, "out of memory for annealing")) goto done;

  ising_int128 best_e = 0;
  int64_t hits = 0;
  double last = MPI_Wtime();
  for (int64_t r = 0; r < R; r++) {
    ising_spins_init(g, p->seed, ISING_STREAM_ANNEAL_INIT, (uint64_t)r, 1, spins);
    ising_halo_exchange(&halo, spins);
    uint64_t step = 0;
    for (int64_t k = 0; k < p->anneal_steps; k++) {
      ising_sweeper sweeper;
      ising_sweeper_init(&sweeper, g, c, p->algorithm, schedule(p, k), p->seed, ISING_STREAM_ANNEAL0 + (uint32_t)r);
      ising_sweep_stats acc = {0, 0};
      for (int64_t s = 0; s < p->anneal_sweeps_per_step; s++) ising_mc_sweep(&sweeper, &halo, spins, step++, &acc);
    }
    ising_timer_start(ISING_PHASE_MEASURE);
    ising_int128 e = ising_observables_local(g, c, spins).energy;
    ising_allreduce_int128(g->comm, &e, 1);
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
  return rc;
}
