/* freeenergy.c: /free_energy and the exact reference values (freeenergy.h).
 *   ising_freeenergy_init, ising_freeenergy_exact,
 *   ising_freeenergy_put_meanfield,
 *   ising_freeenergy_put_upper                     collective
 *   ising_freeenergy_method, ising_freeenergy_free  local */
#include "ising/freeenergy.h"

#include "ising/couplings.h"
#include "ising/error.h"
#include "ising/mbar.h"
#include "ising/observables.h"
#include "ising/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ising_exact_method choose(const ising_params *p)
{
  if (!p->exact) return ISING_EXACT_NONE;
  if (p->nsites <= ISING_EXACT_MAX_SPINS) return ISING_EXACT_ENUMERATION;
  int uniform = p->couplings == ISING_COUPLINGS_UNIFORM && p->field_sigma == 0.0;
  if (uniform && p->dim == 2 && p->periodic[0] && p->periodic[1] && p->field == 0.0) return ISING_EXACT_KAUFMAN;
  if (uniform && p->dim == 1) return ISING_EXACT_CHAIN;
  return ISING_EXACT_NONE;
}

const char *ising_freeenergy_method(const ising_freeenergy *fe)
{
  switch (fe->method) {
  case ISING_EXACT_ENUMERATION: return "enumeration";
  case ISING_EXACT_KAUFMAN: return "kaufman";
  case ISING_EXACT_CHAIN: return "transfer_matrix";
  default: return "none";
  }
}

static const char *const datasets[] = {"beta",
                                       "lnZ",
                                       "lnZ_err",
                                       "lnZ_exact",
                                       "lnZ_lower_meanfield",
                                       "kl_gap",
                                       "kl_gap_err",
                                       "lnZ_ti",
                                       "lnZ_ti_err",
                                       "lnZ_ti_quadrature_err",
                                       "lnZ_ais",
                                       "lnZ_ais_err",
                                       "lnZ_lower_ais",
                                       "lnZ_lower_ais_err",
                                       "ais_ess",
                                       "f",
                                       "f_err",
                                       "lnZ_mbar",
                                       "lnZ_mbar_err",
                                       "mbar_overlap",
                                       "lnZ_upper_trw",
                                       "lnZ_upper_trivial",
                                       "sandwich_width"};

/* The per-temperature arrays of fe, in one allocation. */
#define NPER 14
static double **per_temperature(ising_freeenergy *fe, int j)
{
  double **a[NPER] = {
      &fe->e,   &fe->e_err,   &fe->c,         &fe->c_err,         &fe->ti,      &fe->ti_err, &fe->ti_quad,
      &fe->ais, &fe->ais_err, &fe->ais_lower, &fe->ais_lower_err, &fe->ais_ess, &fe->mbar,   &fe->mbar_err};
  return a[j];
}

int ising_freeenergy_init(const ising_params *p, MPI_Comm comm, ising_io *io, ising_freeenergy *fe)
{
  int rank;
  MPI_Comm_rank(comm, &rank);
  memset(fe, 0, sizeof(*fe));
  fe->p = p;
  fe->comm = comm;
  fe->io = io;
  fe->method = choose(p);
  fe->cache = calloc((size_t)p->nbeta, sizeof(*fe->cache));
  fe->state = calloc((size_t)p->nbeta, sizeof(int));
  fe->var0 = NAN;
  double *block = malloc(sizeof(double) * NPER * (size_t)p->nbeta);
  fe->series = calloc((size_t)p->nbeta, sizeof(double *));
  fe->nseries = calloc((size_t)p->nbeta, sizeof(size_t));
  int oom = !fe->cache || !fe->state || !block || !fe->series || !fe->nseries;
  for (int j = 0; j < NPER && block; j++) {
    *per_temperature(fe, j) = block + (size_t)j * (size_t)p->nbeta;
    for (int k = 0; k < p->nbeta; k++) block[(size_t)j * (size_t)p->nbeta + (size_t)k] = NAN;
  }
  if (fe->method == ISING_EXACT_ENUMERATION && rank == 0) oom |= ising_couplings_bondlist(p, &fe->model) != 0;
  if (ising_check(comm, oom, "out of memory for the exact reference values")) return ISING_EXIT_RUNTIME;

  /* The group exists when there is something to put in it: exact values,
   * a mean-field bound, thermodynamic integration or AIS. */
  const unsigned estimators = ISING_TASK_MEANFIELD | ISING_TASK_MC | ISING_TASK_TEMPERING | ISING_TASK_FREEENERGY;
  if (fe->method == ISING_EXACT_NONE && !(p->tasks & estimators)) return 0;
  /* Several tempering disorder samples: each writes its own, under its
   * /samples/<s> prefix; the top level has none. */
  if (p->tasks == ISING_TASK_TEMPERING && p->disorder_samples > 1 && !io->prefix[0]) {
    fe->method = ISING_EXACT_NONE;
    return 0;
  }
  int64_t nb = p->nbeta, start = 0, count = p->nbeta;
  char path[128], method[64];
  int rc = 0;
  for (size_t j = 0; j < sizeof(datasets) / sizeof(*datasets) && !rc; j++) {
    snprintf(path, sizeof(path), "/free_energy/%s", datasets[j]);
    rc = ising_io_dataset_double(io, path, 1, &nb);
  }
  if (fe->method != ISING_EXACT_NONE)
    snprintf(method, sizeof(method), "exact:%s", ising_freeenergy_method(fe));
  else if (p->tasks & (ISING_TASK_MC | ISING_TASK_TEMPERING))
    snprintf(method, sizeof(method), "thermodynamic_integration");
  else if (p->tasks & ISING_TASK_FREEENERGY)
    snprintf(method, sizeof(method), "ais");
  else
    snprintf(method, sizeof(method), "none");
  if (!rc) rc = ising_io_write_double(io, "/free_energy/beta", &start, &count, p->beta);
  if (!rc) rc = ising_io_attr_string(io, "/free_energy", "method", method);
  fe->active = !rc;
  return rc ? ISING_EXIT_RUNTIME : 0;
}

