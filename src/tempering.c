/* tempering.c: parallel tempering (tempering.h).
 *   ising_tempering_run   collective */
#include "ising/tempering.h"

#include "ising/checkpoint.h"
#include "ising/couplings.h"
#include "ising/error.h"
#include "ising/geometry.h"
#include "ising/halo.h"
#include "ising/mc.h"
#include "ising/observables.h"
#include "ising/rebalance.h"
#include "ising/rng.h"
#include "ising/stats.h"
#include "ising/sweep.h"
#include "ising/timers.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Measurements between two passes that confirm the tracked energies and magnetisations. */
#define CONFIRM_INTERVAL 64

/* The replicated bookkeeping of the ladder: identical on every rank. */
typedef struct {
  int K, R;           /* temperatures, replica sets (each set has one replica per temperature) */
  int *replica_at;    /* [R*K] replica holding slot t of set s at s*K + t */
  int *slot_of;       /* [R*K] slot of replica r within its set r / K */
  int *direction;     /* [R*K] +1 last extreme visited was slot 0; -1 slot K-1, after slot 0; -2 slot K-1, never
                       * slot 0 (its return there is no round trip); 0 neither yet */
  int64_t *trips;     /* [R*K] round trips slot 0 -> K-1 -> 0 completed by replica r */
  int64_t *attempts;  /* [K-1] swap attempts of pair (t, t+1), production phase */
  int64_t *accepts;   /* [K-1] */
  int64_t *up, *down; /* [K] measurements at slot t by a replica with direction +1 / < 0 */
} ladder;

