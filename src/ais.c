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

#define MF_CLAMP (1.0 - 0x1p-26)

/* The intermediate model pi_gamma of the mean-field path: bonds gamma J,
 * fields gamma h_i + (1 - gamma) a_i with a_i = atanh(m_i) / beta, all
 * quantised.  cg was set up by mf_path_alloc.  It runs at every step of every
 * chain, over every bond and field: compiled for AVX-512 and AVX2 as well as
 * the base instruction set (mf_path_set), with the same bits on each (ais.c
 * has no fused multiply-adds, and ising_quantize's select is exact). */
static inline __attribute__((always_inline)) void mf_path_body(const ising_geometry *g, const ising_couplings *c,
                                                               const double *a, int sigma, double gamma,
                                                               ising_couplings *cg)
{
  for (int d = 0; d < g->dim; d++) {
    if (c->uniform_bonds)
      cg->J[d] = ising_quantize(gamma * c->J[d]);
    else {
      double *restrict jp = cg->Jp[d]; /* its own array (mf_path_alloc): the loops vectorise */
      const double *cj = c->Jp[d];
      for (size_t i = 0; i < g->nextended; i++) jp[i] = ising_quantize(gamma * cj[i]);
    }
  }
  double *restrict h = cg->h;
  const double b = (1.0 - gamma) * sigma;
  if (c->uniform_field) {
    const double h0 = gamma * c->field;
    for (size_t i = 0; i < g->nextended; i++) h[i] = ising_quantize(h0 + b * a[i]);
  } else {
    const double *ch = c->h;
    for (size_t i = 0; i < g->nextended; i++) h[i] = ising_quantize(gamma * ch[i] + b * a[i]);
  }
}

#if ISING_X86
ISING_TARGET_AVX512 static void mf_path_avx512(const ising_geometry *g, const ising_couplings *c, const double *a,
                                               int sigma, double gamma, ising_couplings *cg)
{
  mf_path_body(g, c, a, sigma, gamma, cg);
}

ISING_TARGET_AVX2 static void mf_path_avx2(const ising_geometry *g, const ising_couplings *c, const double *a,
                                           int sigma, double gamma, ising_couplings *cg)
{
  mf_path_body(g, c, a, sigma, gamma, cg);
}
#endif

static void mf_path_set(ising_simd simd, const ising_geometry *g, const ising_couplings *c, const double *a, int sigma,
                        double gamma, ising_couplings *cg)
{
#if ISING_X86
  if (simd == ISING_SIMD_AVX512) {
    mf_path_avx512(g, c, a, sigma, gamma, cg);
    return;
  }
  if (simd == ISING_SIMD_AVX2) {
    mf_path_avx2(g, c, a, sigma, gamma, cg);
    return;
  }
#endif
  (void)simd;
  mf_path_body(g, c, a, sigma, gamma, cg);
}

static int mf_path_alloc(const ising_geometry *g, const ising_couplings *c, ising_couplings *cg)
{
  memset(cg, 0, sizeof(*cg));
  cg->uniform_bonds = c->uniform_bonds;
  cg->uniform_field = 0;
  int bad = !(cg->h = calloc(g->nextended, sizeof(double)));
  for (int d = 0; d < g->dim && !c->uniform_bonds; d++) bad |= !(cg->Jp[d] = calloc(g->nextended, sizeof(double)));
  return bad ? -1 : 0;
}

/* ln q(s) = sum_i ln((1 + m_i s_i) / 2) at every step of a chain, for a q fixed over the chains of a temperature:
 * its terms in fixed point once per temperature (log_q_prepare), so that a step adds integers.  With u_i and v_i
 * the terms of s_i = +1 and -1 (ising_fixed128 of ln((1 + m_i) / 2) and ln((1 - m_i) / 2), the values and the sums
 * of the former per-step logarithms exactly): ln q(s) = sum_i v_i + sum_{s_i = +1} (u_i - v_i), and ln q(-s) = sum_i
 * (u_i + v_i) - ln q(s).  Per step that was two logarithms and two conversions to 128 bits per site, more than half
 * of a run's time on 64^2.  d_i = u_i - v_i is kept as its high and low 64 bits, so that the per-step sum
 * (ising_ais_masked_sum) is three sums of 64-bit integers, which vectorise, instead of a chain of 128-bit
 * additions. */
