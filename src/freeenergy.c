/* freeenergy.c: /free_energy and the exact reference values (freeenergy.h).
 *   ising_freeenergy_init, ising_freeenergy_exact,
 *   ising_freeenergy_put_meanfield,
 *   ising_freeenergy_put_upper                     collective
 *   ising_freeenergy_method, ising_freeenergy_free  local */
#include "ising/freeenergy.h"

#include "ising/couplings.h"
#include "ising/error.h"
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
    "beta",   "lnZ",        "lnZ_err",       "lnZ_exact",         "lnZ_lower_meanfield",
    "kl_gap", "kl_gap_err", "lnZ_upper_trw", "lnZ_upper_trivial", "sandwich_width"};

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
  int oom = !fe->cache || !fe->state;
  if (fe->method == ISING_EXACT_ENUMERATION && rank == 0) oom |= ising_couplings_bondlist(p, &fe->model) != 0;
  if (ising_check(comm, oom, "out of memory for the exact reference values")) return ISING_EXIT_RUNTIME;

  /* The group exists when there is something to put in it: exact values,
   * or a mean-field bound. */
  if (fe->method == ISING_EXACT_NONE && !(p->tasks & ISING_TASK_MEANFIELD)) return 0;
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
  snprintf(method, sizeof(method), "exact:%s", ising_freeenergy_method(fe));
  if (!rc) rc = ising_io_write_double(io, "/free_energy/beta", &start, &count, p->beta);
  if (!rc && fe->method != ISING_EXACT_NONE) rc = ising_io_attr_string(io, "/free_energy", "method", method);
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

int ising_freeenergy_exact(ising_freeenergy *fe, int k, ising_exact_result *r)
{
  if (fe->method == ISING_EXACT_NONE) fe->state[k] = -1;
  if (fe->state[k] == 0) {
    fe->state[k] = compute(fe, fe->p->beta[k], &fe->cache[k]) == 0 ? 1 : -1;
    if (fe->state[k] < 0)
      ising_warn(fe->comm, "the exact method (%s) does not apply at beta = %g; no exact values there",
                 ising_freeenergy_method(fe), fe->p->beta[k]);
    else if (write_entry(fe->io, "lnZ", k, fe->cache[k].lnZ) || write_entry(fe->io, "lnZ_err", k, 0.0) ||
             write_entry(fe->io, "lnZ_exact", k, fe->cache[k].lnZ))
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
  free(fe->cache);
  free(fe->state);
  fe->cache = NULL;
  fe->state = NULL;
}

int ising_freeenergy_ladder_changed(ising_freeenergy *fe)
{
  const ising_params *p = fe->p;
  for (int k = 0; k < p->nbeta; k++) fe->state[k] = 0;
  if (fe->method == ISING_EXACT_NONE && !(p->tasks & ISING_TASK_MEANFIELD)) return 0;
  int64_t start = 0, count = p->nbeta;
  return ising_io_write_double(fe->io, "/free_energy/beta", &start, &count, p->beta) ? -1 : 0;
}