static int ladder_alloc(ladder *l, int K, int R)
{
  memset(l, 0, sizeof(*l));
  l->K = K;
  l->R = R;
  l->replica_at = calloc((size_t)(R * K), sizeof(int));
  l->slot_of = calloc((size_t)(R * K), sizeof(int));
  l->direction = calloc((size_t)(R * K), sizeof(int));
  l->trips = calloc((size_t)(R * K), sizeof(int64_t));
  l->attempts = calloc((size_t)K, sizeof(int64_t));
  l->accepts = calloc((size_t)K, sizeof(int64_t));
  l->up = calloc((size_t)K, sizeof(int64_t));
  l->down = calloc((size_t)K, sizeof(int64_t));
  if (!l->replica_at || !l->slot_of || !l->direction || !l->trips || !l->attempts || !l->accepts || !l->up || !l->down)
    return -1;
  for (int r = 0; r < R * K; r++) {
    l->replica_at[r] = r;
    l->slot_of[r] = r % K;
  }
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

/* A round trip is slot 0 -> K-1 -> 0: a replica that met slot K-1 before it ever met slot 0 (every replica but
 * those that start at slot 0) completes none by going down (that counted half trips: 8 where the labels showed 5). */
static void update_directions(ladder *l)
{
  for (int r = 0; r < l->R * l->K; r++) {
    if (l->slot_of[r] == 0) {
      if (l->direction[r] == -1) l->trips[r]++;
      l->direction[r] = 1;
    } else if (l->slot_of[r] == l->K - 1) {
      l->direction[r] = l->direction[r] == 1 || l->direction[r] == -1 ? -1 : -2;
    }
  }
}

/* Swap step u: in every set, pairs (t, t+1) with t = u mod 2, 2 + u mod 2,
 * ...; energy[r] is replica r's total energy.  The decision of pair t of
 * set s draws index s*K + t. */
static void swap_step(const ising_params *p, ladder *l, uint64_t u, const double *energy, int64_t *attempts,
                      int64_t *accepts)
{
  const int K = l->K;
  for (int set = 0; set < l->R; set++)
    for (int t = (int)(u & 1); t + 1 < K; t += 2) {
      int *at = l->replica_at + set * K, a = at[t], b = at[t + 1];
      double delta = (p->beta[t] - p->beta[t + 1]) * (energy[a] - energy[b]);
      uint32_t r = ising_rng_u32(p->seed, ISING_STREAM_SWAP, u, (uint64_t)(set * K + t));
      int accept = delta >= 0 || (double)r < exp(delta) * ISING_QUANTUM_SCALE;
      if (attempts) {
        attempts[t]++;
        accepts[t] += accept;
      }
      if (!accept) continue;
      at[t] = b;
      at[t + 1] = a;
      l->slot_of[a] = t + 1;
      l->slot_of[b] = t;
    }
  update_directions(l);
}

/* Spin-glass overlaps q_t = (1/N) sum_i s_i^a s_i^b between the replicas a
 * (set 0) and b (set 1) at slot t.  They may sit in different groups; rank
 * j of one group holds the same sites as rank j of any other, so rank j of
 * b's group sends its block to rank j of a's group.  A block travels as one
 * bit per site (set where the spin is -1; 64 bytes for 8^3 instead of 512),
 * the blocks for one group in one message, and sum_i s_i^a s_i^b is the
 * number of sites less twice the number of bits that differ.  The sums over
 * the ranks travel in the all-reduce of the energies' changes. */
typedef struct {
  int K;
  size_t words;            /* 64-bit words of a block's bits (ising_geometry_pack_bits) */
  uint64_t *send, *recv;   /* [K * words] the blocks sent and received, by peer group and slot */
  uint64_t *mine, *theirs; /* [words] a replica's block within the group */
  uint64_t *masks;         /* ising_geometry_bit_masks, for ising_geometry_pack_bits_simd */
  ising_simd simd;
  int *at;            /* [K] where slot t's block received lies in recv, in blocks */
  MPI_Datatype block; /* words 64-bit words */
  int typed;          /* block was created */
  MPI_Request *req;   /* [2K] */
  int64_t *part;      /* [K] this rank's share of each sum, reduced with the energies */
  double *q;          /* [K] */
} overlap;

static int overlap_alloc(overlap *ov, const ising_geometry *g, int K)
{
  ov->K = K;
  ov->words = ising_geometry_bit_words(g);
  ov->send = malloc(sizeof(uint64_t) * ((size_t)K * ov->words + 1));
  ov->recv = malloc(sizeof(uint64_t) * ((size_t)K * ov->words + 1));
  ov->mine = malloc(sizeof(uint64_t) * (ov->words + 1));
  ov->theirs = malloc(sizeof(uint64_t) * (ov->words + 1));
  ov->at = malloc(sizeof(int) * (size_t)K);
  ov->masks = malloc(sizeof(uint64_t) * (ising_geometry_bit_chunks(g) + 1));
  if (ov->masks) ising_geometry_bit_masks(g, ov->masks);
  ov->simd = ising_simd_default();
  ov->typed = ov->words > 0 && ov->words <= INT_MAX &&
              MPI_Type_contiguous((int)ov->words, MPI_UINT64_T, &ov->block) == MPI_SUCCESS &&
              MPI_Type_commit(&ov->block) == MPI_SUCCESS;
  ov->req = malloc(sizeof(MPI_Request) * (size_t)(2 * K));
  ov->part = malloc(sizeof(int64_t) * (size_t)K);
  ov->q = malloc(sizeof(double) * (size_t)K);
  return !ov->send || !ov->recv || !ov->mine || !ov->theirs || !ov->at || !ov->masks || (ov->words > 0 && !ov->typed) ||
         !ov->req || !ov->part || !ov->q;
}

static void overlap_free(overlap *ov)
{
  free(ov->send);
  free(ov->recv);
  free(ov->mine);
  free(ov->theirs);
  free(ov->at);
  free(ov->masks);
  if (ov->typed) MPI_Type_free(&ov->block);
  ov->typed = 0;
  free(ov->req);
  free(ov->part);
  free(ov->q);
}

/* This rank's share of sum s^a s^b of the two replicas at each temperature, into ov->part; their sums over every
 * rank travel with the energies' all-reduce (overlaps_finish then makes q of them). */
static void overlaps_part(overlap *ov, const ising_geometry *g, const ladder *l, int8_t **spins, int per_group,
                          int group, int rpr, MPI_Comm world)
{
  const int K = l->K, ngroups = 2 * K / per_group;
  int nreq = 0, sent = 0, received = 0;
  for (int t = 0; t < K; t++) ov->part[t] = 0;
  for (int peer = 0; peer < ngroups && ov->words; peer++) {
    if (peer == group) continue;
    const int sent0 = sent, received0 = received;
    for (int t = 0; t < K; t++) {
      int a = l->replica_at[t], b = l->replica_at[K + t], ga = a / per_group, gb = b / per_group;
      if (gb == group && ga == peer)
        ising_geometry_pack_bits_simd(ov->simd, g, ov->masks, spins[b % per_group],
                                      ov->send + (size_t)sent++ * ov->words);
      if (ga == group && gb == peer) ov->at[t] = received++;
    }
    if (sent > sent0)
      MPI_Isend(ov->send + (size_t)sent0 * ov->words, sent - sent0, ov->block, peer * rpr + g->rank, 0, world,
                &ov->req[nreq++]);
    if (received > received0)
      MPI_Irecv(ov->recv + (size_t)received0 * ov->words, received - received0, ov->block, peer * rpr + g->rank, 0,
                world, &ov->req[nreq++]);
  }
  /* the pairs within the group while the blocks travel */
  for (int t = 0; t < K && ov->words; t++) {
    int a = l->replica_at[t], b = l->replica_at[K + t], ga = a / per_group, gb = b / per_group;
    if (group != ga || ga != gb) continue;
    ising_geometry_pack_bits_simd(ov->simd, g, ov->masks, spins[a % per_group], ov->mine);
    ising_geometry_pack_bits_simd(ov->simd, g, ov->masks, spins[b % per_group], ov->theirs);
    ov->part[t] = ising_geometry_bits_dot(ov->mine, ov->theirs, ov->words, (int64_t)g->nlocal);
  }
  MPI_Waitall(nreq, ov->req, MPI_STATUSES_IGNORE);
  for (int t = 0; t < K && ov->words; t++) {
    int a = l->replica_at[t], b = l->replica_at[K + t], ga = a / per_group, gb = b / per_group;
    if (group != ga || ga == gb) continue;
    ising_geometry_pack_bits_simd(ov->simd, g, ov->masks, spins[a % per_group], ov->mine);
    ov->part[t] =
        ising_geometry_bits_dot(ov->mine, ov->recv + (size_t)ov->at[t] * ov->words, ov->words, (int64_t)g->nlocal);
  }
}

/* q_t from the reduced sums (sum[t]: overlaps_part's parts summed over every rank). */
static void overlaps_finish(overlap *ov, const ising_geometry *g, int K, const ising_int128 *sum)
{
  for (int t = 0; t < K; t++) ov->q[t] = (double)sum[t] / (double)g->nsites;
}

typedef struct {
  double q2, q4;
} q_moments;

static double binder_g(const double *means, void *ctx)
{
  (void)ctx;
  return 0.5 * (3.0 - means[1] / (means[0] * means[0]));
}

static double chi_sg(const double *means, void *ctx)
{
  return *(const double *)ctx * means[0];
}

/* Per-slot results of one disorder sample, for the disorder averages. */
enum { NSAMPLE_Q = 7 };
static const char *const sample_names[NSAMPLE_Q] = {
    "energy", "specific_heat", "abs_magnetization", "binder", "q2", "binder_ratio", "chi_sg"};
typedef struct {
  double *v[NSAMPLE_Q]; /* [K] each */
} sample_result;

/* /overlap: per slot <q^2>, <q^4>, the Binder ratio g, chi_SG = N <q^2>
 * with binning/jackknife errors, <|q|>, the q time series and P(q). */
static int write_overlaps(const ising_params *p, const double *q_ts, int64_t nmeas, ising_io *io, sample_result *res)
{
  static const char *const names[] = {
      "beta",      "q2",           "q2_err",           "q4",     "q4_err",     "abs_q",
      "abs_q_err", "binder_ratio", "binder_ratio_err", "chi_sg", "chi_sg_err", "tau_int_q2"};
  enum { NQ = sizeof(names) / sizeof(*names) };
  const int K = p->nbeta, keeper = io->rank == 0; /* q_ts is on rank 0 alone: it analyses, all receive */
  const size_t n = (size_t)nmeas, nk = keeper ? n : 1;
  const int nbins_hist = p->nsites < 200 ? (int)p->nsites + 1 : 201;
  double *q2 = malloc(sizeof(double) * nk), *q4 = malloc(sizeof(double) * nk), *aq = malloc(sizeof(double) * nk);
  double *hist = calloc(keeper ? (size_t)(K * nbins_hist) : 1, sizeof(double));
  double *row = calloc(NQ * (size_t)K, sizeof(double));
  int rc = ising_check(io->comm, !q2 || !q4 || !aq || !hist || !row, "out of memory for the overlap analysis");
  double N = (double)p->nsites;
  for (int t = 0; t < K && !rc && keeper; t++) {
    const double *q = q_ts + (size_t)t * n;
    for (size_t i = 0; i < n; i++) {
      q2[i] = q[i] * q[i];
      q4[i] = q2[i] * q2[i];
      aq[i] = fabs(q[i]);
      /* the bin nearest q, the same for q and -q (lround of (q + 1) (B - 1) / 2 sent the half-way values all up:
       * with N >= 200 and B = 201, q = 0.005 to the bin at 0.01 but -0.005 to the one at 0) */
      int b = (nbins_hist - 1) % 2 ? (int)lround((q[i] + 1.0) * 0.5 * (nbins_hist - 1))
                                   : (nbins_hist - 1) / 2 + (int)lround(q[i] * 0.5 * (nbins_hist - 1));
      b = b < 0 ? 0 : b >= nbins_hist ? nbins_hist - 1 : b;
      hist[t * nbins_hist + b] += 1.0 / (double)n;
    }
    double tau = ising_stats_tau_int(q2, n, 0, NULL);
    int too_short;
    size_t nb = ising_stats_choose_bins(n, tau, &too_short);
    double *r = row + (size_t)t * NQ;
    r[0] = p->beta[t];
    ising_stats_binned_mean(q2, n, nb, &r[1], &r[2]);
    ising_stats_binned_mean(q4, n, nb, &r[3], &r[4]);
    ising_stats_binned_mean(aq, n, nb, &r[5], &r[6]);
    const double *series[2] = {q2, q4};
    ising_stats_jackknife(series, 2, n, nb, binder_g, NULL, &r[7], &r[8]);
    ising_stats_jackknife(series, 1, n, nb, chi_sg, &N, &r[9], &r[10]);
    r[11] = tau;
  }
  if (!rc) MPI_Bcast(row, NQ * K, MPI_DOUBLE, 0, io->comm);
  for (int t = 0; t < K && !rc && res; t++) {
    res->v[4][t] = row[(size_t)t * NQ + 1];
    res->v[5][t] = row[(size_t)t * NQ + 7];
    res->v[6][t] = row[(size_t)t * NQ + 9];
  }
  int64_t nkk = K, zero = 0, hdims[2] = {K, nbins_hist}, tdims[2] = {nmeas, K}, start[2] = {0, 0};
  double *col = rc ? NULL : malloc(sizeof(double) * (size_t)K);
  if (!rc) rc = ising_check(io->comm, !col, "out of memory for the overlap analysis");
  for (int j = 0; j < NQ && !rc; j++) {
    char path[64];
    for (int t = 0; t < K; t++) col[t] = row[(size_t)t * NQ + (size_t)j];
    snprintf(path, sizeof(path), "/overlap/%s", names[j]);
    rc = ising_io_dataset_double(io, path, 1, &nkk) || ising_io_write_double(io, path, &zero, &nkk, col);
  }
  free(col);
  /* q_ts is [slot][measurement]; the file holds [measurement, slot]. */
  if (!rc)
    rc = ising_io_dataset_double(io, "/overlap/q", 2, tdims) ||
         ising_mc_write_slots(io, "/overlap/q", K, nmeas, q_ts) ||
         ising_io_dataset_double(io, "/overlap/histogram", 2, hdims) ||
         ising_io_write_double(io, "/overlap/histogram", start, hdims, hist);
  free(q2);
  free(q4);
  free(aq);
  free(hist);
  free(row);
  return rc ? -1 : 0;
}

/* New interior temperatures from one tuning round's statistics; the
 * endpoints stay.  Each interval t gets a weight w_t = rho_t dbeta_t, the
 * new points divide the cumulative weight equally, and within an interval
 * the density is taken as constant.  Equal acceptance: w_t = sqrt(-ln A_t)
 * (with -ln A ~ c dbeta^2 this equalises the acceptances); a round in which
 * some pair had no swap attempt (-pt_swap_interval longer than a round, or
 * only the even pairs' step in it) leaves the ladder as it is.  Feedback
 * (Katzgraber, Trebst, Huse, Troyer 2006): rho_t = sqrt(|df/dbeta|_t /
 * dbeta_t) from the up-fraction f measured at the slots, so with df/dbeta =
 * (f_t - f_t+1) / dbeta_t the weight is w_t = sqrt(|f_t - f_t+1|), and the
 * ladder is left alone once f falls linearly with the slot (the weight was
 * sqrt(|df| dbeta) before, whose fixed point is not that). */
void ising_pt_retune(double *beta, int K, int method, const int64_t *att, const int64_t *acc, const int64_t *up,
                     const int64_t *down)
{
  double cum[1025], w[1024];
  cum[0] = 0;
  for (int t = 0; t + 1 < K; t++) {
    if (method != ISING_PT_ADAPT_FEEDBACK && !att[t]) return; /* a pair without attempts: nothing to go by */
    if (method == ISING_PT_ADAPT_FEEDBACK) {
      double f0 = up[t] + down[t] ? (double)up[t] / (double)(up[t] + down[t]) : 1.0 - (double)t / (K - 1);
      double f1 = up[t + 1] + down[t + 1] ? (double)up[t + 1] / (double)(up[t + 1] + down[t + 1])
                                          : 1.0 - (double)(t + 1) / (K - 1);
      w[t] = sqrt(fmax(fabs(f0 - f1), 1e-3)); /* rho_t dbeta_t with |df/dbeta| = |f0 - f1| / dbeta */
    } else {
      double a = (double)acc[t] / (double)att[t];
      w[t] = sqrt(-log(fmin(fmax(a, 1e-4), 1.0 - 1e-4)));
    }
    cum[t + 1] = cum[t] + w[t];
  }
  double old[1024];
  memcpy(old, beta, sizeof(double) * (size_t)K);
  for (int k = 1, t = 0; k + 1 < K; k++) {
    double target = cum[K - 1] * k / (K - 1);
    while (t + 2 < K && cum[t + 1] < target) t++;
    beta[k] = old[t] + (target - cum[t]) / w[t] * (old[t + 1] - old[t]);
  }
}

typedef struct {
  double start, last;
  int64_t first; /* sweeps done when the clock started (a restart) */
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
  for (int r = 0; r < l->R * l->K; r++) trips += l->trips[r];
  double rate = (double)(done - pr->first) / (now - pr->start);
  printf("progress: tempering sweep %lld/%lld, %.1f sweeps/s, ETA %.0f s, swap acceptance %.3f-%.3f, %lld round "
         "trips\n",
         (long long)done, (long long)total, rate, (double)(total - done) / rate, lo, hi, (long long)trips);
  fflush(stdout);
}

static int write_tempering(const ising_params *p, const ladder *l, const double *labels, int64_t nmeas, ising_io *io)
{
  const int K = l->K, M = l->R * l->K;
  int64_t nk = K, nm = M, npair = K - 1, one = 1, zero = 0, dims[2] = {nmeas, K}, start[2] = {0, 0};
  double *acc = malloc(sizeof(double) * (size_t)K), *f = malloc(sizeof(double) * (size_t)K);
  double *trips = malloc(sizeof(double) * (size_t)M);
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
  }
  for (int r = 0; r < M; r++) {
    trips[r] = (double)l->trips[r];
    total += trips[r];
  }
  int rc = ising_io_dataset_double(io, "/tempering/beta", 1, &nk) ||
           ising_io_write_double(io, "/tempering/beta", &zero, &nk, p->beta) ||
           ising_io_dataset_double(io, "/tempering/swap_acceptance", 1, &npair) ||
           ising_io_write_double(io, "/tempering/swap_acceptance", &zero, &npair, acc) ||
           ising_io_dataset_double(io, "/tempering/up_fraction", 1, &nk) ||
           ising_io_write_double(io, "/tempering/up_fraction", &zero, &nk, f) ||
           ising_io_dataset_double(io, "/tempering/round_trips_per_replica", 1, &nm) ||
           ising_io_write_double(io, "/tempering/round_trips_per_replica", &zero, &nm, trips) ||
           ising_io_dataset_double(io, "/tempering/round_trips", 1, &one) ||
           ising_io_write_double(io, "/tempering/round_trips", &zero, &one, &total) ||
           ising_io_dataset_double(io, "/tempering/labels", 2, dims) ||
           ising_io_write_double(io, "/tempering/labels", start, dims, labels) ||
           ising_io_attr_int64(io, "/tempering", "swap_interval", &p->pt_swap_interval, 0);
  int64_t rpr = p->ranks_per_replica, rpg = p->replicas_per_group, sets = l->R;
  if (!rc)
    rc = ising_io_attr_int64(io, "/tempering", "ranks_per_replica", &rpr, 0) ||
         ising_io_attr_int64(io, "/tempering", "replicas_per_group", &rpg, 0) ||
         ising_io_attr_int64(io, "/tempering", "replica_sets", &sets, 0);
  free(acc);
  free(f);
  free(trips);
  return rc;
}