static int write_entry(ising_io *io, const char *name, int k, double v)
{
  char path[128];
  int64_t start = k, count = 1;
  snprintf(path, sizeof(path), "/free_energy/%s", name);
  return ising_io_write_double(io, path, &start, &count, &v);
}

static int compute(const ising_freeenergy *fe, double beta, ising_exact_result *r)
{
  const ising_params *p = fe->p;
  int rank, rc = -1;
  MPI_Comm_rank(fe->comm, &rank);
  if (rank == 0) {
    switch (fe->method) {
    case ISING_EXACT_ENUMERATION: rc = ising_exact_enumerate(&fe->model, beta, r, NULL); break;
    case ISING_EXACT_KAUFMAN:
      rc = ising_exact_kaufman((int)p->L[0], (int)p->L[1], ising_quantize(p->J[0]), ising_quantize(p->J[1]), beta, r);
      break;
    case ISING_EXACT_CHAIN:
      rc = ising_exact_chain(p->L[0], p->periodic[0], ising_quantize(p->J[0]), ising_quantize(p->field), beta, r);
      /* The chain's susceptibility is beta N (<m^2> - <m>^2); the Monte
       * Carlo estimate uses <|m|>, so the two are not comparable. */
      r->susceptibility = NAN;
      break;
    default: break;
    }
  }
  MPI_Bcast(&rc, 1, MPI_INT, 0, fe->comm);
  MPI_Bcast(r, (int)sizeof(*r), MPI_BYTE, 0, fe->comm);
  return rc;
}

/* The headline lnZ of temperature k and f = -lnZ / (beta N): exact, else
 * thermodynamic integration, else AIS. */
/* The headline ln Z of temperature k (exact, else TI, else AIS) and its error; NaN if none. */
static void headline_value(const ising_freeenergy *fe, int k, double *v, double *err)
{
  *v = *err = NAN;
  if (fe->state[k] > 0) {
    *v = fe->cache[k].lnZ;
    *err = 0.0;
  } else if (isfinite(fe->ti[k])) {
    *v = fe->ti[k];
    *err = hypot(fe->ti_err[k], fe->ti_quad[k]);
  } else if (isfinite(fe->ais[k])) {
    *v = fe->ais[k];
    *err = fe->ais_err[k];
  }
}

static int headline(ising_freeenergy *fe, int k)
{
  double v, err, beta = fe->p->beta[k], N = (double)fe->p->nsites;
  headline_value(fe, k, &v, &err);
  if (!isfinite(v)) return 0;
  return write_entry(fe->io, "lnZ", k, v) || write_entry(fe->io, "lnZ_err", k, err) ||
         (beta > 0 &&
          (write_entry(fe->io, "f", k, -v / (beta * N)) || write_entry(fe->io, "f_err", k, err / (beta * N))));
}

/* Every temperature's entry of /free_energy/name in one write (the file holds NaN where v does). */
static int write_column(ising_io *io, const char *name, int K, const double *v)
{
  char path[128];
  int64_t start = 0, count = K;
  snprintf(path, sizeof(path), "/free_energy/%s", name);
  return ising_io_write_double(io, path, &start, &count, v);
}

/* Var(H) at beta = 0: the sum over pairs of neighbours of (sum of the bonds
 * joining them)^2 plus h_i^2 over sites, from the couplings' definition (a
 * pure function of the parameters); the sites are shared out over fe's ranks
 * and summed in fixed point.  A pair has one bond, except along a periodic
 * axis of 2 sites, where bond (site, d) and the wrapped bond of its
 * neighbour join the same two spins: their sum is squared once, at the site
 * of coordinate 0 (squaring each alone gave 16 instead of 24 on 4 x 2). */
static void variance0(ising_freeenergy *fe)
{
  const ising_params *p = fe->p;
  int rank, size;
  MPI_Comm_rank(fe->comm, &rank);
  MPI_Comm_size(fe->comm, &size);
  int64_t lo = p->nsites / size * rank + (rank < p->nsites % size ? rank : p->nsites % size);
  int64_t n = p->nsites / size + (rank < p->nsites % size);
  ising_int128 sum = 0;
  for (int64_t site = lo; site < lo + n; site++) {
    int64_t stride = 1; /* of axis d in the global site number */
    for (int d = 0; d < p->dim; stride *= p->L[d], d++) {
      double j = ising_couplings_bond(p, site, d);
      if (p->periodic[d] && p->L[d] == 2) {
        if ((site / stride) % 2) continue;                 /* counted with its partner at coordinate 0 */
        j = j + ising_couplings_bond(p, site + stride, d); /* the wrapped bond back to this site */
      }
      sum += ising_fixed128(j * j);
    }
    double h = ising_couplings_field(p, site);
    sum += ising_fixed128(h * h);
  }
  ising_allreduce_int128(fe->comm, &sum, 1);
  fe->var0 = ising_unfixed128(sum);
}