typedef struct {
  int64_t *dh;          /* [nlocal] d_i >> 64 (|d_i| < 2^69), the interior sites in row order */
  uint64_t *dl;         /* [nlocal] d_i mod 2^64 */
  ising_int128 lo, all; /* this rank's sum_i v_i and sum_i (u_i + v_i) */
} logq_table;

static void log_q_prepare(const ising_geometry *g, const double *m, logq_table *t)
{
  t->lo = t->all = 0;
  size_t n = 0;
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++)
      for (int ex = 1; ex <= g->n[0]; ex++) {
        size_t i = ising_geometry_index(g, ex, ey, ez);
        const ising_int128 u = ising_fixed128(log(0.5 * (1.0 + m[i]))), v = ising_fixed128(log(0.5 * (1.0 - m[i])));
        const unsigned __int128 d = (unsigned __int128)(u - v);
        t->dh[n] = (int64_t)(uint64_t)(d >> 64);
        t->dl[n++] = (uint64_t)d;
        t->lo += v;
        t->all += u + v;
      }
}

/* ising_ais_masked_sum (ais.h): per row, the high halves and the low halves' upper and lower 32 bits, each in a
 * 64-bit sum (a row has fewer than 2^31 sites, so none overflows; the high halves' sum is exact modulo 2^64 and
 * small), recombined in 128 bits: the same integer as adding the d_i in 128 bits.  A mask, not a branch: the spins
 * are close to random.  Compiled for AVX-512 and AVX2 as well. */
static inline __attribute__((always_inline)) ising_int128 masked_sum_body(const ising_geometry *g, const int64_t *dh,
                                                                          const uint64_t *dl, const int8_t *spins)
{
  unsigned __int128 up = 0;
  size_t n = 0;
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
      const int8_t *s = spins + ising_geometry_index(g, 1, ey, ez);
      const int64_t *h = dh + n;
      const uint64_t *l = dl + n;
      uint64_t hi = 0, mid = 0, low = 0;
      for (int x = 0; x < g->n[0]; x++) {
        const uint64_t mask = -(uint64_t)(s[x] > 0);
        hi += (uint64_t)h[x] & mask;
        mid += (l[x] >> 32) & mask;
        low += l[x] & 0xffffffffu & mask;
      }
      up += ((unsigned __int128)hi << 64) + ((unsigned __int128)mid << 32) + low;
      n += (size_t)g->n[0];
    }
  return (ising_int128)up;
}

#if ISING_X86
ISING_TARGET_AVX512 static ising_int128 masked_sum_avx512(const ising_geometry *g, const int64_t *dh,
                                                          const uint64_t *dl, const int8_t *spins)
{
  return masked_sum_body(g, dh, dl, spins);
}

ISING_TARGET_AVX2 static ising_int128 masked_sum_avx2(const ising_geometry *g, const int64_t *dh, const uint64_t *dl,
                                                      const int8_t *spins)
{
  return masked_sum_body(g, dh, dl, spins);
}
#endif

ising_int128 ising_ais_masked_sum(ising_simd simd, const ising_geometry *g, const int64_t *dh, const uint64_t *dl,
                                  const int8_t *spins)
{
#if ISING_X86
  if (simd == ISING_SIMD_AVX512) return masked_sum_avx512(g, dh, dl, spins);
  if (simd == ISING_SIMD_AVX2) return masked_sum_avx2(g, dh, dl, spins);
#endif
  (void)simd;
  return masked_sum_body(g, dh, dl, spins);
}

/* This rank's shares of ln q(s) (sum[0]) and ln q(-s) (sum[1]) in fixed point. */
static void log_q_local(ising_simd simd, const ising_geometry *g, const logq_table *t, const int8_t *spins,
                        ising_int128 sum[2])
{
  sum[0] = t->lo + ising_ais_masked_sum(simd, g, t->dh, t->dl, spins);
  sum[1] = t->all - sum[0];
}

/* Where the chains run: on the run's lattice, decomposed over all ranks (one group), or with
 * -ais_ranks_per_chain r < ranks on the lattice of the rank's group of r ranks, which runs the chains group,
 * group + groups, ...  A chain's weights depend only on its number and the site keys, never on the ranks, so the
 * groups give the same bits as one. */
typedef struct {
  const ising_geometry *g; /* the lattice the chains run on */
  const ising_couplings *c;
  ising_halo *halo;
  int8_t *spins;
  int group, groups;
  int printer; /* prints the progress lines: rank 0 of the run */
} chain_share;