/* The lowest energy any replica has had, checked whenever the energies are
 * refreshed (every swap and every measurement): the configuration is kept
 * by the group holding that replica.  Ties keep the earliest, then the
 * lowest replica label, so the result does not depend on the layout. */
typedef struct {
  ising_int128 best;  /* exact total energy, units of 2^-32 */
  ising_int128 *rmin; /* [M] each replica's lowest energy */
  int64_t replica;    /* who had it first */
  int64_t sweep;      /* when (sweeps done, tuning included) */
  int8_t *spins;      /* its configuration, valid in the owner group */
} ground_state;

static void track_ground_state(ground_state *gs, const ising_int128 *energy_q, int M, int64_t sweep, int group,
                               int per_group, int8_t **spins, size_t nextended)
{
  int arg = 0;
  for (int r = 0; r < M; r++) {
    if (energy_q[r] < gs->rmin[r]) gs->rmin[r] = energy_q[r];
    if (energy_q[r] < energy_q[arg]) arg = r;
  }
  if (energy_q[arg] >= gs->best) return;
  gs->best = energy_q[arg];
  gs->replica = arg;
  gs->sweep = sweep;
  if (arg / per_group == group) memcpy(gs->spins, spins[arg % per_group], nextended);
}

/* /ground_state/tempering: the lowest energy, how many replicas reached
 * it, when it was first found, its configuration, and the exact ground
 * state beside it where the exact module knows it. */
static int write_ground_state(const ising_params *p, const ground_state *gs, const ising_geometry *g, int M, int group,
                              int per_group, ising_freeenergy *fe, ising_io *io, int print)
{
  ising_exact_result ex;
  int have = ising_freeenergy_exact(fe, 0, &ex);
  if (have < 0) return -1;
  int64_t one = 1, zero = 0, hits = 0;
  for (int r = 0; r < M; r++) hits += gs->rmin[r] == gs->best;
  double v[6] = {
      (double)gs->best / ISING_QUANTUM_SCALE, 0, (double)hits, (double)M, (double)gs->sweep, (double)gs->replica};
  v[1] = v[0] / (double)p->nsites;
  static const char *const names[6] = {"energy", "energy_per_spin", "hits", "replicas", "sweep", "replica"};
  char path[96];
  int bad = ising_io_group(io, "/ground_state/tempering");
  for (int k = 0; k < 6 && !bad; k++) {
    snprintf(path, sizeof(path), "/ground_state/tempering/%s", names[k]);
    bad = ising_io_dataset_double(io, path, 1, &one) || ising_io_write_double(io, path, &zero, &one, &v[k]);
  }
  const int mine = gs->replica / per_group == group;
  if (!bad)
    bad = ising_io_dataset_field(io, "/ground_state/tempering/spins", 0, g, H5T_NATIVE_INT8) ||
          ising_io_write_field_part(io, "/ground_state/tempering/spins", 0, g, H5T_NATIVE_INT8, gs->spins, mine);
  const int exact = have && isfinite(ex.ground_energy);
  if (!bad && exact)
    bad = ising_io_dataset_double(io, "/ground_state/tempering/energy_exact", 1, &one) ||
          ising_io_write_double(io, "/ground_state/tempering/energy_exact", &zero, &one, &ex.ground_energy) ||
          ising_io_dataset_double(io, "/ground_state/tempering/degeneracy_exact", 1, &one) ||
          ising_io_write_double(io, "/ground_state/tempering/degeneracy_exact", &zero, &one, &ex.ground_degeneracy);
  if (bad) return -1;
  if (print) {
    printf("  lowest energy %.10g (%.10g per spin), reached by %lld of %d replicas, first by replica %lld after "
           "%lld sweeps\n",
           v[0], v[1], (long long)hits, M, (long long)gs->replica, (long long)gs->sweep);
    if (exact)
      printf("  exact ground state (%s): energy %.10g, degeneracy %.0f%s\n", ising_freeenergy_method(fe),
             ex.ground_energy, ex.ground_degeneracy,
             fabs(v[0] - ex.ground_energy) <= 1e-9 * (1 + fabs(ex.ground_energy)) ? "  (found)" : "  (NOT found)");
  }
  return 0;
}