/* Thermodynamic integration over the temperatures sorted by beta, up to
 * the first one without estimates. */
static void integrate(ising_freeenergy *fe)
{
  const ising_params *p = fe->p;
  const int K = p->nbeta;
  const double N = (double)p->nsites;
  int *order = malloc(sizeof(int) * (size_t)K);
  double *we = malloc(sizeof(double) * (size_t)K), *wd = malloc(sizeof(double) * (size_t)K);
  if (!order || !we || !wd) goto done;
  for (int k = 0; k < K; k++) order[k] = k;
  for (int i = 1; i < K; i++) /* insertion sort by beta, stable */
    for (int j = i; j > 0 && p->beta[order[j - 1]] > p->beta[order[j]]; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  double a = 0.0, ea = 0.0, da = -fe->var0 / N, integral = 0.0, quad = 0.0;
  for (int i = 0; i < K; i++) {
    int k = order[i];
    if (!isfinite(fe->e[k]) || !isfinite(fe->c[k])) break;
    double b = p->beta[k], h = b - a, eb = fe->e[k];
    double db = b > 0 ? -fe->c[k] / (b * b) : -fe->var0 / N;
    double trap = 0.5 * h * (ea + eb), herm = trap + h * h / 12.0 * (da - db);
    integral += herm;
    quad += fabs(herm - trap);
    /* the weights of e and e' of every node in the integral up to b: interval i
     * adds (h/2, h^2/12) to its left node (none when that is beta = 0, exact)
     * and (h/2, -h^2/12) to its right node */
    we[i] = 0.5 * h;
    wd[i] = -h * h / 12.0;
    if (i > 0) {
      we[i - 1] += 0.5 * h;
      wd[i - 1] += h * h / 12.0;
    }
    double var = 0.0;
    for (int j = 0; j <= i; j++) {
      int kj = order[j];
      double bj = p->beta[kj], sd = bj > 0 ? fe->c_err[kj] / (bj * bj) : 0.0;
      var += we[j] * we[j] * fe->e_err[kj] * fe->e_err[kj] + wd[j] * wd[j] * sd * sd;
    }
    fe->ti[k] = N * log(2.0) - N * integral;
    fe->ti_err[k] = N * sqrt(var);
    fe->ti_quad[k] = N * quad;
    a = b;
    ea = eb;
    da = db;
  }
done:
  free(order);
  free(we);
  free(wd);
}

int ising_freeenergy_put_sample(ising_freeenergy *fe, int k, double energy, double energy_err, double specific_heat,
                                double specific_heat_err)
{
  if (!fe->active) return 0;
  fe->e[k] = energy;
  fe->e_err[k] = energy_err;
  fe->c[k] = specific_heat;
  fe->c_err[k] = specific_heat_err;
  if (!isfinite(fe->var0)) variance0(fe);
  integrate(fe);
  /* TI changes at every temperature up to the first one without estimates: whole columns, 7 writes per
   * temperature (one entry at a time, 7 per temperature so far, made the output phase grow as K^2: 256
   * temperatures of 4x4 took 12.7 s to write) */
  const int K = fe->p->nbeta;
  const double N = (double)fe->p->nsites;
  double *col = malloc(sizeof(double) * 4 * (size_t)K);
  if (ising_check(fe->comm, !col, "out of memory for the free-energy columns")) return -1;
  for (int j = 0; j < K; j++) {
    headline_value(fe, j, &col[j], &col[K + j]);
    const double b = fe->p->beta[j];
    col[2 * K + j] = b > 0 ? -col[j] / (b * N) : NAN;
    col[3 * K + j] = b > 0 ? col[K + j] / (b * N) : NAN;
  }
  const int rc = write_column(fe->io, "lnZ_ti", K, fe->ti) || write_column(fe->io, "lnZ_ti_err", K, fe->ti_err) ||
                 write_column(fe->io, "lnZ_ti_quadrature_err", K, fe->ti_quad) || write_column(fe->io, "lnZ", K, col) ||
                 write_column(fe->io, "lnZ_err", K, col + K) || write_column(fe->io, "f", K, col + 2 * K) ||
                 write_column(fe->io, "f_err", K, col + 3 * K);
  free(col);
  return rc ? -1 : 0;
}

#define MBAR_BOOTSTRAP   40
#define MBAR_MAX_SAMPLES 1000

/* MBAR over the pooled energies of every temperature's samples (n[k] of temperature k; the samples or one
 * bootstrap resample): the U distinct energies Hu with their multiplicities c, from the starting guess f:
 * out[0..K) ln Z relative to temperature 0, then per grid point (lnZ rel, e, c).  Local; returns 0 or -1. */
/* The overlap of every temperature with the next larger beta (ov[k]; the largest keeps the NaN ov holds on entry):
 * min(n_k, n_l) S_kl, the smaller off-diagonal element (k, l) or (l, k) of MBAR's overlap matrix (mbar.h). */
/* below this overlap between neighbours the estimates are not to be trusted (Klimovich et al.) */
#define MBAR_OVERLAP_MIN 0.03
static void mbar_overlaps(int K, const double *beta, const size_t *n, size_t U, const double *Hu, const double *c,
                          const double *f, const double *lnd, double *ov)
{
  int order[K];
  for (int k = 0; k < K; k++) order[k] = k;
  for (int i = 1; i < K; i++) /* insertion sort by beta, stable */
    for (int j = i; j > 0 && beta[order[j - 1]] > beta[order[j]]; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  for (int i = 0; i + 1 < K; i++) {
    const int k = order[i], l = order[i + 1];
    const double S = ising_mbar_overlap(U, Hu, c, lnd, f[k], beta[k], f[l], beta[l]);
    ov[k] = (double)(n[k] < n[l] ? n[k] : n[l]) * S;
  }
}

/* One MBAR solution on the samples (Hu, c) from the start f, reweighted onto the grid: out[0..K) = ln Z_k - ln Z_0
 * (f), out[K + 3 i ..] = ln Z, <H>/N and c at grid point i.  With ov, also the neighbours' overlaps. */
static int mbar_pass(ising_freeenergy *fe, const size_t *n, size_t U, const double *Hu, const double *c, double *f,
                     const double *grid, int P, double *out, double *ov)
{
  const ising_params *p = fe->p;
  const int K = p->nbeta;
  const double N = (double)p->nsites;
  double *lnd = malloc(sizeof(double) * (U ? U : 1)), *rw = malloc(sizeof(double) * 3 * (size_t)(P ? P : 1));
  int rc = !lnd || !rw ? -1 : ising_mbar_solve(K, p->beta, n, U, Hu, c, f, lnd);
  if (!rc) {
    /* ln Z, <H> and Var(H) at every grid point */
    ising_mbar_reweight(U, Hu, c, f, lnd, P, grid, rw, rw + P, rw + 2 * P);
    if (ov) mbar_overlaps(K, p->beta, n, U, Hu, c, f, lnd, ov);
    for (int k = 0; k < K; k++) out[k] = -f[k];
    for (int i = 0; i < P; i++) {
      out[K + 3 * i] = rw[i];
      out[K + 3 * i + 1] = rw[P + i] / N;
      out[K + 3 * i + 2] = grid[i] * grid[i] * rw[2 * P + i] / N;
    }
  }
  free(lnd);
  free(rw);
  return rc;
}

/* where[i] = the index of H[i] among the U ascending distinct energies Hu (every H[i] is one of them). */
static void distinct_index(size_t tot, const double *H, size_t U, const double *Hu, size_t *where)
{
  for (size_t i = 0; i < tot; i++) {
    size_t lo = 0, hi = U - 1;
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (Hu[mid] < H[i])
        lo = mid + 1;
      else
        hi = mid;
    }
    where[i] = lo;
  }
}

static int write_array(ising_io *io, const char *path, const double *v, int64_t n)
{
  int64_t zero = 0;
  return ising_io_dataset_double(io, path, 1, &n) || ising_io_write_double(io, path, &zero, &n, v);
}

static int run_mbar(ising_freeenergy *fe)
{
  const ising_params *p = fe->p;
  const int K = p->nbeta, P = p->nbeta > 1 ? (int)p->reweight_points : 0, W = K + 3 * P;
  int rank, size, failed = 0, rc = 0;
  MPI_Comm_rank(fe->comm, &rank);
  MPI_Comm_size(fe->comm, &size);
  double bmin = p->beta[0], bmax = p->beta[0];
  for (int k = 1; k < K; k++) {
    bmin = fmin(bmin, p->beta[k]);
    bmax = fmax(bmax, p->beta[k]);
  }
  double *grid = malloc(sizeof(double) * (size_t)(P ? P : 1));
  double *res = calloc((size_t)W * (MBAR_BOOTSTRAP + 1), sizeof(double));
  if (ising_check(fe->comm, !grid || !res, "out of memory for MBAR")) {
    free(grid);
    free(res);
    return -1;
  }
  for (int i = 0; i < P; i++) grid[i] = P > 1 ? bmin + (bmax - bmin) * i / (P - 1) : bmin;
  /* Every rank holds the same samples.  Rank 0 solves on them all; the bootstrap resamples, each started from
   * that solution, are shared out over the ranks (resample b on rank (b - 1) mod size), and each row of res
   * comes from the one rank that computed it (the others' rows are zeros, so the sum is exact): the same bits
   * on any number of ranks, in a fraction of the time. */
  size_t tot = 0;
  for (int k = 0; k < K; k++) tot += fe->nseries[k];
  const size_t nt = tot ? tot : 1;
  double *H = malloc(sizeof(double) * nt), *Hu = malloc(sizeof(double) * nt), *c = malloc(sizeof(double) * nt);
  double *Hb = malloc(sizeof(double) * nt), *cb = malloc(sizeof(double) * nt), *f = calloc((size_t)K, sizeof(double));
  double *fb = malloc(sizeof(double) * (size_t)K), *ov = malloc(sizeof(double) * (size_t)K);
  size_t *where = malloc(sizeof(size_t) * nt), U = 0;
  failed = !H || !Hu || !c || !Hb || !cb || !f || !fb || !ov || !where;
  for (int k = 0; k < K && ov; k++) ov[k] = NAN;
  if (!failed) {
    size_t at = 0;
    for (int k = 0; k < K; k++)
      for (size_t i = 0; i < fe->nseries[k]; i++) H[at++] = fe->series[k][i];
    /* the pooled energies, each distinct value once with its multiplicity, sorted once: a resample's are some
     * of them, counted through where[] (what sorting the resample would give, without sorting it) */
    U = ising_mbar_distinct(tot, H, Hu, c);
    distinct_index(tot, H, U, Hu, where);
  }
  if (rank == 0 && !failed) {
    /* starting guess from thermodynamic integration where it exists */
    for (int k = 0; k < K; k++) f[k] = isfinite(fe->ti[k]) && isfinite(fe->ti[0]) ? fe->ti[0] - fe->ti[k] : 0;
    failed = mbar_pass(fe, fe->nseries, U, Hu, c, f, grid, P, res, ov);
  }
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, fe->comm);
  if (!failed) {
    MPI_Bcast(f, K, MPI_DOUBLE, 0, fe->comm);
    MPI_Bcast(ov, K, MPI_DOUBLE, 0, fe->comm);
  }
  for (int b = 1 + rank; b <= MBAR_BOOTSTRAP && !failed; b += size) {
    for (size_t u = 0; u < U; u++) cb[u] = 0.0;
    size_t first = 0;
    for (int k = 0; k < K; k++) {
      for (size_t i = 0; i < fe->nseries[k]; i++) {
        uint32_t r = ising_rng_u32(p->seed, ISING_STREAM_MBAR, (uint64_t)b, ((uint64_t)k << 32) | i);
        cb[where[first + r % fe->nseries[k]]] += 1.0;
      }
      first += fe->nseries[k];
    }
    size_t Ub = 0;
    for (size_t u = 0; u < U; u++)
      if (cb[u] > 0.0) {
        Hb[Ub] = Hu[u];
        cb[Ub++] = cb[u];
      }
    memcpy(fb, f, sizeof(double) * (size_t)K);
    failed = mbar_pass(fe, fe->nseries, Ub, Hb, cb, fb, grid, P, res + (size_t)b * (size_t)W, NULL);
  }
  free(H);
  free(Hu);
  free(c);
  free(Hb);
  free(cb);
  free(where);
  free(f);
  free(fb);
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, fe->comm);
  /* neighbours whose energies hardly overlap: MBAR still converges there, to values its bootstrap cannot
   * question (the resamples never add energies between them) */
  int worst = -1;
  for (int k = 0; k < K && !failed; k++) {
    if (!rc && isfinite(ov[k])) rc = write_entry(fe->io, "mbar_overlap", k, ov[k]);
    if (isfinite(ov[k]) && (worst < 0 || ov[k] < ov[worst])) worst = k;
  }
  if (!failed && worst >= 0 && ov[worst] < MBAR_OVERLAP_MIN) {
    int next = -1, poor = 0;
    for (int k = 0; k < K; k++) {
      poor += isfinite(ov[k]) && ov[k] < MBAR_OVERLAP_MIN;
      /* worst's neighbour: the next in the order of mbar_overlaps (by beta, then by index: equal betas too) */
      const int after = p->beta[k] > p->beta[worst] || (p->beta[k] == p->beta[worst] && k > worst);
      if (after && (next < 0 || p->beta[k] < p->beta[next] || (p->beta[k] == p->beta[next] && k < next))) next = k;
    }
    ising_warn(fe->comm,
               "MBAR: the energies at beta = %g and %g overlap by only %.2g (%d neighbouring pair%s below %g, "
               "/free_energy/mbar_overlap); lnZ_mbar and the reweighted curves there can be off by more than "
               "their error bars: add temperatures between them",
               p->beta[worst], next >= 0 ? p->beta[next] : NAN, ov[worst], poor, poor == 1 ? "" : "s",
               MBAR_OVERLAP_MIN);
  }
  free(ov);
  if (failed) {
    ising_warn(fe->comm, "MBAR did not converge (too little overlap between neighbouring temperatures?); no MBAR "
                         "estimates written");
    free(grid);
    free(res);
    return 0;
  }
  MPI_Allreduce(MPI_IN_PLACE, res, W * (MBAR_BOOTSTRAP + 1), MPI_DOUBLE, MPI_SUM, fe->comm);
  /* the anchor: beta = 0 (ln Z = N ln 2), else TI at the smallest beta */
  int k0 = 0;
  for (int k = 1; k < K; k++)
    if (p->beta[k] < p->beta[k0]) k0 = k;
  double anchor = NAN, anchor_err = NAN;
  const char *how = "none";
  if (p->beta[k0] == 0.0) {
    anchor = (double)p->nsites * log(2.0);
    anchor_err = 0.0;
    how = "beta = 0: N ln 2";
  } else if (isfinite(fe->ti[k0])) {
    anchor = fe->ti[k0];
    anchor_err = hypot(fe->ti_err[k0], fe->ti_quad[k0]);
    how = "thermodynamic integration at the smallest beta";
  }
  double *val = malloc(sizeof(double) * (size_t)W), *err = malloc(sizeof(double) * (size_t)W);
  if (ising_check(fe->comm, !val || !err, "out of memory for MBAR")) rc = -1;
  for (int j = 0; !rc && j < W; j++) {
    /* ln Z entries are relative to temperature 0 in res; move them to the anchor temperature k0 */
    const int lnz = j < K || (j - K) % 3 == 0;
    double s = 0.0, q = 0.0;
    for (int b = 1; b <= MBAR_BOOTSTRAP; b++) {
      const double *rb = res + (size_t)b * (size_t)W;
      double x = rb[j] - (lnz ? rb[k0] : 0.0);
      s += x;
      q += x * x;
    }
    s /= MBAR_BOOTSTRAP;
    val[j] = res[j] - (lnz ? res[k0] : 0.0);
    err[j] = sqrt(fmax(q / MBAR_BOOTSTRAP - s * s, 0.0) * MBAR_BOOTSTRAP / (MBAR_BOOTSTRAP - 1));
    if (lnz) {
      val[j] += anchor;
      err[j] = hypot(err[j], anchor_err);
    }
  }
  for (int k = 0; !rc && k < K; k++) {
    fe->mbar[k] = val[k];
    fe->mbar_err[k] = err[k];
    rc = write_entry(fe->io, "lnZ_mbar", k, val[k]) || write_entry(fe->io, "lnZ_mbar_err", k, err[k]);
  }
  if (!rc && P > 0) {
    double *col = malloc(sizeof(double) * (size_t)P);
    static const char *const names[3][2] = {
        {"lnZ", "lnZ_err"}, {"energy", "energy_err"}, {"specific_heat", "specific_heat_err"}};
    char path[128];
    rc = ising_check(fe->comm, !col, "out of memory") || write_array(fe->io, "/free_energy/reweighted/beta", grid, P);
    for (int q = 0; q < 3 && !rc; q++)
      for (int e = 0; e < 2 && !rc; e++) {
        for (int i = 0; i < P; i++) col[i] = (e ? err : val)[K + 3 * i + q];
        snprintf(path, sizeof(path), "/free_energy/reweighted/%s", names[q][e]);
        rc = write_array(fe->io, path, col, P);
      }
    /* the specific-heat peak on the grid, and its spread over the resamples */
    double peak[MBAR_BOOTSTRAP + 1];
    for (int b = 0; b <= MBAR_BOOTSTRAP; b++) {
      int best = 0;
      for (int i = 1; i < P; i++)
        if (res[(size_t)b * (size_t)W + (size_t)(K + 3 * i + 2)] >
            res[(size_t)b * (size_t)W + (size_t)(K + 3 * best + 2)])
          best = i;
      peak[b] = grid[best];
    }
    double s = 0.0, q = 0.0;
    for (int b = 1; b <= MBAR_BOOTSTRAP; b++) {
      s += peak[b] / MBAR_BOOTSTRAP;
      q += peak[b] * peak[b] / MBAR_BOOTSTRAP;
    }
    double peak_err = sqrt(fmax(q - s * s, 0.0) * MBAR_BOOTSTRAP / (MBAR_BOOTSTRAP - 1));
    if (!rc)
      rc = ising_io_attr_double(fe->io, "/free_energy/reweighted", "specific_heat_peak_beta", &peak[0], 0) ||
           ising_io_attr_double(fe->io, "/free_energy/reweighted", "specific_heat_peak_beta_err", &peak_err, 0) ||
           ising_io_attr_string(fe->io, "/free_energy/reweighted", "anchor", how);
    free(col);
  }
  if (!rc) rc = ising_io_attr_string(fe->io, "/free_energy", "mbar_anchor", how);
  free(val);
  free(err);
  free(grid);
  free(res);
  return rc ? -1 : 0;
}

