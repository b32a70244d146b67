/* tempering.c: parallel tempering (tempering.h).
 *   ising_tempering_run   collective */
#include "ising/tempering.h"

#include "ising/couplings.h"
#include "ising/error.h"
#include "ising/geometry.h"
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

/* The replicated bookkeeping of the ladder: identical on every rank. */
typedef struct {
  int K;
  int *replica_at;    /* [K] replica holding slot t */
  int *slot_of;       /* [K] slot of replica r */
  int *direction;     /* [K] +1 last extreme visited was slot 0, -1 slot K-1, 0 neither yet */
  int64_t *trips;     /* [K] round trips slot 0 -> K-1 -> 0 completed by replica r */
  int64_t *attempts;  /* [K-1] swap attempts of pair (t, t+1), production phase */
  int64_t *accepts;   /* [K-1] */
  int64_t *up, *down; /* [K] measurements at slot t by a replica with direction +1 / -1 */
} ladder;

static int ladder_alloc(ladder *l, int K)
{
  memset(l, 0, sizeof(*l));
  l->K = K;
  l->replica_at = calloc((size_t)K, sizeof(int));
  l->slot_of = calloc((size_t)K, sizeof(int));
  l->direction = calloc((size_t)K, sizeof(int));
  l->trips = calloc((size_t)K, sizeof(int64_t));
  l->attempts = calloc((size_t)K, sizeof(int64_t));
  l->accepts = calloc((size_t)K, sizeof(int64_t));
  l->up = calloc((size_t)K, sizeof(int64_t));
  l->down = calloc((size_t)K, sizeof(int64_t));
  if (!l->replica_at || !l->slot_of || !l->direction || !l->trips || !l->attempts || !l->accepts || !l->up || !l->down)
    return -1;
  for (int t = 0; t < K; t++) l->replica_at[t] = l->slot_of[t] = t;
  return 0;
}

static void ladder_free(ladder *l)
{
  free(l->replica_at);
  free(l->slot_of);
  free(l->direction);
  free(l->trips);
  free(l->attempts);
  free(l->accepts);
  free(l->up);
  free(l->down);
}

static void update_directions(ladder *l)
{
  for (int r = 0; r < l->K; r++) {
    if (l->slot_of[r] == 0) {
      if (l->direction[r] == -1) l->trips[r]++;
      l->direction[r] = 1;
    } else if (l->slot_of[r] == l->K - 1) {
      l->direction[r] = -1;
    }
  }
}

/* Swap step u: pairs (t, t+1) with t = u mod 2, 2 + u mod 2, ...;
 * energy[r] is replica r's total energy. */
static void swap_step(const ising_params *p, ladder *l, uint64_t u, const double *energy, int count)
{
  for (int t = (int)(u & 1); t + 1 < l->K; t += 2) {
    int a = l->replica_at[t], b = l->replica_at[t + 1];
    double delta = (p->beta[t] - p->beta[t + 1]) * (energy[a] - energy[b]);
    uint32_t r = ising_rng_u32(p->seed, ISING_STREAM_SWAP, u, (uint64_t)t);
    int accept = delta >= 0 || (double)r < exp(delta) * ISING_QUANTUM_SCALE;
    if (count) {
      l->attempts[t]++;
      l->accepts[t] += accept;
    }
    if (!accept) continue;
    l->replica_at[t] = b;
    l->replica_at[t + 1] = a;
    l->slot_of[a] = t + 1;
    l->slot_of[b] = t;
  }
  update_directions(l);
}

static void init_replica(const ising_params *p, const ising_geometry *g, int r, int8_t *spins)
{
  memset(spins, 0, g->nextended);
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++)
      for (int ex = 1; ex <= g->n[0]; ex++) {
        uint64_t site = (uint64_t)ising_geometry_global_index(g, ex, ey, ez);
        int8_t s = 1;
        if (p->hot_start) s = ising_rng_u32(p->seed, ISING_STREAM_INIT, (uint64_t)r, site) & 1 ? 1 : -1;
        spins[ising_geometry_index(g, ex, ey, ez)] = s;
      }
}