/* What a checkpoint of a tempering run holds: pointers into run_sample's
 * arrays. */
typedef struct {
  ising_params *p;
  const ising_geometry *g;
  ladder *l;
  int per_group, group, sample;
  int64_t nmeas;
  int8_t **spins; /* [per_group] this group's replicas */
  int keeper;     /* world rank 0: the time series e_ts, m_ts, labels and q_ts are there alone */
  double *e_ts, *m_ts, *labels, *q_ts, *initial;
  int64_t *tatt, *tacc, *tup, *tdown, *changed;
  sample_result *all; /* every disorder sample's results, NULL with one sample */
  ground_state *gs;
} pt_state;

static const char *const pt_slot_names[] = {"attempts",     "accepts", "up",        "down",   "tune_attempts",
                                            "tune_accepts", "tune_up", "tune_down", "changed"};
enum { PT_NSLOT = sizeof(pt_slot_names) / sizeof(*pt_slot_names) };

static void pt_slot_arrays(const pt_state *st, int64_t *changed, int64_t **a)
{
  int64_t *v[PT_NSLOT] = {st->l->attempts, st->l->accepts, st->l->up, st->l->down, st->tatt,
                          st->tacc,        st->tup,        st->tdown, changed};
  memcpy(a, v, sizeof(v));
}

/* Measurements made after done sweeps of a sample (tuning included). */
static int64_t pt_measurements_done(const ising_params *p, int64_t done)
{
  const int64_t first = p->pt_adapt_sweeps + p->thermalize;
  return done > first ? (done - first) / p->measure_interval : 0;
}

/* The run after done sweeps of sample st->sample (tuning included). */
static int pt_checkpoint(ising_checkpoint *ck, ising_io *io, const pt_state *st, int64_t done)
{
  const ising_params *p = st->p;
  const int K = st->l->K, M = st->l->R * K, S = p->disorder_samples;
  /* the time series so far (at least one entry: no empty datasets) */
  const int64_t nkept = pt_measurements_done(p, done) > 1 ? pt_measurements_done(p, done) : 1;
  int64_t nk = K, nm = M, two = 2, ldims[2] = {nkept, K}, sdims[3] = {S, NSAMPLE_Q, K};
  int64_t *changed = malloc(sizeof(int64_t) * (size_t)K), *ints = malloc(sizeof(int64_t) * (size_t)M);
  int8_t **by_replica = calloc((size_t)M, sizeof(int8_t *));
  double *samples = S > 1 ? malloc(sizeof(double) * (size_t)(S * NSAMPLE_Q * K)) : NULL;
  int bad = !changed || !ints || !by_replica || (S > 1 && !samples);
  if (ising_check(ck->comm, bad, "out of memory for a checkpoint")) goto done;
  MPI_Allreduce(st->changed, changed, K, MPI_INT64_T, MPI_SUM, ck->comm);
  for (int r = 0; r < M; r++) by_replica[r] = r / st->per_group == st->group ? st->spins[r % st->per_group] : NULL;
  for (int s = 0; s < S && samples; s++)
    for (int q = 0; q < NSAMPLE_Q; q++)
      for (int t = 0; t < K; t++) samples[(s * NSAMPLE_Q + q) * K + t] = st->all[s].v[q][t];
  const int64_t counters[2] = {st->sample, done};
  int64_t *slot[PT_NSLOT];
  pt_slot_arrays(st, changed, slot);
  ising_io cio;
  ising_timer_start(ISING_PHASE_OUTPUT);
  bad = ising_checkpoint_begin(ck, io, ISING_TASK_TEMPERING, &cio) ||
        ising_checkpoint_put(&cio, "/tempering/counters", H5T_NATIVE_INT64, 1, &two, counters) ||
        ising_checkpoint_put(&cio, "/tempering/beta", H5T_NATIVE_DOUBLE, 1, &nk, p->beta) ||
        ising_checkpoint_put(&cio, "/tempering/beta_initial", H5T_NATIVE_DOUBLE, 1, &nk, st->initial);
  for (int k = 0; k < PT_NSLOT && !bad; k++) {
    char path[64];
    snprintf(path, sizeof(path), "/tempering/%s", pt_slot_names[k]);
    bad = ising_checkpoint_put(&cio, path, H5T_NATIVE_INT64, 1, &nk, slot[k]);
  }
  for (int r = 0; r < M; r++) ints[r] = st->l->replica_at[r];
  if (!bad) bad = ising_checkpoint_put(&cio, "/tempering/replica_at", H5T_NATIVE_INT64, 1, &nm, ints);
  for (int r = 0; r < M; r++) ints[r] = st->l->direction[r];
  if (!bad)
    bad = ising_checkpoint_put(&cio, "/tempering/direction", H5T_NATIVE_INT64, 1, &nm, ints) ||
          ising_checkpoint_put(&cio, "/tempering/trips", H5T_NATIVE_INT64, 1, &nm, st->l->trips) ||
          ising_checkpoint_put_series(&cio, "/tempering/energy", 2, K, st->nmeas, nkept, st->e_ts) ||
          ising_checkpoint_put_series(&cio, "/tempering/magnetization", 2, K, st->nmeas, nkept, st->m_ts) ||
          ising_checkpoint_put(&cio, "/tempering/labels", H5T_NATIVE_DOUBLE, 2, ldims, st->labels) ||
          (st->q_ts && ising_checkpoint_put_series(&cio, "/tempering/q", 2, K, st->nmeas, nkept, st->q_ts)) ||
          (samples && ising_checkpoint_put(&cio, "/tempering/sample_results", H5T_NATIVE_DOUBLE, 3, sdims, samples)) ||
          ising_checkpoint_put_spins(&cio, "/tempering/spins", st->g, M, by_replica);
  /* The lowest energies as exact integers: [M, 2] high and low words. */
  int64_t *words = bad ? NULL : malloc(sizeof(int64_t) * 2 * (size_t)M), gdims[2] = {M, 2};
  const int64_t where[2] = {st->gs->replica, st->gs->sweep};
  int8_t *kept = st->gs->replica / st->per_group == st->group ? st->gs->spins : NULL;
  bad |= !bad && !words;
  for (int r = 0; r < M && words; r++) {
    words[2 * r] = (int64_t)(st->gs->rmin[r] >> 64);
    words[2 * r + 1] = (int64_t)(uint64_t)st->gs->rmin[r];
  }
  if (!bad)
    bad = ising_checkpoint_put(&cio, "/tempering/ground_state", H5T_NATIVE_INT64, 1, &two, where) ||
          ising_checkpoint_put(&cio, "/tempering/replica_min", H5T_NATIVE_INT64, 2, gdims, words) ||
          ising_checkpoint_put_spins(&cio, "/tempering/ground_state_spins", st->g, 0, &kept);
  free(words);
  bad = ising_checkpoint_end(ck, &cio, bad);
  ising_timer_stop(ISING_PHASE_OUTPUT);
done:
  free(changed);
  free(ints);
  free(by_replica);
  free(samples);
  return bad ? -1 : 0;
}

/* The state of pt_checkpoint back from the restart file; *done receives
 * the sweeps done. */