/* Keeps temperature k's MBAR samples: e (per spin) thinned by 2 tau_int,
 * at most MBAR_MAX_SAMPLES of them, as total energies.  0 or -1. */
static int keep_series(ising_freeenergy *fe, int k, const double *e, size_t n, double tau_int)
{
  /* tau_int can come out below 1/2, even negative, on a short or anti-correlated series: no thinning then (a
   * negative step converted to size_t kept no sample at all, and MBAR left that temperature at its start) */
  size_t step = (size_t)ceil(2.0 * (isfinite(tau_int) && tau_int > 0.5 ? tau_int : 0.5));
  if (n / step > MBAR_MAX_SAMPLES) step = (n + MBAR_MAX_SAMPLES - 1) / MBAR_MAX_SAMPLES;
  size_t m = (n + step - 1) / step;
  free(fe->series[k]);
  fe->series[k] = malloc(sizeof(double) * m);
  if (ising_check(fe->comm, !fe->series[k], "out of memory for the MBAR samples")) return -1;
  /* rank 0 holds the series (mc and tempering keep them there alone); every rank gets the samples */
  int rank;
  MPI_Comm_rank(fe->comm, &rank);
  for (size_t i = 0; i < m && rank == 0; i++) fe->series[k][i] = e[i * step] * (double)fe->p->nsites;
  MPI_Bcast(fe->series[k], (int)m, MPI_DOUBLE, 0, fe->comm);
  fe->nseries[k] = m;
  return 0;
}