typedef struct {
  double start, last;
} progress;

static void report_progress(const ising_params *p, const ladder *l, progress *pr, int rank, int64_t done, int64_t total)
{
  if (p->quiet || rank) return;
  double now = MPI_Wtime();
  if (now - pr->last < p->progress_interval) return;
  pr->last = now;
  double lo = 1, hi = 0;
  int64_t trips = 0;
  for (int t = 0; t + 1 < l->K; t++) {
    double a = l->attempts[t] ? (double)l->accepts[t] / (double)l->attempts[t] : NAN;
    if (a < lo) lo = a;
    if (a > hi) hi = a;
  }
  for (int r = 0; r < l->K; r++) trips += l->trips[r];
  double rate = (double)done / (now - pr->start);
  printf("progress: tempering sweep %lld/%lld, %.1f sweeps/s, ETA %.0f s, swap acceptance %.3f-%.3f, %lld round "
         "trips\n",
         (long long)done, (long long)total, rate, (double)(total - done) / rate, lo, hi, (long long)trips);
  fflush(stdout);
}

static int write_tempering(const ising_params *p, const ladder *l, const double *labels, int64_t nmeas, ising_io *io)
{
  const int K = l->K;
  int64_t nk = K, npair = K - 1, one = 1, zero = 0, dims[2] = {nmeas, K}, start[2] = {0, 0};
  double *acc = malloc(sizeof(double) * (size_t)K), *f = malloc(sizeof(double) * (size_t)K);
  double *trips = malloc(sizeof(double) * (size_t)K);
  if (!acc || !f || !trips) {
    free(acc);
    free(f);
    free(trips);
    return -1;
  }
  double total = 0;
  for (int t = 0; t < K; t++) {
    acc[t] = t + 1 < K && l->attempts[t] ? (double)l->accepts[t] / (double)l->attempts[t] : NAN;
    f[t] = l->up[t] + l->down[t] ? (double)l->up[t] / (double)(l->up[t] + l->down[t]) : NAN;
    trips[t] = (double)l->trips[t];
    total += trips[t];
  }
  int rc = ising_io_dataset_double(io, "/tempering/beta", 1, &nk) ||
           ising_io_write_double(io, "/tempering/beta", &zero, &nk, p->beta) ||
           ising_io_dataset_double(io, "/tempering/swap_acceptance", 1, &npair) ||
           ising_io_write_double(io, "/tempering/swap_acceptance", &zero, &npair, acc) ||
           ising_io_dataset_double(io, "/tempering/up_fraction", 1, &nk) ||
           ising_io_write_double(io, "/tempering/up_fraction", &zero, &nk, f) ||
           ising_io_dataset_double(io, "/tempering/round_trips_per_replica", 1, &nk) ||
           ising_io_write_double(io, "/tempering/round_trips_per_replica", &zero, &nk, trips) ||
           ising_io_dataset_double(io, "/tempering/round_trips", 1, &one) ||
           ising_io_write_double(io, "/tempering/round_trips", &zero, &one, &total) ||
           ising_io_dataset_double(io, "/tempering/labels", 2, dims) ||
           ising_io_write_double(io, "/tempering/labels", start, dims, labels) ||
           ising_io_attr_int64(io, "/tempering", "swap_interval", &p->pt_swap_interval, 0);
  int64_t rpr = p->ranks_per_replica, rpg = p->replicas_per_group;
  if (!rc)
    rc = ising_io_attr_int64(io, "/tempering", "ranks_per_replica", &rpr, 0) ||
         ising_io_attr_int64(io, "/tempering", "replicas_per_group", &rpg, 0);
  free(acc);
  free(f);
  free(trips);
  return rc;
}