static int pt_resume(ising_checkpoint *ck, ising_io *cio, const pt_state *st, int64_t *done)
{
  ising_params *p = st->p;
  const int K = st->l->K, R = st->l->R, M = R * K;
  const int64_t last = p->pt_adapt_sweeps + p->thermalize + p->sweeps;
  int64_t counters[2] = {-1, -1}, *slot[PT_NSLOT];
  int64_t *ints = malloc(sizeof(int64_t) * (size_t)M), *seen = calloc((size_t)M, sizeof(int64_t));
  int8_t **by_replica = calloc((size_t)M, sizeof(int8_t *));
  int bad = !ints || !seen || !by_replica;
  if (ising_check(ck->comm, bad, "out of memory for the restart")) goto done;
  for (int r = 0; r < M; r++) by_replica[r] = r / st->per_group == st->group ? st->spins[r % st->per_group] : NULL;
  pt_slot_arrays(st, st->changed, slot);
  bad = ising_checkpoint_get(cio, "/tempering/counters", H5T_NATIVE_INT64, 2, counters) || counters[1] < 0 ||
        counters[1] > last;
  /* every measurement made so far must be there (read on world rank 0, which keeps the series) */
  const int64_t made = bad ? 0 : pt_measurements_done(p, counters[1]);
  int lrank = 0;
  int64_t ldims[ISING_IO_MAX_RANK] = {0, 0};
  bad =
      bad || ising_checkpoint_get(cio, "/tempering/beta", H5T_NATIVE_DOUBLE, K, p->beta) ||
      ising_checkpoint_get(cio, "/tempering/beta_initial", H5T_NATIVE_DOUBLE, K, st->initial) ||
      ising_checkpoint_get(cio, "/tempering/trips", H5T_NATIVE_INT64, M, st->l->trips) ||
      ising_checkpoint_get_series(cio, "/tempering/energy", 2, K, st->nmeas, made, st->keeper ? st->e_ts : NULL) ||
      ising_checkpoint_get_series(cio, "/tempering/magnetization", 2, K, st->nmeas, made,
                                  st->keeper ? st->m_ts : NULL) ||
      ising_io_shape(cio, "/tempering/labels", H5T_NATIVE_DOUBLE, &lrank, ldims) || lrank != 2 || ldims[0] < made ||
      ldims[0] < 1 || ldims[0] > st->nmeas || ldims[1] != K ||
      ising_checkpoint_get(cio, "/tempering/labels", H5T_NATIVE_DOUBLE, ldims[0] * K, st->keeper ? st->labels : NULL) ||
      (st->q_ts &&
       ising_checkpoint_get_series(cio, "/tempering/q", 2, K, st->nmeas, made, st->keeper ? st->q_ts : NULL)) ||
      ising_checkpoint_get_spins(cio, "/tempering/spins", st->g, M, by_replica);
  for (int k = 0; k < PT_NSLOT && !bad; k++) {
    char path[64];
    snprintf(path, sizeof(path), "/tempering/%s", pt_slot_names[k]);
    bad = ising_checkpoint_get(cio, path, H5T_NATIVE_INT64, K, slot[k]);
  }
  if (!bad) bad = ising_checkpoint_get(cio, "/tempering/replica_at", H5T_NATIVE_INT64, M, ints);
  /* Each set's slots hold a permutation of that set's replicas. */
  for (int i = 0; i < M && !bad; i++) {
    int64_t r = ints[i];
    bad = r < (i / K) * K || r >= (i / K + 1) * K || seen[r]++;
    if (!bad) {
      st->l->replica_at[i] = (int)r;
      st->l->slot_of[r] = i % K;
    }
  }
  if (!bad) bad = ising_checkpoint_get(cio, "/tempering/direction", H5T_NATIVE_INT64, M, ints);
  for (int r = 0; r < M && !bad; r++) {
    bad = ints[r] < -2 || ints[r] > 1 || st->l->trips[r] < 0;
    st->l->direction[r] = (int)ints[r];
  }
  int64_t where[2] = {-1, -1}, *words = bad ? NULL : malloc(sizeof(int64_t) * 2 * (size_t)M);
  bad |= !bad && !words;
  if (!bad)
    bad = ising_checkpoint_get(cio, "/tempering/ground_state", H5T_NATIVE_INT64, 2, where) ||
          ising_checkpoint_get(cio, "/tempering/replica_min", H5T_NATIVE_INT64, 2 * M, words) || where[0] < 0 ||
          where[0] >= M || where[1] < 0 || where[1] > last;
  if (!bad) {
    int8_t *kept = where[0] / st->per_group == st->group ? st->gs->spins : NULL;
    bad = ising_checkpoint_get_spins(cio, "/tempering/ground_state_spins", st->g, 0, &kept);
  }
  for (int r = 0; r < M && !bad; r++)
    st->gs->rmin[r] = (ising_int128)(((unsigned __int128)(uint64_t)words[2 * r] << 64) | (uint64_t)words[2 * r + 1]);
  if (!bad) {
    st->gs->replica = where[0];
    st->gs->sweep = where[1];
    st->gs->best = st->gs->rmin[where[0]];
  }
  free(words);
  for (int t = 0; t < K && !bad; t++) bad = !(p->beta[t] >= 0 && p->beta[t] <= 1e6);
  bad |= counters[0] != st->sample || counters[1] < 0 || counters[1] > last;
  *done = counters[1];
  /* The update counts are sums over ranks: world rank 0 carries them. */
  if (!bad && st->g->rank + st->group != 0)
    for (int t = 0; t < K; t++) st->changed[t] = 0;
done:
  free(ints);
  free(seen);
  free(by_replica);
  return ising_checkpoint_check(ck, bad, "the tempering state (/tempering) is unreadable or out of range") ? -1 : 0;
}