/* Reads the whole double dataset path (nbeta entries, or [n, nbeta] column
 * k when n > 0) into v; 1 if it is not in the file, -1 on an error. */
static int read_column(ising_freeenergy *fe, const char *path, int k, int64_t n, double *v)
{
  int rank;
  int64_t dims[ISING_IO_MAX_RANK];
  if (ising_io_shape(fe->io, path, H5T_NATIVE_DOUBLE, &rank, dims) || rank != (n > 0 ? 2 : 1) ||
      dims[rank - 1] != fe->p->nbeta || (n > 0 && dims[0] != n))
    return 1;
  int64_t start[2] = {0, k}, count[2] = {n > 0 ? n : fe->p->nbeta, 1};
  return ising_io_read_part(fe->io, path, H5T_NATIVE_DOUBLE, start, count, v, 1) ? -1 : 0;
}

int ising_freeenergy_restore(ising_freeenergy *fe)
{
  if (!fe->active) return 0;
  const ising_params *p = fe->p;
  const int nb = p->nbeta;
  /* The estimates already in /free_energy, for the report. */
  static const char *const kept[] = {"lnZ_ti",      "lnZ_ti_err",    "lnZ_ti_quadrature_err", "lnZ_ais",
                                     "lnZ_ais_err", "lnZ_lower_ais", "lnZ_lower_ais_err",     "ais_ess",
                                     "lnZ_mbar",    "lnZ_mbar_err"};
  char path[128];
  for (int j = 0; j < 10; j++) {
    snprintf(path, sizeof(path), "/free_energy/%s", kept[j]);
    if (read_column(fe, path, 0, 0, *per_temperature(fe, 4 + j)) < 0) return -1;
  }
  /* The exact values computed before (the headline lnZ prefers them). */
  double *ex = malloc(sizeof(double) * (size_t)nb);
  if (ising_check(fe->comm, !ex, "out of memory restoring the free-energy estimates")) return -1;
  for (int k = 0; k < nb; k++) ex[k] = NAN;
  int bad = read_column(fe, "/free_energy/lnZ_exact", 0, 0, ex) < 0;
  ising_exact_result r;
  for (int k = 0; k < nb && !bad; k++)
    if (isfinite(ex[k])) bad = ising_freeenergy_exact(fe, k, &r) < 0;
  free(ex);
  if (bad) return -1;
  if (!(p->tasks & (ISING_TASK_MC | ISING_TASK_TEMPERING))) return 0;
  /* The Monte Carlo temperatures finished before the checkpoint: their
   * results are in /observables and /timeseries, NaN elsewhere. */
  const int64_t nmeas = p->sweeps / p->measure_interval;
  double *tau = malloc(sizeof(double) * (size_t)nb), *series = malloc(sizeof(double) * (size_t)(nmeas > 0 ? nmeas : 1));
  int rc = ising_check(fe->comm, !tau || !series, "out of memory restoring the free-energy estimates") ? -1 : 0;
  double **dst[4] = {&fe->e, &fe->e_err, &fe->c, &fe->c_err};
  static const char *const obs[4] = {"/observables/energy", "/observables/energy_err", "/observables/specific_heat",
                                     "/observables/specific_heat_err"};
  int found = 0;
  for (int j = 0; j < 4 && !rc; j++) rc = read_column(fe, obs[j], 0, 0, *dst[j]);
  if (!rc) rc = read_column(fe, "/observables/tau_int_energy", 0, 0, tau);
  found = rc == 0;
  for (int k = 0; k < nb && found; k++) {
    if (!isfinite(fe->e[k])) continue;
    rc = read_column(fe, "/timeseries/energy", k, nmeas, series);
    if (!rc) rc = keep_series(fe, k, series, (size_t)nmeas, tau[k]);
    if (rc) break;
  }
  if (rc > 0) { /* no Monte Carlo results yet */
    for (int k = 0; k < nb; k++) fe->e[k] = fe->e_err[k] = fe->c[k] = fe->c_err[k] = NAN;
    rc = 0;
  }
  if (!rc && found && !isfinite(fe->var0)) variance0(fe);
  free(tau);
  free(series);
  return rc;
}

