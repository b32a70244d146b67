/* freeenergy.c: /free_energy and the exact reference values (freeenergy.h).
 *   ising_freeenergy_init, ising_freeenergy_exact,
 *   ising_freeenergy_put_meanfield                 collective
 *   ising_freeenergy_method, ising_freeenergy_free  local */
#include "ising/freeenergy.h"

#include "ising/couplings.h"
#include "ising/error.h"
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

static const char *const datasets[] = {
    "beta",    "lnZ",         "lnZ_err",       "lnZ_exact",         "lnZ_lower_meanfield",
    "kl_gap",  "kl_gap_err",  "lnZ_ti",        "lnZ_ti_err",        "lnZ_ti_quadrature_err",
    "lnZ_ais", "lnZ_ais_err", "lnZ_lower_ais", "lnZ_lower_ais_err", "ais_ess",
    "f",       "f_err"};

/* The per-temperature arrays of fe, in one allocation. */
#define NPER 12
static double **per_temperature(ising_freeenergy *fe, int j)
{
  double **a[NPER] = {
      &fe->e,   &fe->e_err,   &fe->c,         &fe->c_err,         &fe->ti,     &fe->ti_err, &fe->ti_quad,
      &fe->ais, &fe->ais_err, &fe->ais_lower, &fe->ais_lower_err, &fe->ais_ess};
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
  int oom = !fe->cache || !fe->state || !block;
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
static int headline(ising_freeenergy *fe, int k)
{
  double v = NAN, err = NAN, beta = fe->p->beta[k], N = (double)fe->p->nsites;
  if (fe->state[k] > 0) {
    v = fe->cache[k].lnZ;
    err = 0.0;
  } else if (isfinite(fe->ti[k])) {
    v = fe->ti[k];
    err = hypot(fe->ti_err[k], fe->ti_quad[k]);
  } else if (isfinite(fe->ais[k])) {
    v = fe->ais[k];
    err = fe->ais_err[k];
  }
  if (!isfinite(v)) return 0;
  return write_entry(fe->io, "lnZ", k, v) || write_entry(fe->io, "lnZ_err", k, err) ||
         (beta > 0 &&
          (write_entry(fe->io, "f", k, -v / (beta * N)) || write_entry(fe->io, "f_err", k, err / (beta * N))));
}

/* Var(H) at beta = 0: the sum of J_ij^2 over bonds plus h_i^2 over sites,
 * from the couplings' definition (a pure function of the parameters); the
 * sites are shared out over fe's ranks and summed in fixed point. */
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
    for (int d = 0; d < p->dim; d++) {
      double j = ising_couplings_bond(p, site, d);
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
  for (int j = 0; j < fe->p->nbeta; j++) {
    if (!isfinite(fe->ti[j])) continue;
    if (write_entry(fe->io, "lnZ_ti", j, fe->ti[j]) || write_entry(fe->io, "lnZ_ti_err", j, fe->ti_err[j]) ||
        write_entry(fe->io, "lnZ_ti_quadrature_err", j, fe->ti_quad[j]) || headline(fe, j))
      return -1;
  }
  return 0;
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
  int any = 0;
  for (int k = 0; k < p->nbeta; k++) any |= isfinite(fe->ti[k]) || isfinite(fe->ais[k]);
  if (!fe->active || !any) return;
  const double N = (double)p->nsites;
  fprintf(out, "\nfree energy: ln Z per spin (thermodynamic integration: statistical and quadrature error)\n");
  fprintf(out, "  %10s  %28s  %22s  %22s  %14s\n", "beta", "TI", "AIS", "AIS lower bound", "exact");
  for (int k = 0; k < p->nbeta; k++) {
    char ti[64] = "-", ais[64] = "-", low[64] = "-", ex[64] = "-";
    if (isfinite(fe->ti[k]))
      snprintf(ti, sizeof(ti), "%.7f +- %.1e +- %.1e", fe->ti[k] / N, fe->ti_err[k] / N, fe->ti_quad[k] / N);
    if (isfinite(fe->ais[k])) snprintf(ais, sizeof(ais), "%.7f +- %.1e", fe->ais[k] / N, fe->ais_err[k] / N);
    if (isfinite(fe->ais_lower[k]))
      snprintf(low, sizeof(low), "%.7f +- %.1e", fe->ais_lower[k] / N, fe->ais_lower_err[k] / N);
    if (fe->state[k] > 0) snprintf(ex, sizeof(ex), "%.7f", fe->cache[k].lnZ / N);
    fprintf(out, "  %10.6g  %28s  %22s  %22s  %14s\n", p->beta[k], ti, ais, low, ex);
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

void ising_freeenergy_free(ising_freeenergy *fe)
{
  ising_bondlist_free(&fe->model);
  free(fe->e); /* the block of every per-temperature array */
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