static int run_sample(ising_params *p, ising_io *io, ising_freeenergy *fe, sample_result *all, int sample,
                      ising_checkpoint *ck, ising_io *resume_from)
{
  sample_result *res = all ? &all[sample] : NULL;
  int world_rank, world_size, status = ISING_EXIT_RUNTIME;
  MPI_Comm world = io->comm, group_comm = MPI_COMM_NULL, across = MPI_COMM_NULL;
  MPI_Comm_rank(world, &world_rank);
  MPI_Comm_size(world, &world_size);
  const int K = p->nbeta, R = p->pt_replica_sets, M = R * K, per_group = p->replicas_per_group;
  const int group = world_rank / p->ranks_per_replica;
  const int64_t nmeas = p->sweeps / p->measure_interval, total = p->thermalize + p->sweeps;

  ising_params gp = *p; /* the group's lattice: -process_grid lays out one group */
  ising_geometry g = {.comm = MPI_COMM_NULL};
  ising_couplings c = {0};
  ising_halo halo;
  int have_halo = 0;
  ladder l;
  int8_t **spins = calloc((size_t)per_group, sizeof(int8_t *));
  /* The time series (K nmeas each: the run's largest arrays) live on world rank 0 alone, which analyses and
   * writes them; the other ranks hold one entry, so a node's memory does not grow with its ranks. */
  const int keeper = world_rank == 0;
  const size_t nts = keeper ? (size_t)(K * nmeas) : 1;
  double *e_ts = calloc(nts, sizeof(double)), *m_ts = calloc(nts, sizeof(double));
  double *labels = calloc(nts, sizeof(double));
  double *energy = malloc(sizeof(double) * (size_t)M), *mag = malloc(sizeof(double) * (size_t)M);
  double *local = malloc(sizeof(double) * (size_t)(2 * M)), *sums = malloc(sizeof(double) * (size_t)(2 * M));
  /* this group's replicas: their local sums, then e and m, reduced over the group in one all-reduce */
  ising_observables_sums *rep_sums = malloc(sizeof(ising_observables_sums) * (size_t)per_group);
  double *rep_em = malloc(sizeof(double) * (size_t)(2 * per_group));
  double *q_ts = R == 2 ? calloc(nts, sizeof(double)) : NULL;
  overlap ov = {0};
  int64_t *tatt = NULL, *tacc = NULL, *tup = NULL, *tdown = NULL;
  /* energy_q[r]: replica r's exact energy (units of 2^-32), energy_q[M + r] its sum of spins; denergy the same
   * changes since the last all-reduce, then (two replica sets, at a measurement) K overlap sums, which travel in
   * the same all-reduce */
  ising_int128 *energy_q = calloc(2 * (size_t)M, sizeof(ising_int128)),
               *denergy = calloc(2 * (size_t)M + (size_t)K, sizeof(ising_int128));
  double *initial = NULL;
  int64_t *changed = calloc((size_t)K, sizeof(int64_t)), *changed_all = calloc((size_t)K, sizeof(int64_t));
  ising_sweeper *sweeper = malloc(sizeof(ising_sweeper) * (size_t)K);
  int8_t **fields = malloc(sizeof(int8_t *) * (size_t)(per_group + 1)); /* what -rebalance moves */
  ground_state gs = {.rmin = malloc(sizeof(ising_int128) * (size_t)M), .spins = NULL};
  int oom = ladder_alloc(&l, K, R) || (R == 2 && !q_ts) || !energy_q || !denergy || !spins || !e_ts || !m_ts ||
            !labels || !energy || !mag || !local || !sums || !rep_sums || !rep_em || !changed || !changed_all ||
            !sweeper || !gs.rmin || !fields;
  if (ising_check(world, oom, "out of memory for %d replicas and their time series", M)) goto done;

  MPI_Comm_split(world, group, world_rank, &group_comm);
  /* -balance: every group sizes its own blocks, but with two replica sets
   * the overlaps pair the sites of replicas in different groups, rank k
   * with rank k (overlaps()), so the groups share one set of blocks, sized
   * for the slowest rank of each position */
  if (R == 2) MPI_Comm_split(world, world_rank % p->ranks_per_replica, world_rank, &across);
  status = ising_geometry_create_shared(group_comm, across, &gp, &g);
  MPI_Allreduce(MPI_IN_PLACE, &status, 1, MPI_INT, MPI_MAX, world); /* every group stops if one must */
  if (status) goto done;
  if (world_rank == 0 && !p->quiet && g.speeds) { /* group 0's blocks */
    ising_geometry_print_blocks(&g, "of replica group 0 ", stdout);
    fflush(stdout);
  }
  status = ISING_EXIT_RUNTIME;
  if (ising_couplings_create(p, &g, &c)) goto done;
  /* With another task in the run, set-up wrote the run's couplings already (the same ones: a pure function of the
   * options); a disorder sample writes its own under its prefix */
  const int model_written = (p->tasks & ~(unsigned)ISING_TASK_TEMPERING) && !io->prefix[0];
  if (!model_written && ising_couplings_write(io, &g, &c, group == 0)) goto done;
  ising_halo_create(&g, MPI_INT8_T, &halo);
  have_halo = 1;
  for (int j = 0; j < per_group; j++) oom |= !(spins[j] = malloc(g.nextended));
  oom |= !(gs.spins = calloc(1, g.nextended));
  if (R == 2) oom |= overlap_alloc(&ov, &g, K);
  if (ising_check(world, oom, "out of memory for the replicas' spins")) goto done;
  if (ising_mc_create_observables(p, fe->method != ISING_EXACT_NONE, io)) goto done;
  int64_t nk = K;
  if (ising_io_dataset_field(io, "/tempering/spins", nk, &g, H5T_NATIVE_INT8)) goto done;

  /* Tuning rounds: fresh swap statistics per round, then a new ladder. */
  const int64_t tune = p->pt_adapt_sweeps, rounds = tune >= 8 ? 8 : tune, round_len = rounds ? tune / rounds : 0;
  tatt = calloc((size_t)K, sizeof(int64_t));
  tacc = calloc((size_t)K, sizeof(int64_t));
  tup = calloc((size_t)K, sizeof(int64_t));
  tdown = calloc((size_t)K, sizeof(int64_t));
  initial = malloc(sizeof(double) * (size_t)K);
  if (ising_check(world, !tatt || !tacc || !tup || !tdown || !initial, "out of memory")) goto done;
  memcpy(initial, p->beta, sizeof(double) * (size_t)K);

  const pt_state st = {.p = p,
                       .g = &g,
                       .l = &l,
                       .per_group = per_group,
                       .group = group,
                       .sample = sample,
                       .nmeas = nmeas,
                       .spins = spins,
                       .keeper = keeper,
                       .e_ts = e_ts,
                       .m_ts = m_ts,
                       .labels = labels,
                       .q_ts = q_ts,
                       .initial = initial,
                       .tatt = tatt,
                       .tacc = tacc,
                       .tup = tup,
                       .tdown = tdown,
                       .changed = changed,
                       .all = all,
                       .gs = &gs};
  int64_t s0 = 0; /* sweeps done: a restart continues after them */
  if (resume_from) {
    for (int j = 0; j < per_group; j++) memset(spins[j], 0, g.nextended);
    if (pt_resume(ck, resume_from, &st, &s0)) {
      status = ISING_EXIT_INPUT;
      goto done;
    }
  }
  for (int j = 0; j < per_group; j++) {
    int r = group * per_group + j;
    if (!resume_from) ising_spins_init(&g, p->seed, ISING_STREAM_INIT, (uint64_t)r, p->hot_start, spins[j]);
    ising_halo_exchange(&halo, spins[j]);
    const ising_observables_sums share = ising_observables_local(&g, &c, spins[j]); /* this rank's share */
    energy_q[r] = share.energy;
    energy_q[M + r] = share.magnetization;
  }
  ising_allreduce_int128(world, energy_q, 2 * M); /* every replica's exact energy and magnetisation, on every rank */
  if (!resume_from) {                             /* the start is the first candidate */
    for (int r = 0; r < M; r++) gs.rmin[r] = energy_q[r];
    gs.best = energy_q[0] + 1;
    track_ground_state(&gs, energy_q, M, 0, group, per_group, spins, g.nextended);
  }
  for (int t = 0; t < K; t++) ising_sweeper_init(&sweeper[t], &g, &c, p->algorithm, p->beta[t], p->seed, 0);
  /* -rebalance: every group moves its own blocks (with two replica sets,
   * the shared ones) into g and c, so every pointer to them stays valid */
  ising_rebalance blk;
  ising_rebalance_init(&blk, p, &g, &c);
  ising_rebalance_owned(&blk, &g, &c);
  ising_rebalance_groups(&blk, world, across);
  if (p->rebalance > 0 && ising_rebalance_write(&blk, io, 1)) goto done;

  /* Snapshots: every slot of set 0 at every -snapshot_interval measured
   * sweeps, index (snapshot number) * K + slot. */
  const int64_t snaps = p->snapshot_interval > 0 ? p->sweeps / p->snapshot_interval * K : 0;
  if (snaps && (ising_io_dataset_field(io, "/snapshots/spins", snaps, &g, H5T_NATIVE_INT8) ||
                ising_io_dataset_double(io, "/snapshots/sweep", 1, &snaps) ||
                ising_io_dataset_double(io, "/snapshots/beta", 1, &snaps)))
    goto done;

  progress pr = {MPI_Wtime(), MPI_Wtime(), s0};
  uint64_t swaps = (uint64_t)(s0 / p->pt_swap_interval); /* one swap step per interval */
  for (int64_t s = s0; s < tune + total; s++) {
    const int tuning = s < tune, production = s >= tune + p->thermalize;
    for (int j = 0; j < per_group; j++) {
      int r = group * per_group + j, t = l.slot_of[r];
      sweeper[t].stream = ISING_STREAM_REPLICA0 + (uint32_t)r;
      ising_sweep_stats st = {0, 0, 0};
      ising_mc_sweep(&sweeper[t], &halo, spins[j], (uint64_t)s, &st);
      denergy[r] += st.denergy;
      denergy[M + r] += st.dmag;
      if (production && r < K) changed[t] += st.changed; /* set 0 carries the per-slot statistics */
    }
    const int64_t done = s + 1;
    if (ising_rebalance_due(&blk) && done < tune + total) { /* not after the last sweep */
      char when[96];
      snprintf(when, sizeof(when), "of replica group 0 after sweep %lld ", (long long)done);
      for (int j = 0; j < per_group; j++) fields[j] = spins[j];
      fields[per_group] = gs.spins;
      const int moved = ising_rebalance_check(&blk, p, per_group + 1, fields, &halo, group == 0 ? when : NULL);
      for (int j = 0; j < per_group; j++) spins[j] = fields[j];
      gs.spins = fields[per_group];
      if (moved < 0) goto done;
      int bad = 0;
      if (moved) {
        for (int t = 0; t < K; t++) ising_sweeper_init(&sweeper[t], &g, &c, p->algorithm, p->beta[t], p->seed, 0);
        if (R == 2) {
          overlap_free(&ov);
          bad = overlap_alloc(&ov, &g, K);
        }
      }
      /* the file counts the moves of every group */
      int64_t mine[2] = {moved && g.rank == 0, bad}, sum[2];
      MPI_Allreduce(mine, sum, 2, MPI_INT64_T, MPI_SUM, world);
      if (ising_check(world, sum[1] != 0, "out of memory for the overlaps after moving the blocks")) goto done;
      blk.moves += sum[0] - moved;
      if (sum[0] && ising_rebalance_write(&blk, io, 0)) goto done;
    }
    const int measure = production && (done - tune - p->thermalize) % p->measure_interval == 0;
    const int swap = done % p->pt_swap_interval == 0;
    if (measure || swap) {
      /* Energies and magnetisations are tracked exactly from the kernels'
       * changes: one all-reduce of the changes since the last swap instead
       * of a pass over every lattice. */
      const ising_phase phase = measure ? ISING_PHASE_MEASURE : ISING_PHASE_SWAP;
      ising_timer_start(phase);
      const int with_q = measure && R == 2;
      if (with_q) {
        overlaps_part(&ov, &g, &l, spins, per_group, group, p->ranks_per_replica, world);
        for (int t = 0; t < K; t++) denergy[2 * M + t] = ov.part[t];
      }
      ising_allreduce_int128(world, denergy, 2 * M + (with_q ? K : 0));
      if (with_q) overlaps_finish(&ov, &g, K, denergy + 2 * M);
      for (int r = 0; r < M; r++) {
        energy_q[r] += denergy[r];
        energy_q[M + r] += denergy[M + r];
        denergy[r] = denergy[M + r] = 0;
        energy[r] = (double)energy_q[r] / ISING_QUANTUM_SCALE;
        mag[r] = (double)energy_q[M + r] / (double)p->nsites;
      }
      track_ground_state(&gs, energy_q, M, done, group, per_group, spins, g.nextended);
      ising_timer_stop(phase);
    }
    const int64_t measured = measure ? (done - tune - p->thermalize) / p->measure_interval : 0;
    if (measure && (measured % CONFIRM_INTERVAL == 0 || done == tune + total)) {
      /* A pass over every lattice confirms the tracked energies and magnetisations, every CONFIRM_INTERVAL
       * measurements and at the end. */
      ising_timer_start(ISING_PHASE_MEASURE);
      for (int k = 0; k < 2 * M; k++) local[k] = 0.0;
      for (int j = 0; j < per_group; j++) rep_sums[j] = ising_observables_local(&g, &c, spins[j]);
      ising_observables_reduce(&g, per_group, rep_sums, rep_em, rep_em + per_group);
      for (int j = 0; j < per_group && g.rank == 0; j++) {
        local[group * per_group + j] = rep_em[j];
        local[M + group * per_group + j] = rep_em[per_group + j];
      }
      MPI_Allreduce(local, sums, 2 * M, MPI_DOUBLE, MPI_SUM, world);
      int drift = 0;
      for (int r = 0; r < M; r++) drift |= sums[r] != energy[r] / (double)p->nsites || sums[M + r] != mag[r];
      ising_timer_stop(ISING_PHASE_MEASURE);
      if (ising_check(world, drift,
                      "internal error: tracked replica energies or magnetisations differ from measured ones"))
        goto done;
    }
    if (measure) {
      int64_t i = (done - tune - p->thermalize) / p->measure_interval - 1;
      for (int t = 0; t < K; t++) {
        int r = l.replica_at[t];
        if (keeper) {
          e_ts[t * nmeas + i] = energy[r] / (double)p->nsites;
          m_ts[t * nmeas + i] = mag[r];
          labels[i * K + t] = (double)r;
        }
        l.up[t] += l.direction[r] == 1;
        l.down[t] += l.direction[r] < 0;
      }
      if (R == 2)
        for (int t = 0; t < K && keeper; t++) q_ts[t * nmeas + i] = ov.q[t];
    }
    if (snaps && production && (done - tune - p->thermalize) % p->snapshot_interval == 0) {
      ising_timer_start(ISING_PHASE_OUTPUT);
      int64_t base = ((done - tune - p->thermalize) / p->snapshot_interval - 1) * K, one = 1;
      for (int t = 0; t < K; t++) {
        int r = l.replica_at[t], mine = r / per_group == group;
        int64_t idx = base + t;
        double sweep_no = (double)(p->thermalize + (done - tune - p->thermalize));
        if (ising_io_write_field_part(io, "/snapshots/spins", idx, &g, H5T_NATIVE_INT8,
                                      mine ? spins[r % per_group] : spins[0], mine) ||
            ising_io_write_double(io, "/snapshots/sweep", &idx, &one, &sweep_no) ||
            ising_io_write_double(io, "/snapshots/beta", &idx, &one, &p->beta[t]))
          goto done;
      }
      ising_timer_stop(ISING_PHASE_OUTPUT);
    }
    if (swap) ising_timer_start(ISING_PHASE_SWAP);
    if (swap)
      swap_step(p, &l, swaps++, energy,
                production ? l.attempts
                : tuning   ? tatt
                           : NULL,
                production ? l.accepts
                : tuning   ? tacc
                           : NULL);
    if (swap) ising_timer_stop(ISING_PHASE_SWAP);
    if (tuning)
      for (int t = 0; t < K; t++) {
        tup[t] += l.direction[l.replica_at[t]] == 1;
        tdown[t] += l.direction[l.replica_at[t]] < 0;
      }
    if (tuning && round_len && done % round_len == 0 && done / round_len <= rounds) {
      /* Every rank holds the same statistics, so every rank computes the
       * same ladder. */
      ising_pt_retune(p->beta, K, p->pt_adapt_method, tatt, tacc, tup, tdown);
      for (int t = 0; t < K; t++) {
        ising_sweeper_init(&sweeper[t], &g, &c, p->algorithm, p->beta[t], p->seed, 0);
        tatt[t] = tacc[t] = tup[t] = tdown[t] = 0;
      }
    }
    report_progress(p, &l, &pr, world_rank, done, tune + total);
    const int action = ising_checkpoint_poll(ck);
    if (action != ISING_CHECKPOINT_NONE && pt_checkpoint(ck, io, &st, done)) goto done;
    if (action == ISING_CHECKPOINT_STOP) {
      status = ISING_EXIT_INTERRUPTED;
      goto done;
    }
  }
  if (tune && ising_freeenergy_ladder_changed(fe)) goto done;

  MPI_Allreduce(changed, changed_all, K, MPI_INT64_T, MPI_SUM, world);
  for (int t = 0; t < K; t++) {
    int print = !p->quiet && world_rank == 0;
    double acceptance = (double)changed_all[t] / ((double)p->sweeps * (double)p->nsites);
    ising_estimates est;
    if (ising_mc_finish_temperature(p, io, fe, t, keeper ? &e_ts[t * nmeas] : NULL, keeper ? &m_ts[t * nmeas] : NULL,
                                    acceptance, 0, print, &est))
      goto done;
    if (res) {
      res->v[0][t] = est.energy;
      res->v[1][t] = est.specific_heat;
      res->v[2][t] = est.abs_magnetization;
      res->v[3][t] = est.binder;
    }
  }
  if (ising_mc_write_series(p, io, e_ts, m_ts)) goto done;
  ising_timer_start(ISING_PHASE_OUTPUT);
  int64_t nkk = K, zero0 = 0;
  int bad = write_tempering(p, &l, labels, nmeas, io) || (R == 2 && write_overlaps(p, q_ts, nmeas, io, res)) ||
            (tune && (ising_io_dataset_double(io, "/tempering/beta_initial", 1, &nkk) ||
                      ising_io_write_double(io, "/tempering/beta_initial", &zero0, &nkk, initial)));
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
    for (int r = 0; r < M; r++) trips += l.trips[r];
    printf("\ntempering: %d temperatures, %d replica group%s of %d rank%s, %lld round trips\n  swap acceptance:", K,
           world_size / p->ranks_per_replica, world_size / p->ranks_per_replica > 1 ? "s" : "", p->ranks_per_replica,
           p->ranks_per_replica > 1 ? "s" : "", (long long)trips);
    for (int t = 0; t + 1 < K; t++) printf(" %.3f", l.attempts[t] ? (double)l.accepts[t] / (double)l.attempts[t] : NAN);
    printf("\n");
    fflush(stdout);
    double sweep_time = ising_timer_elapsed(ISING_PHASE_UPDATE) + ising_timer_elapsed(ISING_PHASE_HALO);
    printf("  swap overhead (energies for swaps, decisions): %.2f %% of the sweep time\n",
           sweep_time > 0 ? 100.0 * ising_timer_elapsed(ISING_PHASE_SWAP) / sweep_time : 0.0);
    fflush(stdout);
  }
  ising_timer_start(ISING_PHASE_OUTPUT);
  bad = write_ground_state(p, &gs, &g, M, group, per_group, fe, io, !p->quiet && world_rank == 0) || ising_io_flush(io);
  ising_timer_stop(ISING_PHASE_OUTPUT);
  if (!p->quiet && world_rank == 0) fflush(stdout);
  if (bad) goto done;
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
  free(rep_sums);
  free(rep_em);
  free(changed);
  free(changed_all);
  free(sweeper);
  free(fields);
  free(q_ts);
  free(energy_q);
  free(gs.rmin);
  free(gs.spins);
  free(denergy);
  free(tatt);
  free(tacc);
  free(tup);
  free(tdown);
  free(initial);
  overlap_free(&ov);
  ladder_free(&l);
  ising_couplings_free(&c);
  ising_geometry_free(&g);
  if (group_comm != MPI_COMM_NULL) MPI_Comm_free(&group_comm);
  if (across != MPI_COMM_NULL) MPI_Comm_free(&across);
  return status;
}