int ising_freeenergy_put_series(ising_freeenergy *fe, int k, const double *e, size_t n, double tau_int)
{
  if (!fe->active || n == 0) return 0;
  const ising_params *p = fe->p;
  if (keep_series(fe, k, e, n, tau_int)) return -1;
  for (int j = 0; j < p->nbeta; j++)
    if (!fe->series[j]) return 0;
  if (p->nbeta < 2) return 0;
  return run_mbar(fe);
}

int ising_freeenergy_put_ais(ising_freeenergy *fe, int k, double lnz, double lnz_err, double lower, double lower_err,
                             double ess)
{
  if (!fe->active) return 0;
  fe->ais[k] = lnz;
  fe->ais_err[k] = lnz_err;
  fe->ais_lower[k] = lower;
  fe->ais_lower_err[k] = lower_err;
  fe->ais_ess[k] = ess;
  return write_entry(fe->io, "lnZ_ais", k, lnz) || write_entry(fe->io, "lnZ_ais_err", k, lnz_err) ||
                 write_entry(fe->io, "lnZ_lower_ais", k, lower) ||
                 write_entry(fe->io, "lnZ_lower_ais_err", k, lower_err) || write_entry(fe->io, "ais_ess", k, ess) ||
                 headline(fe, k)
             ? -1
             : 0;
}