/* The chains of this rank's group among M. */
static int chains_here(const chain_share *cs, int M)
{
  return M > cs->group ? (M - cs->group + cs->groups - 1) / cs->groups : 0;
}

/* The mean-field m of the run's lattice g (solved over all ranks) as the group lattice gg's: every site's value
 * from the rank that owns it, in one all-reduce of the whole lattice (the other ranks add zeros, so the sum is
 * that value).  global has nsites entries. */
static void to_group_lattice(const ising_geometry *g, const double *m, const ising_geometry *gg, double *global,
                             int64_t nsites, double *mg)
{
  memset(global, 0, sizeof(double) * (size_t)nsites);
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++)
      for (int ex = 1; ex <= g->n[0]; ex++)
        global[ising_geometry_global_index(g, ex, ey, ez)] = m[ising_geometry_index(g, ex, ey, ez)];
  for (int64_t at = 0; at < nsites; at += INT64_C(1) << 30) {
    const int64_t part = nsites - at < (INT64_C(1) << 30) ? nsites - at : INT64_C(1) << 30;
    MPI_Allreduce(MPI_IN_PLACE, global + at, (int)part, MPI_DOUBLE, MPI_SUM, g->comm);
  }
  memset(mg, 0, sizeof(double) * gg->nextended);
  zlo = ising_geometry_lo(gg, 2);
  ylo = ising_geometry_lo(gg, 1);
  for (int ez = zlo; ez < zlo + gg->n[2]; ez++)
    for (int ey = ylo; ey < ylo + gg->n[1]; ey++)
      for (int ex = 1; ex <= gg->n[0]; ex++)
        mg[ising_geometry_index(gg, ex, ey, ez)] = global[ising_geometry_global_index(gg, ex, ey, ez)];
}

/* -ais_start meanfield: w[m K + k] for every chain m of this rank's group and temperature k.  q is solved on the
 * run's lattice g over all ranks (mf), the chains run on cs's. */