/* Disorder averages over the samples: mean and sample-to-sample standard
 * error sd / sqrt(S) per slot, and the per-sample values [S, K]. */
static int write_disorder_average(const ising_params *p, sample_result *res, int S, ising_io *io)
{
  const int K = p->nbeta, nq = p->pt_replica_sets == 2 ? NSAMPLE_Q : 4;
  int64_t nk = K, zero = 0, dims[2] = {S, K}, start[2] = {0, 0};
  double *mean = malloc(sizeof(double) * (size_t)K), *err = malloc(sizeof(double) * (size_t)K);
  double *all = malloc(sizeof(double) * (size_t)(S * K));
  int rc = !mean || !err || !all;
  if (!rc)
    rc = ising_io_dataset_double(io, "/disorder/beta", 1, &nk) ||
         ising_io_write_double(io, "/disorder/beta", &zero, &nk, p->beta);
  int64_t samples = S;
  if (!rc) rc = ising_io_attr_int64(io, "/disorder", "samples", &samples, 0);
  for (int q = 0; q < nq && !rc; q++) {
    for (int t = 0; t < K; t++) {
      double sum = 0, sum2 = 0;
      for (int s = 0; s < S; s++) {
        double v = res[s].v[q][t];
        all[s * K + t] = v;
        sum += v;
      }
      mean[t] = sum / S;
      for (int s = 0; s < S; s++) sum2 += (res[s].v[q][t] - mean[t]) * (res[s].v[q][t] - mean[t]);
      err[t] = sqrt(sum2 / (S - 1) / S);
    }
    char path[96];
    snprintf(path, sizeof(path), "/disorder/%s", sample_names[q]);
    rc = ising_io_dataset_double(io, path, 1, &nk) || ising_io_write_double(io, path, &zero, &nk, mean);
    snprintf(path, sizeof(path), "/disorder/%s_err", sample_names[q]);
    if (!rc) rc = ising_io_dataset_double(io, path, 1, &nk) || ising_io_write_double(io, path, &zero, &nk, err);
    snprintf(path, sizeof(path), "/disorder/%s_samples", sample_names[q]);
    if (!rc) rc = ising_io_dataset_double(io, path, 2, dims) || ising_io_write_double(io, path, start, dims, all);
    if (!rc && !p->quiet && io->rank == 0) {
      printf("  disorder average %-18s", sample_names[q]);
      for (int t = 0; t < K && t < 8; t++) printf(" %.5g(%.2g)", mean[t], err[t]);
      printf("%s\n", K > 8 ? " ..." : "");
    }
  }
  free(mean);
  free(err);
  free(all);
  return rc ? -1 : 0;
}