void ising_freeenergy_report(const ising_freeenergy *fe, FILE *out)
{
  const ising_params *p = fe->p;
  int ti = 0, mbar = 0, ais = 0, exact = 0; /* the columns that have a value somewhere */
  for (int k = 0; k < p->nbeta; k++) {
    ti |= isfinite(fe->ti[k]);
    mbar |= isfinite(fe->mbar[k]);
    ais |= isfinite(fe->ais[k]) || isfinite(fe->ais_lower[k]);
    exact |= fe->state[k] > 0;
  }
  if (!fe->active || !(ti || ais)) return;
  const double N = (double)p->nsites;
  fprintf(out, "\nfree energy: ln Z per spin%s\n",
          ti ? " (thermodynamic integration: statistical and quadrature error)" : "");
  fprintf(out, "  %10s", "beta");
  if (ti) fprintf(out, "  %28s", "TI");
  if (mbar) fprintf(out, "  %22s", "MBAR");
  if (ais) fprintf(out, "  %22s  %22s", "AIS", "AIS lower bound");
  if (exact) fprintf(out, "  %14s", "exact");
  fputc('\n', out);
  for (int k = 0; k < p->nbeta; k++) {
    char s[5][64] = {"-", "-", "-", "-", "-"};
    if (isfinite(fe->ti[k]))
      snprintf(s[0], sizeof(s[0]), "%.7f +- %.1e +- %.1e", fe->ti[k] / N, fe->ti_err[k] / N, fe->ti_quad[k] / N);
    if (isfinite(fe->mbar[k])) snprintf(s[1], sizeof(s[1]), "%.7f +- %.1e", fe->mbar[k] / N, fe->mbar_err[k] / N);
    if (isfinite(fe->ais[k])) snprintf(s[2], sizeof(s[2]), "%.7f +- %.1e", fe->ais[k] / N, fe->ais_err[k] / N);
    if (isfinite(fe->ais_lower[k]))
      snprintf(s[3], sizeof(s[3]), "%.7f +- %.1e", fe->ais_lower[k] / N, fe->ais_lower_err[k] / N);
    if (fe->state[k] > 0) snprintf(s[4], sizeof(s[4]), "%.7f", fe->cache[k].lnZ / N);
    fprintf(out, "  %10.6g", p->beta[k]);
    if (ti) fprintf(out, "  %28s", s[0]);
    if (mbar) fprintf(out, "  %22s", s[1]);
    if (ais) fprintf(out, "  %22s  %22s", s[2], s[3]);
    if (exact) fprintf(out, "  %14s", s[4]);
    fputc('\n', out);
  }
}