int ising_tempering_run(const ising_params *p, ising_io *io, ising_freeenergy *fe)
{
  int world_rank, world_size, status = ISING_EXIT_RUNTIME;
  MPI_Comm world = io->comm, group_comm = MPI_COMM_NULL;
  MPI_Comm_rank(world, &world_rank);
  MPI_Comm_size(world, &world_size);
  const int K = p->nbeta, per_group = p->replicas_per_group, group = world_rank / p->ranks_per_replica;
  const int64_t nmeas = p->sweeps / p->measure_interval, total = p->thermalize + p->sweeps;

  ising_params gp = *p; /* the group's lattice: -process_grid lays out one group */
  ising_geometry g = {.comm = MPI_COMM_NULL};
  ising_couplings c = {0};
  ising_halo halo;
  int have_halo = 0;
  ladder l;
  int8_t **spins = calloc((size_t)per_group, sizeof(int8_t *));
  double *e_ts = malloc(sizeof(double) * (size_t)(K * nmeas)), *m_ts = malloc(sizeof(double) * (size_t)(K * nmeas));
  double *labels = malloc(sizeof(double) * (size_t)(K * nmeas));
  double *energy = malloc(sizeof(double) * (size_t)K), *mag = malloc(sizeof(double) * (size_t)K);
  double *local = malloc(sizeof(double) * (size_t)(2 * K)), *sums = malloc(sizeof(double) * (size_t)(2 * K));
  int64_t *changed = calloc((size_t)K, sizeof(int64_t)), *changed_all = calloc((size_t)K, sizeof(int64_t));
  ising_sweeper *sweeper = malloc(sizeof(ising_sweeper) * (size_t)K);
  int oom = ladder_alloc(&l, K) || !spins || !e_ts || !m_ts || !labels || !energy || !mag || !local || !sums ||
            !changed || !changed_all || !sweeper;
  if (ising_check(world, oom, "out of memory for %d replicas and their time series", K)) goto done;

  MPI_Comm_split(world, group, world_rank, &group_comm);
  if ((status = ising_geometry_create(group_comm, &gp, &g))) goto done;
  status = ISING_EXIT_RUNTIME;
  if (ising_couplings_create(p, &g, &c)) goto done;
  if (ising_couplings_write(io, &g, &c, group == 0)) goto done;
  ising_halo_create(&g, MPI_INT8_T, &halo);
  have_halo = 1;
  for (int j = 0; j < per_group; j++) oom |= !(spins[j] = malloc(g.nextended));
  if (ising_check(world, oom, "out of memory for the replicas' spins")) goto done;
  if (ising_mc_create_observables(p, fe->method != ISING_EXACT_NONE, io)) goto done;
  int64_t nk = K;
  if (ising_io_dataset_field(io, "/tempering/spins", nk, &g, H5T_NATIVE_INT8)) goto done;

  for (int j = 0; j < per_group; j++) {
    init_replica(p, &g, group * per_group + j, spins[j]);
    ising_halo_exchange(&halo, spins[j]);
  }
  for (int t = 0; t < K; t++) ising_sweeper_init(&sweeper[t], &g, &c, p->algorithm, p->beta[t], p->seed, 0);

  progress pr = {MPI_Wtime(), MPI_Wtime()};
  uint64_t swaps = 0;
  for (int64_t s = 0; s < total; s++) {
    const int production = s >= p->thermalize;
    for (int j = 0; j < per_group; j++) {
      int r = group * per_group + j, t = l.slot_of[r];
      sweeper[t].stream = ISING_STREAM_REPLICA0 + (uint32_t)r;
      int64_t ch = 0;
      ising_mc_sweep(&sweeper[t], &halo, spins[j], (uint64_t)s, &ch);
      if (production) changed[t] += ch;
    }
    const int64_t done = s + 1;
    const int measure = production && (done - p->thermalize) % p->measure_interval == 0;
    const int swap = done % p->pt_swap_interval == 0;
    if (measure || swap) {
      /* Every replica's energy and magnetisation on every rank: each entry
       * has one non-zero contribution (its group's rank 0), so the sum is
       * exact. */
      ising_timer_start(ISING_PHASE_MEASURE);
      for (int k = 0; k < 2 * K; k++) local[k] = 0.0;
      for (int j = 0; j < per_group; j++) {
        int r = group * per_group + j;
        double e, m;
        ising_observables_measure(&g, &c, spins[j], &e, &m);
        if (g.rank == 0) {
          local[r] = e;
          local[K + r] = m;
        }
      }
      MPI_Allreduce(local, sums, 2 * K, MPI_DOUBLE, MPI_SUM, world);
      ising_timer_stop(ISING_PHASE_MEASURE);
      for (int r = 0; r < K; r++) {
        energy[r] = sums[r] * (double)p->nsites;
        mag[r] = sums[K + r];
      }
    }
    if (measure) {
      int64_t i = (done - p->thermalize) / p->measure_interval - 1;
      for (int t = 0; t < K; t++) {
        int r = l.replica_at[t];
        e_ts[t * nmeas + i] = energy[r] / (double)p->nsites;
        m_ts[t * nmeas + i] = mag[r];
        labels[i * K + t] = (double)r;
        l.up[t] += l.direction[r] == 1;
        l.down[t] += l.direction[r] == -1;
      }
    }
    if (swap) swap_step(p, &l, swaps++, energy, production);
    report_progress(p, &l, &pr, world_rank, done, total);
  }

  MPI_Allreduce(changed, changed_all, K, MPI_INT64_T, MPI_SUM, world);
  for (int t = 0; t < K; t++) {
    int print = !p->quiet && world_rank == 0;
    double acceptance = (double)changed_all[t] / ((double)p->sweeps * (double)p->nsites);
    if (ising_mc_finish_temperature(p, io, fe, t, &e_ts[t * nmeas], &m_ts[t * nmeas], acceptance, print)) goto done;
  }
  ising_timer_start(ISING_PHASE_OUTPUT);
  int bad = write_tempering(p, &l, labels, nmeas, io);
  for (int t = 0; t < K && !bad; t++) {
    int r = l.replica_at[t], mine = r / per_group == group;
    bad = ising_io_write_field_part(io, "/tempering/spins", t, &g, H5T_NATIVE_INT8,
                                    mine ? spins[r % per_group] : spins[0], mine);
  }
  if (!bad) bad = ising_io_flush(io);
  ising_timer_stop(ISING_PHASE_OUTPUT);
  if (bad) goto done;
  if (!p->quiet && world_rank == 0) {
    int64_t trips = 0;
    for (int r = 0; r < K; r++) trips += l.trips[r];
    printf("\ntempering: %d temperatures, %d replica group%s of %d rank%s, %lld round trips\n  swap acceptance:", K,
           world_size / p->ranks_per_replica, world_size / p->ranks_per_replica > 1 ? "s" : "", p->ranks_per_replica,
           p->ranks_per_replica > 1 ? "s" : "", (long long)trips);
    for (int t = 0; t + 1 < K; t++) printf(" %.3f", l.attempts[t] ? (double)l.accepts[t] / (double)l.attempts[t] : NAN);
    printf("\n");
    fflush(stdout);
  }
  status = 0;
done:
  if (have_halo) ising_halo_free(&halo);
  for (int j = 0; spins && j < per_group; j++) free(spins[j]);
  free(spins);
  free(e_ts);
  free(m_ts);
  free(labels);
  free(energy);
  free(mag);
  free(local);
  free(sums);
  free(changed);
  free(changed_all);
  free(sweeper);
  ladder_free(&l);
  ising_couplings_free(&c);
  ising_geometry_free(&g);
  if (group_comm != MPI_COMM_NULL) MPI_Comm_free(&group_comm);
  return status;
}