int ising_tempering_run(ising_params *p, ising_io *io, ising_freeenergy *fe, ising_checkpoint *ck)
{
  const int S = p->disorder_samples, K = p->nbeta;
  ising_io cio;
  const int resume = ising_checkpoint_resume(ck, ISING_TASK_TEMPERING, &cio);
  if (resume < 0) return ISING_EXIT_INPUT;
  if (S <= 1) { /* fe only serves a single sample */
    int status = run_sample(p, io, fe, NULL, 0, ck, resume ? &cio : NULL);
    if (resume) ising_io_close(&cio);
    return status;
  }
  const uint64_t seed = p->seed, disorder_seed = p->disorder_seed;
  sample_result *res = calloc((size_t)S, sizeof(*res));
  double *saved = resume ? malloc(sizeof(double) * (size_t)(S * NSAMPLE_Q * K)) : NULL;
  int oom = !res || (resume && !saved), status = ISING_EXIT_RUNTIME, s0 = 0;
  for (int s = 0; s < S && res; s++)
    for (int q = 0; q < NSAMPLE_Q; q++) oom |= !(res[s].v[q] = calloc((size_t)K, sizeof(double)));
  if (ising_check(io->comm, oom, "out of memory for %d disorder samples", S)) goto done;
  if (resume) {
    /* The samples finished before the checkpoint: their output is in the
     * restored file, their results for the averages in the checkpoint. */
    int64_t counters[2] = {-1, -1};
    int bad = ising_checkpoint_get(&cio, "/tempering/counters", H5T_NATIVE_INT64, 2, counters) ||
              ising_checkpoint_get(&cio, "/tempering/sample_results", H5T_NATIVE_DOUBLE, S * NSAMPLE_Q * K, saved) ||
              counters[0] < 0 || counters[0] >= S;
    if (ising_checkpoint_check(ck, bad, "the disorder-sample state (/tempering) is unreadable or out of range")) {
      status = ISING_EXIT_INPUT;
      goto done;
    }
    s0 = (int)counters[0];
    for (int s = 0; s < S; s++)
      for (int q = 0; q < NSAMPLE_Q; q++)
        memcpy(res[s].v[q], saved + (s * NSAMPLE_Q + q) * K, sizeof(double) * (size_t)K);
  }
  for (int s = s0; s < S; s++) {
    /* Sample s: its own disorder and its own dynamics, everything it
     * writes under /samples/<s>. */
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "/samples/%d", s);
    p->seed = seed + (uint64_t)s;
    p->disorder_seed = disorder_seed + (uint64_t)s;
    ising_io_set_prefix(io, prefix);
    ising_freeenergy sample_fe;
    if (!p->quiet && io->rank == 0)
      printf("\ndisorder sample %d/%d (disorder seed %llu)\n", s + 1, S, (unsigned long long)p->disorder_seed);
    status = ising_freeenergy_init(p, io->comm, io, &sample_fe);
    if (!status) status = run_sample(p, io, &sample_fe, res, s, ck, resume && s == s0 ? &cio : NULL);
    ising_freeenergy_free(&sample_fe);
    if (status) goto done;
  }
  ising_io_set_prefix(io, NULL);
  if (!p->quiet && io->rank == 0) printf("\ndisorder averages over %d samples (sample-to-sample errors):\n", S);
  status = write_disorder_average(p, res, S, io) ? ISING_EXIT_RUNTIME : 0;
done:
  if (resume) ising_io_close(&cio);
  ising_io_set_prefix(io, NULL);
  p->seed = seed;
  p->disorder_seed = disorder_seed;
  for (int s = 0; s < S && res; s++)
    for (int q = 0; q < NSAMPLE_Q; q++) free(res[s].v[q]);
  free(res);
  free(saved);
  return status;
}