int ising_freeenergy_exact(ising_freeenergy *fe, int k, ising_exact_result *r)
{
  if (fe->method == ISING_EXACT_NONE) fe->state[k] = -1;
  if (fe->state[k] == 0) {
    fe->state[k] = compute(fe, fe->p->beta[k], &fe->cache[k]) == 0 ? 1 : -1;
    if (fe->state[k] < 0)
      ising_warn(fe->comm, "the exact method (%s) does not apply at beta = %g; no exact values there",
                 ising_freeenergy_method(fe), fe->p->beta[k]);
    else if (write_entry(fe->io, "lnZ_exact", k, fe->cache[k].lnZ) || headline(fe, k))
      return -1;
  }
  if (fe->state[k] > 0) {
    *r = fe->cache[k];
    return 1;
  }
  double nan = NAN;
  r->lnZ = r->energy = r->specific_heat = r->magnetization = r->abs_magnetization = r->m2 = r->m4 = nan;
  r->susceptibility = r->binder = r->ground_energy = r->ground_degeneracy = nan;
  r->have_magnetization = 0;
  return 0;
}

int ising_freeenergy_put_meanfield(ising_freeenergy *fe, int k, double elbo)
{
  ising_exact_result r;
  int have = ising_freeenergy_exact(fe, k, &r);
  if (have < 0 || write_entry(fe->io, "lnZ_lower_meanfield", k, elbo)) return -1;
  if (have && (write_entry(fe->io, "kl_gap", k, r.lnZ - elbo) || write_entry(fe->io, "kl_gap_err", k, 0.0))) return -1;
  return 0;
}

int ising_freeenergy_put_upper(ising_freeenergy *fe, int k, double trw, double trivial, double lower)
{
  if (write_entry(fe->io, "lnZ_upper_trw", k, trw) || write_entry(fe->io, "lnZ_upper_trivial", k, trivial) ||
      write_entry(fe->io, "sandwich_width", k, trw - lower))
    return -1;
  return 0;
}

void ising_freeenergy_free(ising_freeenergy *fe)
{
  ising_bondlist_free(&fe->model);
  free(fe->e); /* the block of every per-temperature array */
  for (int k = 0; fe->series && k < fe->p->nbeta; k++) free(fe->series[k]);
  free(fe->series);
  free(fe->nseries);
  fe->series = NULL;
  fe->nseries = NULL;
  for (int j = 0; j < NPER; j++) *per_temperature(fe, j) = NULL;
  free(fe->cache);
  free(fe->state);
  fe->cache = NULL;
  fe->state = NULL;
}

int ising_freeenergy_ladder_changed(ising_freeenergy *fe)
{
  const ising_params *p = fe->p;
  for (int k = 0; k < p->nbeta; k++) fe->state[k] = 0;
  if (!fe->active) return 0;
  int64_t start = 0, count = p->nbeta;
  return ising_io_write_double(fe->io, "/free_energy/beta", &start, &count, p->beta) ? -1 : 0;
}