static int run_from_meanfield(const ising_params *p, const ising_geometry *gw, ising_meanfield *mf,
                              const chain_share *cs, double *w)
{
  const int M = p->ais_chains, K = p->nbeta;
  const int64_t S = p->ais_steps;
  const ising_geometry *g = cs->g;
  const ising_couplings *c = cs->c;
  int8_t *spins = cs->spins;
  double *m = malloc(sizeof(double) * g->nextended), *a = malloc(sizeof(double) * g->nextended);
  /* with groups: q on the run's lattice (mw), and the whole lattice's m on its way to the group's */
  double *mw = cs->groups > 1 ? malloc(sizeof(double) * gw->nextended) : m;
  double *global = cs->groups > 1 ? malloc(sizeof(double) * (size_t)p->nsites) : NULL;
  const size_t nl = g->nlocal ? g->nlocal : 1;
  logq_table lqt = {.dh = malloc(sizeof(int64_t) * nl), .dl = malloc(sizeof(uint64_t) * nl)};
  const ising_simd simd = ising_simd_default();
  ising_couplings cg;
  int bad = mf_path_alloc(g, c, &cg) || !m || !a || !mw || (cs->groups > 1 && !global) || !lqt.dh || !lqt.dl;
  if (ising_check(gw->comm, bad, "out of memory for annealed importance sampling from mean field")) goto done;
  /* Without fields H(s) = H(-s): the start is the mixture of q and its
   * mirror image, a label sigma chosen at random and updated along the path
   * (ais.h), so that both halves of the states are reached. */
  const int symmetric = c->uniform_field && c->field == 0.0;
  double last = MPI_Wtime();
  /* sweeps made and to make, for the progress lines' rate and ETA (the solves of q are not counted) */
  const double t0 = last;
  int64_t done_sweeps = 0, all_sweeps = 0;
  const int64_t mine = chains_here(cs, M);
  for (int k = 0; k < K; k++) all_sweeps += p->beta[k] > 0.0 ? mine * (S - 1) * p->ais_sweeps_per_step : 0;
  for (int k = 0; k < K && !bad; k++) {
    const double beta = p->beta[k];
    if (beta == 0.0) { /* q is uniform and exact */
      for (int j = cs->group; j < M; j += cs->groups)
        w[(size_t)j * (size_t)K + (size_t)k] = (double)p->nsites * log(2.0);
      continue;
    }
    if ((bad = ising_meanfield_solve(mf, k, mw) != 0)) break;
    if (cs->groups > 1) to_group_lattice(gw, mw, g, global, p->nsites, m);
    for (size_t i = 0; i < g->nextended; i++) {
      m[i] = fmax(-MF_CLAMP, fmin(MF_CLAMP, m[i]));
      a[i] = atanh(m[i]) / beta;
    }
    log_q_prepare(g, m, &lqt);
    for (int j = cs->group; j < M; j += cs->groups) {
      /* sigma: which of q and its mirror image (symmetric models), then an exact sample of q_sigma */
      const uint64_t key = ((uint64_t)k << 32) | (uint64_t)j, extra = (uint64_t)p->nsites;
      int sigma = !symmetric || ising_rng_u32(p->seed, ISING_STREAM_AIS_MF_INIT, key, extra) & 1 ? 1 : -1;
      int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
      memset(spins, 0, g->nextended);
      for (int ez = zlo; ez < zlo + g->n[2]; ez++)
        for (int ey = ylo; ey < ylo + g->n[1]; ey++)
          for (int ex = 1; ex <= g->n[0]; ex++) {
            size_t i = ising_geometry_index(g, ex, ey, ez);
            uint64_t site = (uint64_t)ising_geometry_global_index(g, ex, ey, ez);
            uint32_t r = ising_rng_u32(p->seed, ISING_STREAM_AIS_MF_INIT, key, site);
            spins[i] = ising_rng_uniform(r) < 0.5 * (1.0 + sigma * m[i]) ? 1 : -1;
          }
      ising_halo_exchange(cs->halo, spins);
      double logw = 0.0;
      uint64_t sweep = 0;
      for (int64_t t = 1; t <= S; t++) {
        const double g0 = (double)(t - 1) / (double)S, g1 = (double)t / (double)S;
        ising_int128 sums[3]; /* E(s), ln q(s), ln q(-s): one all-reduce */
        sums[0] = ising_observables_local(g, c, spins).energy;
        log_q_local(simd, g, &lqt, spins, sums + 1);
        ising_allreduce_int128(g->comm, sums, 3);
        const ising_int128 e = sums[0];
        double lq[2] = {ising_unfixed128(sums[1]), ising_unfixed128(sums[2])}; /* ln q_sigma(s), ln q_-sigma(s) */
        if (sigma < 0) {
          double x = lq[0];
          lq[0] = lq[1];
          lq[1] = x;
        }
        logw += (g1 - g0) * (-beta * ((double)e / ISING_QUANTUM_SCALE) - lq[0]);
        if (t == S) break; /* the target needs no sweeps */
        if (symmetric) {   /* heat bath on sigma given s: P(-sigma) = 1 / (1 + exp((1 - g)(lq_sigma - lq_-sigma))) */
          double x = (1.0 - g1) * (lq[0] - lq[1]);
          uint32_t r = ising_rng_u32(p->seed, ISING_STREAM_AIS_MF_INIT, key, extra + (uint64_t)t);
          if (ising_rng_uniform(r) * (1.0 + exp(x)) < 1.0) sigma = -sigma;
        }
        mf_path_set(simd, g, c, a, sigma, g1, &cg);
        ising_sweeper sweeper;
        ising_sweeper_init(&sweeper, g, &cg, p->algorithm, beta, p->seed, ISING_STREAM_AIS_MF);
        ising_sweep_stats acc = {0, 0, 0};
        for (int64_t s = 0; s < p->ais_sweeps_per_step; s++)
          ising_mc_sweep(&sweeper, cs->halo, spins, ((uint64_t)k << 48) | ((uint64_t)j << 32) | sweep++, &acc);
        done_sweeps += p->ais_sweeps_per_step;
        if (!p->quiet && cs->printer && MPI_Wtime() - last >= p->progress_interval) { /* a long chain */
          last = MPI_Wtime();
          const double rate = (double)done_sweeps / (last - t0);
          printf("progress: AIS from mean field, beta %d/%d, chain %d/%d, step %lld/%lld, %.1f sweeps/s, ETA %.0f s\n",
                 k + 1, K, j + 1, M, (long long)t, (long long)S, rate, (double)(all_sweeps - done_sweeps) / rate);
          fflush(stdout);
        }
      }
      w[(size_t)j * (size_t)K + (size_t)k] = logw;
      if (!p->quiet && cs->printer && MPI_Wtime() - last >= p->progress_interval) {
        last = MPI_Wtime();
        printf("progress: AIS from mean field, beta %d/%d, chain %d/%d done\n", k + 1, K, j + 1, M);
        fflush(stdout);
      }
    }
  }
done:
  if (mw != m) free(mw);
  free(global);
  free(m);
  free(a);
  free(lqt.dh);
  free(lqt.dl);
  ising_couplings_free(&cg);
  return bad ? -1 : 0;
}

/* Every chain's log weights on every rank: rank 0 of each group sends the rows of its chains (group, group +
 * groups, ...), every rank receives them all, in order of groups, and puts them in place.  0, or -1 (message printed
 * on every rank) if out of memory. */
static int gather_weights(MPI_Comm comm, const chain_share *cs, int rpc, int M, int K, double *w)
{
  int size, rank;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  int *counts = malloc(sizeof(int) * (size_t)size), *displs = malloc(sizeof(int) * (size_t)size);
  double *mine = malloc(sizeof(double) * ((size_t)chains_here(cs, M) * (size_t)K + 1));
  double *all = malloc(sizeof(double) * (size_t)M * (size_t)K);
  if (ising_check(comm, !counts || !displs || !mine || !all, "out of memory for the AIS weights")) {
    free(counts);
    free(displs);
    free(mine);
    free(all);
    return -1;
  }
  int at = 0;
  for (int r = 0; r < size; r++) {
    chain_share other = *cs;
    other.group = r / rpc;
    counts[r] = r % rpc ? 0 : chains_here(&other, M) * K;
    displs[r] = at;
    at += counts[r];
  }
  int n = 0;
  for (int m = cs->group; m < M && rank % rpc == 0; m += cs->groups, n++)
    memcpy(mine + (size_t)n * (size_t)K, w + (size_t)m * (size_t)K, sizeof(double) * (size_t)K);
  MPI_Allgatherv(mine, counts[rank], MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, comm);
  for (int gi = 0; gi < cs->groups; gi++) {
    const double *from = all + displs[gi * rpc];
    for (int m = gi; m < M; m += cs->groups, from += K)
      memcpy(w + (size_t)m * (size_t)K, from, sizeof(double) * (size_t)K);
  }
  free(counts);
  free(displs);
  free(mine);
  free(all);
  return 0;
}

int ising_ais_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c, ising_meanfield *mf,
                  ising_io *io, ising_freeenergy *fe)
{
  const int M = p->ais_chains, K = p->nbeta;
  const int64_t S = p->ais_steps;
  int rc = ISING_EXIT_RUNTIME;
  double bmax = 0.0;
  for (int k = 0; k < K; k++) bmax = p->beta[k] > bmax ? p->beta[k] : bmax;
  double *sched = malloc(sizeof(double) * (size_t)(S + K)), *w = calloc((size_t)M * (size_t)K, sizeof(double));
  /* the chains' lattice: the run's, or with -ais_ranks_per_chain that of this rank's group */
  int rank, size;
  MPI_Comm_rank(g->comm, &rank);
  MPI_Comm_size(g->comm, &size);
  const int rpc = p->ais_ranks_per_chain > 0 && p->ais_ranks_per_chain < size ? p->ais_ranks_per_chain : size;
  MPI_Comm group_comm = MPI_COMM_NULL;
  ising_geometry gg = {.comm = MPI_COMM_NULL};
  ising_couplings cgr = {0};
  chain_share cs = {g, c, NULL, NULL, rank / rpc, size / rpc, rank == 0};
  int8_t *spins = NULL;
  ising_halo halo;
  int have_halo = 0;
  if (cs.groups > 1) {
    ising_params gp = *p; /* each group lays out its lattice itself (params.c rejects -process_grid here) */
    gp.have_process_grid = 0;
    MPI_Comm_split(g->comm, cs.group, rank, &group_comm);
    int status = ising_geometry_create(group_comm, &gp, &gg);
    MPI_Allreduce(MPI_IN_PLACE, &status, 1, MPI_INT, MPI_MAX, g->comm); /* every group stops if one must */
    if (status) {
      rc = status;
      goto done;
    }
    status = ising_couplings_create(p, &gg, &cgr);
    MPI_Allreduce(MPI_IN_PLACE, &status, 1, MPI_INT, MPI_MAX, g->comm);
    if (status) goto done;
    cs.g = &gg;
    cs.c = &cgr;
  }
  spins = cs.spins = malloc(cs.g->nextended);
  ising_halo_create(cs.g, MPI_INT8_T, &halo);
  have_halo = 1;
  cs.halo = &halo;
  if (ising_check(g->comm, !sched || !w || !spins, "out of memory for annealed importance sampling")) goto done;
  /* the schedule: a uniform grid up to beta_max and every run temperature, sorted, without repeats */
  int64_t ns = 0;
  for (int64_t t = 1; t <= S; t++) sched[ns++] = bmax * (double)t / (double)S;
  for (int k = 0; k < K; k++) sched[ns++] = p->beta[k];
  qsort(sched, (size_t)ns, sizeof(double), cmp_double);
  int64_t n = 0;
  for (int64_t t = 0; t < ns; t++)
    if (sched[t] > 0 && (n == 0 || sched[t] != sched[n - 1])) sched[n++] = sched[t];

  const int from_mf = p->ais_start == ISING_AIS_MEANFIELD;
  if (from_mf && run_from_meanfield(p, g, mf, &cs, w)) goto done;
  /* the chains run here, on cs's lattice */
  const ising_geometry *gc = cs.g;
  const ising_couplings *cc = cs.c;
  double last = MPI_Wtime();
  const double t0 = last;
  const int64_t all_steps = chains_here(&cs, M) * (n - 1); /* for the progress lines' rate and ETA */
  for (int m = cs.group, mi = 0; m < M && !from_mf; m += cs.groups, mi++) {
    ising_spins_init(gc, p->seed, ISING_STREAM_AIS_INIT, (uint64_t)m, 1, spins);
    ising_halo_exchange(&halo, spins);
    ising_int128 energy = ising_observables_local(gc, cc, spins).energy;
    ising_allreduce_int128(gc->comm, &energy, 1);
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
      ising_sweeper_init(&sweeper, gc, cc, p->algorithm, sched[t], p->seed, ISING_STREAM_AIS);
      ising_sweep_stats acc = {0, 0, 0};
      for (int64_t s = 0; s < p->ais_sweeps_per_step; s++)
        ising_mc_sweep(&sweeper, &halo, spins, ((uint64_t)m << 32) | sweep++, &acc);
      ising_allreduce_int128(gc->comm, &acc.denergy, 1);
      energy += acc.denergy;
      if (!p->quiet && cs.printer && MPI_Wtime() - last >= p->progress_interval) { /* a long chain */
        last = MPI_Wtime();
        const int64_t done = (int64_t)mi * (n - 1) + t + 1;
        const double rate = (double)(done * p->ais_sweeps_per_step) / (last - t0);
        printf("progress: AIS chain %d/%d, step %lld/%lld, beta %g, %.1f sweeps/s, ETA %.0f s\n", m + 1, M,
               (long long)(t + 1), (long long)(n - 1), sched[t], rate,
               (double)((all_steps - done) * p->ais_sweeps_per_step) / rate);
        fflush(stdout);
      }
    }
    if (!p->quiet && cs.printer && MPI_Wtime() - last >= p->progress_interval) {
      last = MPI_Wtime();
      printf("progress: AIS chain %d/%d done\n", m + 1, M);
      fflush(stdout);
    }
  }

  ising_timer_start(ISING_PHASE_ANALYSIS);
  if (cs.groups > 1 && gather_weights(g->comm, &cs, rpc, M, K, w)) {
    ising_timer_stop(ISING_PHASE_ANALYSIS);
    goto done;
  }
  const double ln2n = from_mf ? 0.0 : (double)p->nsites * log(2.0); /* ln Z of the start */
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
  int64_t steps = from_mf ? S : n, chains = M; /* points of the schedule (per temperature from mean field) */
  if (!bad)
    bad = ising_io_dataset_double(io, "/ais/log_weights", 2, dims) ||
          ising_io_write_double(io, "/ais/log_weights", start, dims, w) ||
          ising_io_attr_int64(io, "/ais", "schedule_points", &steps, 0) ||
          ising_io_attr_int64(io, "/ais", "chains", &chains, 0) ||
          ising_io_attr_int64(io, "/ais", "sweeps_per_step", &p->ais_sweeps_per_step, 0) ||
          ising_io_attr_string(io, "/ais", "start", from_mf ? "meanfield" : "uniform") || ising_io_flush(io);
  if (bad) goto done;
  rc = 0;
done:
  if (have_halo) ising_halo_free(&halo);
  if (cs.groups > 1) {
    ising_couplings_free(&cgr);
    ising_geometry_free(&gg);
    MPI_Comm_free(&group_comm);
  }
  free(sched);
  free(w);
  free(spins);
  return rc;
}
