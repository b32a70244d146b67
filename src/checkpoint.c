/* checkpoint.c: atomic checkpoints and restart (checkpoint.h).
 *   ising_checkpoint_setup, _restore_output, _finish, _poll, _begin, _end,
 *   _resume, _put, _get, _put_spins, _get_spins, _check      collective
 *   ising_checkpoint_arm, _rearm, _task_done, _mark_done, _signal, _free   local
 *
 * The restart file is validated completely by rank 0 alone, with HDF5's
 * serial driver, before any rank reads it in parallel: a damaged file can
 * then only produce a message, never a collective call that some ranks
 * leave early. */
#include "ising/checkpoint.h"

#include "ising/error.h"
#include "ising/version.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- signals: the handler only records the signal ---- */

static volatile sig_atomic_t caught_signal = 0;
static int armed = 0;
static const int handled[] = {SIGTERM, SIGUSR1, SIGINT};
#define NHANDLED (sizeof(handled) / sizeof(*handled))
static struct sigaction before[NHANDLED]; /* what the signals did before ising_checkpoint_catch */
static int have_before = 0;

static void on_signal(int sig)
{
  caught_signal = sig;
}

static void install_handlers(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  /* SA_RESTART: system calls inside MPI carry on.  The handler stays: a
   * signal delivered twice (by a launcher and a job script, say) must not
   * kill a rank in the middle of the checkpoint the first one asked for. */
  sa.sa_flags = SA_RESTART;
  for (size_t k = 0; k < NHANDLED; k++) sigaction(handled[k], &sa, have_before ? NULL : &before[k]);
  have_before = 1;
  armed = 1;
}

void ising_checkpoint_catch(void)
{
  install_handlers();
}

void ising_checkpoint_release(void)
{
  if (!have_before) return;
  for (size_t k = 0; k < NHANDLED; k++) sigaction(handled[k], &before[k], NULL);
  armed = 0;
}

void ising_checkpoint_arm(ising_checkpoint *ck)
{
  install_handlers();
  ck->last_write = ck->last_poll = MPI_Wtime();
}

void ising_checkpoint_rearm(void)
{
  if (armed) install_handlers();
}

int ising_checkpoint_signal(void)
{
  return caught_signal;
}

/* ---- tasks ---- */

static const struct {
  unsigned bit;
  const char *name;
} task_names[] = {
    {ISING_TASK_MC, "mc"},         {ISING_TASK_MEANFIELD, "meanfield"}, {ISING_TASK_TEMPERING, "tempering"},
    {ISING_TASK_ANNEAL, "anneal"}, {ISING_TASK_QUENCH, "quench"},       {ISING_TASK_FREEENERGY, "freeenergy"}};
#define NTASKS (sizeof(task_names) / sizeof(*task_names))

static const char *task_name(unsigned bit)
{
  for (size_t k = 0; k < NTASKS; k++)
    if (task_names[k].bit == bit) return task_names[k].name;
  return "none";
}

/* Comma list of the tasks in mask, in the order they run. */
static void task_list(unsigned mask, char *out, size_t len)
{
  out[0] = '\0';
  for (size_t k = 0; k < NTASKS; k++)
    if (mask & task_names[k].bit) {
      if (out[0]) strncat(out, ",", len - strlen(out) - 1);
      strncat(out, task_names[k].name, len - strlen(out) - 1);
    }
}

/* The mask of a comma list, or -1 when an entry is unknown. */
static long task_mask(const char *list)
{
  long mask = 0;
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", list);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    size_t k = 0;
    while (k < NTASKS && strcmp(task_names[k].name, t)) k++;
    if (k == NTASKS) return -1;
    mask |= (long)task_names[k].bit;
  }
  return mask;
}

int ising_checkpoint_task_done(const ising_checkpoint *ck, unsigned task)
{
  return (ck->tasks_done & task) != 0;
}

void ising_checkpoint_mark_done(ising_checkpoint *ck, unsigned task)
{
  ck->tasks_done |= task;
}

/* ---- checksums: a sum over elements of a hash of (position, value), so
 * that any split of a dataset over ranks gives the same total ---- */

static inline uint64_t fmix(uint64_t z)
{
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static inline uint64_t cs_term(uint64_t index, uint64_t bits)
{
  return fmix(fmix(index + UINT64_C(0x9e3779b97f4a7c15)) ^ bits);
}

/* Elements first .. first + n - 1 of a dataset of 1- or 8-byte elements. */
static uint64_t cs_array(size_t size, const void *data, int64_t first, int64_t n)
{
  uint64_t s = 0;
  if (size == 1) {
    const uint8_t *b = data;
    for (int64_t i = 0; i < n; i++) s += cs_term((uint64_t)(first + i), b[i]);
  } else {
    const char *c = data;
    for (int64_t i = 0; i < n; i++) {
      uint64_t bits;
      memcpy(&bits, c + 8 * i, 8);
      s += cs_term((uint64_t)(first + i), bits);
    }
  }
  return s;
}

/* This rank's interior block of a spin field, entry base of the dataset
 * being the first site. */
static uint64_t cs_field(const ising_geometry *g, const int8_t *spins, int64_t base)
{
  uint64_t s = 0;
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++)
      for (int ex = 1; ex <= g->n[0]; ex++) {
        int64_t site = ising_geometry_global_index(g, ex, ey, ez);
        s += cs_term((uint64_t)(base + site), (uint8_t)spins[ising_geometry_index(g, ex, ey, ez)]);
      }
  return s;
}

/* ---- the physics options a restart must share with its checkpoint ---- */

enum { PV_I64, PV_U64, PV_F64, PV_STR };

typedef struct {
  const char *option; /* as the user spells it */
  const char *name;   /* attribute of /params */
  int type, n;        /* n values, 0: a scalar */
  int64_t i[ISING_MAX_DIM];
  uint64_t u;
  double d;
  const double *f; /* the values of an F64 array */
  char s[160];
} physics_value;

#define NPHYSICS 64

static physics_value *pv_add(physics_value *v, int *n, const char *option, const char *name, int type)
{
  physics_value *x = &v[(*n)++];
  memset(x, 0, sizeof(*x));
  x->option = option;
  x->name = name;
  x->type = type;
  return x;
}

static void pv_int(physics_value *v, int *n, const char *option, const char *name, int64_t value)
{
  pv_add(v, n, option, name, PV_I64)->i[0] = value;
}

static void pv_real(physics_value *v, int *n, const char *option, const char *name, double value)
{
  pv_add(v, n, option, name, PV_F64)->d = value;
}

static void pv_reals(physics_value *v, int *n, const char *option, const char *name, const double *a, int count)
{
  physics_value *x = pv_add(v, n, option, name, PV_F64);
  x->f = a;
  x->n = count;
}

static void pv_str(physics_value *v, int *n, const char *option, const char *name, const char *s)
{
  snprintf(pv_add(v, n, option, name, PV_STR)->s, sizeof(v->s), "%s", s);
}

static const double *pv_doubles(const physics_value *x)
{
  return x->n ? x->f : &x->d;
}

/* Every option that changes what the run computes or writes.  Options that
 * do not (process grid, ranks per replica, output names, progress, quiet,
 * checkpoint options) may differ on restart. */
static int physics(const ising_params *p, physics_value *v)
{
  int n = 0;
  char buf[160];
  task_list(p->tasks, buf, sizeof(buf));
  pv_str(v, &n, "-task", "task", buf);
  physics_value *L = pv_add(v, &n, "-lattice_size", "lattice_size", PV_I64);
  L->n = p->dim;
  buf[0] = '\0';
  for (int d = 0; d < p->dim; d++) {
    L->i[d] = p->L[d];
    strcat(buf, d ? "," : "");
    strcat(buf, p->periodic[d] ? "periodic" : "open");
  }
  pv_str(v, &n, "-lattice_bc", "lattice_bc", buf);
  pv_str(v, &n, "-couplings", "couplings", ising_couplings_name(p->couplings));
  if (p->couplings != ISING_COUPLINGS_GAUSSIAN) pv_reals(v, &n, "-J", "J", p->J, p->dim);
  if (p->couplings == ISING_COUPLINGS_PM) pv_real(v, &n, "-pm_p", "pm_p", p->pm_p);
  if (p->couplings == ISING_COUPLINGS_GAUSSIAN) {
    pv_real(v, &n, "-gaussian_mean", "gaussian_mean", p->gaussian_mean);
    pv_real(v, &n, "-gaussian_sigma", "gaussian_sigma", p->gaussian_sigma);
  }
  pv_real(v, &n, "-field", "field", p->field);
  pv_real(v, &n, "-field_sigma", "field_sigma", p->field_sigma);
  pv_add(v, &n, "-seed", "seed", PV_U64)->u = p->seed;
  pv_add(v, &n, "-disorder_seed", "disorder_seed", PV_U64)->u = p->disorder_seed;
  pv_reals(v, &n, "-beta/-beta_list/-beta_min/-beta_max/-n_temps (the temperatures)", "beta", p->beta, p->nbeta);
  pv_int(v, &n, "-exact", "exact", p->exact);
  if (p->tasks & (ISING_TASK_MC | ISING_TASK_TEMPERING | ISING_TASK_ANNEAL))
    pv_str(v, &n, "-algorithm", "algorithm", ising_algorithm_name(p->algorithm));
  if (p->tasks & (ISING_TASK_MC | ISING_TASK_TEMPERING)) {
    pv_int(v, &n, "-sweeps", "sweeps", p->sweeps);
    pv_int(v, &n, "-thermalize", "thermalize", p->thermalize);
    pv_int(v, &n, "-measure_interval", "measure_interval", p->measure_interval);
    pv_int(v, &n, "-snapshot_interval", "snapshot_interval", p->snapshot_interval);
    pv_str(v, &n, "-start", "start", p->hot_start ? "hot" : "cold");
  }
  if (p->tasks & ISING_TASK_TEMPERING) {
    pv_int(v, &n, "-pt_swap_interval", "pt_swap_interval", p->pt_swap_interval);
    pv_int(v, &n, "-pt_adapt_sweeps", "pt_adapt_sweeps", p->pt_adapt_sweeps);
    pv_str(v, &n, "-pt_adapt_method", "pt_adapt_method",
           p->pt_adapt_method == ISING_PT_ADAPT_FEEDBACK ? "feedback" : "equal_acceptance");
    pv_int(v, &n, "-pt_replica_sets", "pt_replica_sets", p->pt_replica_sets);
    pv_int(v, &n, "-disorder_samples", "disorder_samples", p->disorder_samples);
  }
  if (p->tasks & ISING_TASK_ANNEAL) {
    pv_str(v, &n, "-anneal_schedule", "anneal_schedule", p->anneal_geometric ? "geometric" : "linear");
    pv_real(v, &n, "-anneal_beta_start", "anneal_beta_start", p->anneal_beta_start);
    pv_real(v, &n, "-anneal_beta_end", "anneal_beta_end", p->anneal_beta_end);
    pv_int(v, &n, "-anneal_steps", "anneal_steps", p->anneal_steps);
    pv_int(v, &n, "-anneal_sweeps_per_step", "anneal_sweeps_per_step", p->anneal_sweeps_per_step);
    pv_int(v, &n, "-anneal_restarts", "anneal_restarts", p->anneal_restarts);
  }
  if (p->tasks & ISING_TASK_QUENCH) {
    pv_real(v, &n, "-quench_beta", "quench_beta", p->quench_beta);
    pv_int(v, &n, "-quench_sweeps", "quench_sweeps", p->quench_sweeps);
    pv_int(v, &n, "-quench_histories", "quench_histories", p->quench_histories);
    pv_int(v, &n, "-quench_snapshots", "quench_snapshots", p->quench_snapshots);
    pv_int(v, &n, "-quench_structure_factor", "quench_structure_factor", p->quench_structure_factor);
  }
  if (p->tasks & ISING_TASK_FREEENERGY) {
    pv_int(v, &n, "-ais_chains", "ais_chains", p->ais_chains);
    pv_int(v, &n, "-ais_steps", "ais_steps", p->ais_steps);
    pv_int(v, &n, "-ais_sweeps_per_step", "ais_sweeps_per_step", p->ais_sweeps_per_step);
    pv_str(v, &n, "-ais_start", "ais_start", p->ais_start == ISING_AIS_MEANFIELD ? "meanfield" : "uniform");
  }
  if (p->tasks & (ISING_TASK_MC | ISING_TASK_TEMPERING))
    pv_int(v, &n, "-reweight_points", "reweight_points", p->reweight_points);
  if ((p->tasks & ISING_TASK_MEANFIELD) ||
      ((p->tasks & ISING_TASK_FREEENERGY) && p->ais_start == ISING_AIS_MEANFIELD)) {
    pv_str(v, &n, "-mf_solver", "mf_solver", p->mf_solver == ISING_MF_SNES ? "snes" : "sweeps");
    buf[0] = '\0';
    for (int k = 0; k < ISING_MF_NINIT; k++)
      if (p->mf_init & (1u << k)) {
        strcat(buf, buf[0] ? "," : "");
        strcat(buf, ising_mf_init_name(k));
      }
    pv_str(v, &n, "-mf_init", "mf_init", buf);
    pv_real(v, &n, "-mf_damping", "mf_damping", p->mf_damping);
    pv_real(v, &n, "-mf_tol", "mf_tol", p->mf_tol);
    pv_int(v, &n, "-mf_max_iter", "mf_max_iter", p->mf_max_iter);
  }
  return n;
}

static int write_physics(ising_io *io, const ising_params *p)
{
  physics_value v[NPHYSICS];
  int n = physics(p, v), rc = ising_io_group(io, "/params");
  for (int k = 0; k < n && !rc; k++) {
    const physics_value *x = &v[k];
    switch (x->type) {
    case PV_I64: rc = ising_io_attr_int64(io, "/params", x->name, x->i, x->n); break;
    case PV_U64: rc = ising_io_attr_uint64(io, "/params", x->name, &x->u, 0); break;
    case PV_F64: rc = ising_io_attr_double(io, "/params", x->name, pv_doubles(x), x->n); break;
    default: rc = ising_io_attr_string(io, "/params", x->name, x->s); break;
    }
  }
  return rc;
}

static void format_value(const physics_value *x, const double *f, char *out, size_t len)
{
  out[0] = '\0';
  if (x->type == PV_STR) {
    snprintf(out, len, "%s", x->s);
    return;
  }
  if (x->type == PV_U64) {
    snprintf(out, len, "%llu", (unsigned long long)x->u);
    return;
  }
  int count = x->n ? x->n : 1;
  for (int k = 0; k < count && strlen(out) + 32 < len; k++) {
    char one[40];
    if (k == 8) {
      snprintf(one, sizeof(one), ",... (%d values)", count);
      strcat(out, one);
      break;
    }
    if (x->type == PV_I64)
      snprintf(one, sizeof(one), "%s%lld", k ? "," : "", (long long)x->i[k]);
    else
      snprintf(one, sizeof(one), "%s%.17g", k ? "," : "", f[k]);
    strcat(out, one);
  }
}

/* Compares the run's physics options with /params of the checkpoint; on a
 * difference writes a message naming the option. */
static int compare_physics(ising_io *in, const ising_params *p, const char *file, char *msg, size_t len)
{
  physics_value v[NPHYSICS];
  int n = physics(p, v);
  for (int k = 0; k < n; k++) {
    const physics_value *x = &v[k];
    physics_value there = *x;
    double *f = NULL;
    int same = 0, found = 0;
    if (x->type == PV_STR) {
      found = !ising_io_read_attr_string(in, "/params", x->name, there.s, sizeof(there.s));
      same = found && !strcmp(there.s, x->s);
    } else {
      hid_t type = x->type == PV_I64 ? H5T_NATIVE_INT64 : x->type == PV_U64 ? H5T_NATIVE_UINT64 : H5T_NATIVE_DOUBLE;
      int count = ising_io_attr_length(in, "/params", x->name, type);
      found = count >= 0 && count <= (x->type == PV_I64 ? ISING_MAX_DIM : x->type == PV_U64 ? 0 : 1024);
      if (found) {
        there.n = count;
        f = malloc(sizeof(double) * (size_t)(count ? count : 1));
        if (!f) return snprintf(msg, len, "out of memory"), -1;
        void *dst = x->type == PV_I64 ? (void *)there.i : x->type == PV_U64 ? (void *)&there.u : (void *)f;
        found = !ising_io_read_attr(in, "/params", x->name, type, dst, count);
      }
      if (found && x->type == PV_F64) {
        there.f = f;
        there.d = f[0];
      }
      same = found && there.n == x->n;
      for (int j = 0; same && j < (x->n ? x->n : 1); j++) {
        if (x->type == PV_I64) same = there.i[j] == x->i[j];
        if (x->type == PV_U64) same = there.u == x->u;
        if (x->type == PV_F64) same = pv_doubles(&there)[j] == pv_doubles(x)[j];
      }
    }
    if (!same) {
      char a[400] = "(missing)", b[400];
      if (found) format_value(&there, pv_doubles(&there), a, sizeof(a));
      format_value(x, pv_doubles(x), b, sizeof(b));
      snprintf(msg, len,
               "option -restart: checkpoint '%s' belongs to a run with other physics options: %s is %s there but %s "
               "here; restart with that run's options",
               file, x->option, a, b);
      free(f);
      return -1;
    }
    free(f);
  }
  return 0;
}

/* ---- the layout of the engine state, checked on restart ---- */

typedef struct {
  char path[48];
  hid_t type;
  int rank;
  int64_t dims[ISING_IO_MAX_RANK];
  int upto; /* 1 + the axis whose length may be anything in [1, dims[axis]] (time series so far); 0: none */
} schema_entry;

#define NSCHEMA 32

static void schema_add(schema_entry *e, int *n, const char *path, hid_t type, int rank, int64_t d0, int64_t d1,
                       int64_t d2)
{
  schema_entry *x = &e[(*n)++];
  snprintf(x->path, sizeof(x->path), "%s", path);
  x->type = type;
  x->rank = rank;
  x->dims[0] = d0;
  x->dims[1] = d1;
  x->dims[2] = d2;
  x->upto = 0;
}

/* A time series so far: as schema_add, axis upto - 1 of any length in [1, its dims]. */
static void schema_series(schema_entry *e, int *n, const char *path, int rank, int64_t d0, int64_t d1, int upto)
{
  schema_add(e, n, path, H5T_NATIVE_DOUBLE, rank, d0, d1, 0);
  e[*n - 1].upto = upto;
}

static void schema_field(schema_entry *e, int *n, const char *path, const ising_params *p, int64_t nlead)
{
  schema_entry *x = &e[(*n)++];
  snprintf(x->path, sizeof(x->path), "%s", path);
  x->type = H5T_NATIVE_INT8;
  x->rank = 0;
  x->upto = 0;
  if (nlead) x->dims[x->rank++] = nlead;
  for (int d = p->dim - 1; d >= 0; d--) x->dims[x->rank++] = p->L[d];
}

/* The datasets of task's state for the run p. */
static int schema(const ising_params *p, unsigned task, schema_entry *e)
{
  const hid_t I64 = H5T_NATIVE_INT64, F64 = H5T_NATIVE_DOUBLE;
  const int64_t nmeas = p->sweeps / p->measure_interval, K = p->nbeta, M = K * p->pt_replica_sets;
  int n = 0;
  if (task == ISING_TASK_MC) {
    schema_add(e, &n, "/mc/counters", I64, 1, 3, 0, 0);
    schema_field(e, &n, "/mc/spins", p, 0);
    schema_series(e, &n, "/mc/energy", 1, nmeas, 0, 1);
    schema_series(e, &n, "/mc/magnetization", 1, nmeas, 0, 1);
  } else if (task == ISING_TASK_TEMPERING) {
    static const char *const per_slot[] = {"attempts",     "accepts", "up",        "down",   "tune_attempts",
                                           "tune_accepts", "tune_up", "tune_down", "changed"};
    static const char *const per_replica[] = {"replica_at", "direction", "trips"};
    char path[48];
    schema_add(e, &n, "/tempering/counters", I64, 1, 2, 0, 0);
    schema_add(e, &n, "/tempering/beta", F64, 1, K, 0, 0);
    schema_add(e, &n, "/tempering/beta_initial", F64, 1, K, 0, 0);
    for (size_t k = 0; k < sizeof(per_slot) / sizeof(*per_slot); k++) {
      snprintf(path, sizeof(path), "/tempering/%s", per_slot[k]);
      schema_add(e, &n, path, I64, 1, K, 0, 0);
    }
    for (size_t k = 0; k < sizeof(per_replica) / sizeof(*per_replica); k++) {
      snprintf(path, sizeof(path), "/tempering/%s", per_replica[k]);
      schema_add(e, &n, path, I64, 1, M, 0, 0);
    }
    schema_series(e, &n, "/tempering/energy", 2, K, nmeas, 2);
    schema_series(e, &n, "/tempering/magnetization", 2, K, nmeas, 2);
    schema_series(e, &n, "/tempering/labels", 2, nmeas, K, 1);
    if (p->pt_replica_sets == 2) schema_series(e, &n, "/tempering/q", 2, K, nmeas, 2);
    if (p->disorder_samples > 1) schema_add(e, &n, "/tempering/sample_results", F64, 3, p->disorder_samples, 7, K);
    schema_field(e, &n, "/tempering/spins", p, M);
  } else if (task == ISING_TASK_ANNEAL) {
    schema_add(e, &n, "/anneal/counters", I64, 1, 3, 0, 0);
    schema_field(e, &n, "/anneal/spins", p, 0);
    schema_field(e, &n, "/anneal/best_spins", p, 0);
    schema_add(e, &n, "/anneal/energies", F64, 1, p->anneal_restarts, 0, 0);
  }
  return n;
}

static void format_shape(const char *type, int rank, const int64_t *dims, char *out, size_t len)
{
  snprintf(out, len, "%s [", type);
  for (int k = 0; k < rank; k++) {
    char one[32];
    snprintf(one, sizeof(one), "%s%lld", k ? ", " : "", (long long)dims[k]);
    strncat(out, one, len - strlen(out) - 1);
  }
  strncat(out, "]", len - strlen(out) - 1);
}

static const char *type_name(hid_t t)
{
  if (t == H5T_NATIVE_INT8) return "int8";
  if (t == H5T_NATIVE_UINT8) return "uint8";
  if (t == H5T_NATIVE_INT64) return "int64";
  return "float64";
}

/* Recomputes a dataset's checksum by reading it in slabs of whole rows. */
static int verify_checksum(ising_io *in, const char *path, hid_t type, int rank, const int64_t *dims)
{
  uint64_t stored, sum = 0;
  if (ising_io_read_attr(in, path, "checksum", H5T_NATIVE_UINT64, &stored, 0)) return -1;
  const size_t size = H5Tget_size(type);
  int64_t row = 1;
  for (int k = 1; k < rank; k++) row *= dims[k];
  int64_t rows = (INT64_C(1) << 23) / (row * (int64_t)size);
  if (rows < 1) rows = 1;
  void *buf = malloc((size_t)(rows * row) * size);
  if (!buf) return -1;
  int rc = 0;
  for (int64_t r0 = 0; r0 < dims[0] && !rc; r0 += rows) {
    int64_t start[ISING_IO_MAX_RANK] = {r0}, count[ISING_IO_MAX_RANK];
    for (int k = 1; k < rank; k++) count[k] = dims[k];
    count[0] = dims[0] - r0 < rows ? dims[0] - r0 : rows;
    rc = ising_io_read_part(in, path, type, start, count, buf, 1);
    if (!rc) sum += cs_array(size, buf, r0 * row, count[0] * row);
  }
  free(buf);
  return rc || sum != stored ? -1 : 0;
}

static int check_dataset(ising_io *in, const schema_entry *e, int any_length, const char *file, char *msg, size_t len)
{
  int rank;
  int64_t dims[ISING_IO_MAX_RANK];
  char want[128], have[128];
  format_shape(type_name(e->type), e->rank, e->dims, want, sizeof(want));
  if (any_length) snprintf(want, sizeof(want), "%s [n]", type_name(e->type));
  if (e->upto) { /* e.g. float64 [3, 1..4000] */
    snprintf(want, sizeof(want), "%s [", type_name(e->type));
    for (int k = 0; k < e->rank; k++) {
      char one[48];
      if (k == e->upto - 1)
        snprintf(one, sizeof(one), "%s1..%lld", k ? ", " : "", (long long)e->dims[k]);
      else
        snprintf(one, sizeof(one), "%s%lld", k ? ", " : "", (long long)e->dims[k]);
      strncat(want, one, sizeof(want) - strlen(want) - 1);
    }
    strncat(want, "]", sizeof(want) - strlen(want) - 1);
  }
  if (ising_io_shape(in, e->path, e->type, &rank, dims)) {
    snprintf(msg, len, "option -restart: checkpoint '%s' is damaged: %s is missing or not of type %s", file, e->path,
             want);
    return -1;
  }
  int same = rank == e->rank;
  for (int k = 0; k < rank && same; k++)
    same =
        any_length || k == e->upto - 1 ? dims[k] > 0 && (any_length || dims[k] <= e->dims[k]) : dims[k] == e->dims[k];
  if (!same) {
    format_shape(type_name(e->type), rank, dims, have, sizeof(have));
    snprintf(msg, len, "option -restart: checkpoint '%s' is damaged: %s is %s, expected %s", file, e->path, have, want);
    return -1;
  }
  if (verify_checksum(in, e->path, e->type, rank, dims)) {
    snprintf(msg, len, "option -restart: checkpoint '%s' is damaged: the contents of %s do not match its checksum",
             file, e->path);
    return -1;
  }
  return 0;
}

/* Rank 0 alone: everything a restart needs to trust in the file. */
static int validate(const ising_params *p, ising_checkpoint *ck, char *msg, size_t len)
{
  const char *file = ck->restart;
  ising_io in;
  if (ising_io_open(MPI_COMM_SELF, file, 0, &in)) {
    snprintf(msg, len, "option -restart: cannot open checkpoint '%s' (missing, unreadable, truncated, or not HDF5)",
             file);
    return -1;
  }
  ising_io_quiet(&in, 1);
  char content[32] = "", program[32] = "", task[32] = "", done_list[256] = "";
  int64_t version = -1, restarts = -1;
  int rc = -1;
  if (ising_io_read_attr_string(&in, "/", "content", content, sizeof(content)) ||
      ising_io_read_attr_string(&in, "/", "program", program, sizeof(program)) || strcmp(content, "checkpoint") ||
      strcmp(program, "ising")) {
    snprintf(msg, len, "option -restart: '%s' is not a checkpoint of this program", file);
    goto done;
  }
  if (ising_io_read_attr(&in, "/", "format_version", H5T_NATIVE_INT64, &version, 0) ||
      version < ISING_CHECKPOINT_FORMAT_OLDEST || version > ISING_CHECKPOINT_FORMAT) {
    snprintf(msg, len,
             "option -restart: checkpoint '%s' has format version %lld; this program reads versions %d to %d%s", file,
             (long long)version, ISING_CHECKPOINT_FORMAT_OLDEST, ISING_CHECKPOINT_FORMAT,
             version == 1 ? " (version 1 was written by a program that drew other update random numbers, so this "
                            "one could not continue its run exactly; finish it with the program that wrote it)"
                          : "");
    goto done;
  }
  if (compare_physics(&in, p, file, msg, len)) goto done;
  long done_mask = -1;
  if (ising_io_read_attr_string(&in, "/", "task", task, sizeof(task)) ||
      ising_io_read_attr_string(&in, "/", "tasks_done", done_list, sizeof(done_list)) ||
      ising_io_read_attr_string(&in, "/", "run_id", ck->run_id, sizeof(ck->run_id)) ||
      ising_io_read_attr(&in, "/", "restarts", H5T_NATIVE_INT64, &restarts, 0) || restarts < 0 ||
      (done_mask = task_mask(done_list)) < 0 || task_mask(task) <= 0 || (unsigned long)task_mask(task) & ~p->tasks ||
      (unsigned long)done_mask & ~p->tasks) {
    snprintf(msg, len, "option -restart: checkpoint '%s' is damaged: its root attributes are missing or invalid", file);
    goto done;
  }
  ck->resume_task = (unsigned)task_mask(task);
  ck->tasks_done = (unsigned)done_mask;
  ck->restarts = restarts + 1;
  if (ck->resume_task != ISING_TASK_MC && ck->resume_task != ISING_TASK_TEMPERING &&
      ck->resume_task != ISING_TASK_ANNEAL) {
    snprintf(msg, len, "option -restart: checkpoint '%s' is damaged: task '%s' does not checkpoint", file, task);
    goto done;
  }
  schema_entry e[NSCHEMA];
  schema_entry blob = {"/output", H5T_NATIVE_UINT8, 1, {1}, 0};
  if (check_dataset(&in, &blob, 1, file, msg, len)) goto done;
  int n = schema(p, ck->resume_task, e);
  for (int k = 0; k < n; k++)
    if (check_dataset(&in, &e[k], 0, file, msg, len)) goto done;
  rc = 0;
done:
  ising_io_close(&in);
  return rc;
}

/* ---- set-up ---- */

static void make_run_id(char *out, size_t len)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char host[256] = "";
  gethostname(host, sizeof(host) - 1);
  uint64_t h = fmix((uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec);
  for (const char *c = host; *c; c++) h = fmix(h ^ (uint8_t)*c);
  uint64_t h2 = fmix(h ^ (uint64_t)getpid());
  snprintf(out, len, "%016llx%016llx", (unsigned long long)h, (unsigned long long)h2);
}

/* Rank 0: do two paths name the same existing file? */
static int same_file(const char *a, const char *b)
{
  struct stat sa, sb;
  if (!strcmp(a, b)) return 1;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Rank 0: can a file be created next to the checkpoint? */
/* 0 if tmp can be created (it is removed again), else the errno why not. */
static int cannot_create(const char *tmp)
{
  int fd = open(tmp, O_WRONLY | O_CREAT, 0644);
  if (fd < 0) return errno ? errno : EIO;
  close(fd);
  unlink(tmp);
  return 0;
}

int ising_checkpoint_setup(const ising_params *p, MPI_Comm comm, ising_checkpoint *ck)
{
  memset(ck, 0, sizeof(*ck));
  ck->comm = comm;
  MPI_Comm_rank(comm, &ck->rank);
  ck->quiet = p->quiet;
  ck->interval = p->checkpoint_interval;
  ck->countdown = ck->cadence = 1;
  snprintf(ck->path, sizeof(ck->path), "%s", p->checkpoint_file);
  snprintf(ck->tmp, sizeof(ck->tmp), "%s.tmp", p->checkpoint_file);
  snprintf(ck->restart, sizeof(ck->restart), "%s", p->restart);
  ck->p0 = *p;
  ck->p0.options_text = ck->p0.command_line = NULL;
  ck->p0.beta = malloc(sizeof(double) * (size_t)p->nbeta);
  if (ising_check(comm, !ck->p0.beta, "out of memory")) return ISING_EXIT_RUNTIME;
  memcpy(ck->p0.beta, p->beta, sizeof(double) * (size_t)p->nbeta);

  char msg[3 * ISING_PATH_MAX] = "";
  int bad = 0;
  if (ck->rank == 0) {
    if (ck->restart[0]) {
      bad = validate(p, ck, msg, sizeof(msg)) != 0;
    } else {
      make_run_id(ck->run_id, sizeof(ck->run_id));
    }
    if (!bad && access(ck->path, F_OK) == 0 && !(ck->restart[0] && same_file(ck->path, ck->restart)) && !p->overwrite) {
      bad = 1;
      snprintf(msg, sizeof(msg),
               "option -checkpoint_file: '%s' exists (the checkpoint of an unfinished run?); continue that run with "
               "-restart %s, remove the file, or pass -overwrite",
               ck->path, ck->path);
    }
    int err = bad ? 0 : cannot_create(ck->tmp);
    if (err) {
      /* Next to the output (the default), the output's own problem. */
      const char *a = strrchr(ck->path, '/'), *b = strrchr(p->output, '/');
      size_t la = a ? (size_t)(a - ck->path) : 0, lb = b ? (size_t)(b - p->output) : 0;
      bad = 1;
      if (la == lb && !strncmp(ck->path, p->output, la))
        snprintf(msg, sizeof(msg), "option -output: cannot create '%s' (%s)", p->output, strerror(err));
      else
        snprintf(msg, sizeof(msg), "option -checkpoint_file: cannot create '%s' (%s)", ck->tmp, strerror(err));
    }
  }
  if (ising_check(comm, bad, "%s", msg)) return ISING_EXIT_INPUT;
  int64_t info[3] = {ck->restarts, ck->tasks_done, ck->resume_task};
  MPI_Bcast(info, 3, MPI_INT64_T, 0, comm);
  MPI_Bcast(ck->run_id, sizeof(ck->run_id), MPI_CHAR, 0, comm);
  ck->restarts = info[0];
  ck->tasks_done = (unsigned)info[1];
  ck->resume_task = (unsigned)info[2];
  return 0;
}

void ising_checkpoint_free(ising_checkpoint *ck)
{
  free(ck->p0.beta);
  ck->p0.beta = NULL;
}

/* ---- the output file's bytes, in and out of /output ---- */

#define COPY_CHUNK (INT64_C(1) << 24)

/* Copies n bytes from the file at path into /output of cio (to_checkpoint)
 * or back.  Each rank moves whole chunks, all ranks take the same number of
 * collective rounds.  *checksum receives the checksum of the bytes written
 * into /output. */
static int copy_output(ising_checkpoint *ck, ising_io *cio, const char *path, int64_t n, int to_checkpoint,
                       uint64_t *checksum)
{
  int size, bad = 0;
  MPI_Comm_size(ck->comm, &size);
  MPI_File fh;
  int amode = to_checkpoint ? MPI_MODE_RDONLY : MPI_MODE_WRONLY | MPI_MODE_CREATE;
  if (MPI_File_open(ck->comm, path, amode, MPI_INFO_NULL, &fh) != MPI_SUCCESS) return -1;
  if (!to_checkpoint) bad = MPI_File_set_size(fh, n) != MPI_SUCCESS;
  char *buf = malloc((size_t)COPY_CHUNK);
  bad |= !buf;
  int any;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, ck->comm);
  uint64_t part = 0;
  for (int64_t base = 0; base < n && !any; base += size * COPY_CHUNK) {
    int64_t start = base + ck->rank * COPY_CHUNK, count = n - start;
    if (count < 0) count = 0;
    if (count > COPY_CHUNK) count = COPY_CHUNK;
    if (to_checkpoint) {
      bad = MPI_File_read_at_all(fh, start, buf, (int)count, MPI_BYTE, MPI_STATUS_IGNORE) != MPI_SUCCESS;
      part += cs_array(1, buf, start, count);
      bad |= ising_io_write_part(cio, "/output", H5T_NATIVE_UINT8, &start, &count, buf, count > 0) != 0;
    } else {
      bad = ising_io_read_part(cio, "/output", H5T_NATIVE_UINT8, &start, &count, buf, count > 0) != 0;
      bad |= MPI_File_write_at_all(fh, start, buf, (int)count, MPI_BYTE, MPI_STATUS_IGNORE) != MPI_SUCCESS;
    }
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, ck->comm);
  }
  free(buf);
  MPI_File_close(&fh);
  MPI_Allreduce(&part, checksum, 1, MPI_UINT64_T, MPI_SUM, ck->comm);
  return any ? -1 : 0;
}

int ising_checkpoint_restore_output(ising_checkpoint *ck, ising_io *io)
{
  const char *output = ck->p0.output;
  char why[160] = "";
  /* The output's lock first, as for a fresh run: nothing below may touch a
   * file that another run is writing. */
  int rc = ising_io_lock(ck->comm, output, io);
  if (rc) return rc;
  if (ck->rank == 0 && access(output, F_OK) == 0 && !ck->p0.overwrite) {
    ising_io old;
    char run_id[64] = "", status[32] = "";
    if (ising_io_open(MPI_COMM_SELF, output, 0, &old)) {
      snprintf(why, sizeof(why), "is not a readable HDF5 file");
    } else {
      ising_io_read_attr_string(&old, "/", "run_id", run_id, sizeof(run_id));
      ising_io_read_attr_string(&old, "/", "status", status, sizeof(status));
      ising_io_close(&old);
      if (strcmp(run_id, ck->run_id))
        snprintf(why, sizeof(why), "is not the output of the run in the checkpoint (other run_id)");
      else if (strcmp(status, "running") && strcmp(status, "interrupted"))
        snprintf(why, sizeof(why), "holds results of this run with status '%s'", status);
    }
  }
  if (ising_check(ck->comm, why[0] != 0,
                  "option -output: '%s' exists and %s; choose another -output, or pass -overwrite to replace it",
                  output, why)) {
    ising_io_unlock(io);
    return ISING_EXIT_INPUT;
  }

  /* The copy goes to <output>.restore and is renamed onto the output once
   * complete (under the output's lock): a run killed during the copy (kill
   * -9, a node failure) leaves the output as it was, never half copied and
   * unreadable, so the next restart can still replace it. */
  ising_io in;
  int rank;
  int64_t dims[ISING_IO_MAX_RANK];
  uint64_t ignored;
  char tmp[ISING_PATH_MAX + 16];
  snprintf(tmp, sizeof(tmp), "%s.restore", output);
  int bad = ising_io_open(ck->comm, ck->restart, 0, &in) != 0;
  if (!bad) {
    ising_io_quiet(&in, 1);
    bad = ising_io_shape(&in, "/output", H5T_NATIVE_UINT8, &rank, dims) ||
          copy_output(ck, &in, tmp, dims[0], 0, &ignored);
    ising_io_close(&in);
  }
  int renamed = ck->rank == 0 && !bad && rename(tmp, output) == 0, all;
  MPI_Allreduce(&renamed, &all, 1, MPI_INT, MPI_MAX, ck->comm);
  if (!all && ck->rank == 0) unlink(tmp);
  bad = !all;
  if (ising_check(ck->comm, bad, "option -restart: cannot restore the output file '%s' from checkpoint '%s'", output,
                  ck->restart)) {
    ising_io_unlock(io);
    return ISING_EXIT_RUNTIME;
  }
  if (ising_io_open_locked(io)) {
    ising_check(ck->comm, 1, "cannot open the restored output file '%s'", output);
    ising_io_unlock(io);
    return ISING_EXIT_RUNTIME;
  }
  ising_io_keep_existing(io, 1);
  return 0;
}

/* ---- during the run ---- */

int ising_checkpoint_poll(ising_checkpoint *ck)
{
  if (!ck || --ck->countdown > 0) return ISING_CHECKPOINT_NONE;
  int in[2] = {caught_signal ? ISING_CHECKPOINT_STOP : ISING_CHECKPOINT_NONE, 0}, out[2];
  if (ck->rank == 0) {
    double now = MPI_Wtime();
    if (in[0] == ISING_CHECKPOINT_NONE && ck->interval > 0 && now - ck->last_write >= ck->interval)
      in[0] = ISING_CHECKPOINT_WRITE;
    /* The next agreed poll after about POLL_SECONDS at the recent pace, the
     * gap at most doubling each time. */
    double per_call = (now - ck->last_poll) / ck->cadence, want = 2.0 * ck->cadence;
    if (per_call > 0 && ISING_CHECKPOINT_POLL_SECONDS / per_call < want)
      want = ISING_CHECKPOINT_POLL_SECONDS / per_call;
    in[1] = want < 1 ? 1 : want > (1 << 20) ? (1 << 20) : (int)want;
    ck->last_poll = now;
  }
  MPI_Allreduce(in, out, 2, MPI_INT, MPI_MAX, ck->comm);
  ck->countdown = ck->cadence = out[1];
  return out[0];
}

int ising_checkpoint_begin(ising_checkpoint *ck, ising_io *out, unsigned task, ising_io *cio)
{
  memset(cio, 0, sizeof(*cio));
  cio->file = H5I_INVALID_HID;
  cio->lock_fd = -1;
  ck->t_begin = MPI_Wtime();
  ck->task = task;
  if (ising_io_flush(out)) return -1;
  /* After the flush (an MPI_File_sync) the file on disk is complete: HDF5
   * has extended it to its allocated end. */
  int64_t size = 0;
  struct stat st;
  if (ck->rank == 0 && stat(out->path, &st) == 0) size = (int64_t)st.st_size;
  MPI_Bcast(&size, 1, MPI_INT64_T, 0, ck->comm);
  if (size <= 0 || ising_io_replace(ck->comm, ck->tmp, cio)) return -1;

  char now[64], done[256];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
  task_list(ck->tasks_done, done, sizeof(done));
  int64_t version = ISING_CHECKPOINT_FORMAT, nranks;
  int np;
  MPI_Comm_size(ck->comm, &np);
  nranks = np;
  uint64_t checksum = 0;
  int rc =
      ising_io_attr_string(cio, "/", "program", "ising") || ising_io_attr_string(cio, "/", "version", ISING_VERSION) ||
      ising_io_attr_string(cio, "/", "content", "checkpoint") ||
      ising_io_attr_int64(cio, "/", "format_version", &version, 0) ||
      ising_io_attr_string(cio, "/", "run_id", ck->run_id) || ising_io_attr_string(cio, "/", "task", task_name(task)) ||
      ising_io_attr_string(cio, "/", "tasks_done", done) ||
      ising_io_attr_int64(cio, "/", "restarts", &ck->restarts, 0) ||
      ising_io_attr_int64(cio, "/", "nranks", &nranks, 0) || ising_io_attr_string(cio, "/", "written", now) ||
      ising_io_attr_string(cio, "/", "output", out->path) || write_physics(cio, &ck->p0) ||
      ising_io_dataset(cio, "/output", H5T_NATIVE_UINT8, 1, &size) ||
      copy_output(ck, cio, out->path, size, 1, &checksum) ||
      ising_io_attr_uint64(cio, "/output", "checksum", &checksum, 0);
  return rc ? -1 : 0;
}

/* fsync of a file or directory by path. */
static int sync_path(const char *path, int directory)
{
  int fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

int ising_checkpoint_end(ising_checkpoint *ck, ising_io *cio, int failed)
{
  if (!failed) failed = ising_io_flush(cio) != 0; /* MPI_File_sync: every rank's data on disk */
  if (cio->file >= 0 && ising_io_close(cio)) failed = 1;
  int err = 0;
  if (ck->rank == 0 && !failed) {
    char dir[ISING_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", ck->path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
      dir[1] = '\0';
    else if (slash)
      *slash = '\0';
    else
      snprintf(dir, sizeof(dir), ".");
    if (sync_path(ck->tmp, 0) || rename(ck->tmp, ck->path) || sync_path(dir, 1)) {
      err = errno;
      failed = 1;
    }
  }
  if (ck->rank == 0 && failed) remove(ck->tmp);
  MPI_Bcast(&failed, 1, MPI_INT, 0, ck->comm);
  if (ising_check(ck->comm, failed,
                  "writing checkpoint '%s' failed%s%s (full disk, quota, or no write permission?); the previous "
                  "checkpoint, if any, is intact",
                  ck->path, err ? ": " : "", err ? strerror(err) : ""))
    return -1;
  ck->written++;
  if (ck->rank == 0) {
    ck->last_write = ck->last_poll = MPI_Wtime();
    if (!ck->quiet) {
      printf("checkpoint: wrote %s (%s, %.3f s)\n", ck->path, task_name(ck->task), ck->last_write - ck->t_begin);
      fflush(stdout);
    }
  }
  return 0;
}

int ising_checkpoint_resume(ising_checkpoint *ck, unsigned task, ising_io *cio)
{
  if (!ck || !ck->restart[0] || ck->resumed || ck->resume_task != task) return 0;
  ck->resumed = 1;
  if (ising_io_open(ck->comm, ck->restart, 0, cio)) {
    ising_check(ck->comm, 1, "option -restart: cannot open checkpoint '%s'", ck->restart);
    return -1;
  }
  ising_io_quiet(cio, 1);
  return 1;
}

int ising_checkpoint_check(const ising_checkpoint *ck, int failed, const char *what)
{
  return ising_check(ck->comm, failed, "option -restart: checkpoint '%s' is inconsistent: %s", ck->restart, what);
}

/* ---- engine state ---- */

int ising_checkpoint_put(ising_io *cio, const char *path, hid_t type, int rank, const int64_t *dims, const void *data)
{
  int64_t n = 1, start[ISING_IO_MAX_RANK] = {0};
  for (int k = 0; k < rank; k++) n *= dims[k];
  uint64_t cs = cio->rank == 0 ? cs_array(H5Tget_size(type), data, 0, n) : 0;
  MPI_Bcast(&cs, 1, MPI_UINT64_T, 0, cio->comm);
  return ising_io_dataset(cio, path, type, rank, dims) ||
                 ising_io_write_part(cio, path, type, start, dims, data, cio->rank == 0) ||
                 ising_io_attr_uint64(cio, path, "checksum", &cs, 0)
             ? -1
             : 0;
}

/* what a rank that keeps no copy passes to a collective transfer that selects nothing */
static double dummy_value;

int ising_checkpoint_get(ising_io *cio, const char *path, hid_t type, int64_t n, void *data)
{
  int rank;
  int64_t dims[ISING_IO_MAX_RANK], total = 1, start[ISING_IO_MAX_RANK] = {0};
  if (ising_io_shape(cio, path, type, &rank, dims)) return -1;
  for (int k = 0; k < rank; k++) total *= dims[k];
  if (total != n) return -1;
  return ising_io_read_part(cio, path, type, start, dims, data ? data : &dummy_value, data != NULL);
}

/* Time series: rows rows of which the first n entries are kept, row k at data + k ld (rank 2: dataset
 * [rows, n]; rank 1: rows == 1, dataset [n]).  Written through a buffer of whole rows, SERIES_BYTES at a
 * time (rows of more go one by one, straight from data), so that the measurements not yet made are not
 * written at all. */
#define SERIES_BYTES (INT64_C(1) << 23)

static int64_t series_rows_per_block(int64_t n)
{
  int64_t r = SERIES_BYTES / (8 * (n > 0 ? n : 1));
  return r < 1 ? 1 : r;
}

int ising_checkpoint_put_series(ising_io *cio, const char *path, int rank, int64_t rows, int64_t ld, int64_t n,
                                const double *data)
{
  uint64_t cs = 0;
  if (cio->rank == 0)
    for (int64_t k = 0; k < rows; k++) cs += cs_array(8, data + k * ld, k * n, n);
  MPI_Bcast(&cs, 1, MPI_UINT64_T, 0, cio->comm);
  const int64_t dims[2] = {rank == 2 ? rows : n, n}, per = series_rows_per_block(n);
  int bad = ising_io_dataset(cio, path, H5T_NATIVE_DOUBLE, rank, dims) != 0;
  /* rows longer than the buffer go one at a time from data, and so do whole rows (n == ld: contiguous) */
  const int direct = per == 1 || n == ld;
  double *buf = NULL;
  if (!bad && cio->rank == 0 && rank == 2 && !direct) bad = !(buf = malloc(sizeof(double) * (size_t)(per * n)));
  MPI_Bcast(&bad, 1, MPI_INT, 0, cio->comm);
  const int mine = cio->rank == 0; /* the other ranks select nothing and may hold no series */
  if (!bad && rank == 1)
    bad = ising_io_write_part(cio, path, H5T_NATIVE_DOUBLE, (int64_t[]){0}, &n, mine ? data : &dummy_value, mine) != 0;
  for (int64_t r0 = 0; r0 < rows && !bad && rank == 2; r0 += per) { /* same calls on every rank */
    const int64_t nr = rows - r0 < per ? rows - r0 : per, start[2] = {r0, 0}, count[2] = {nr, n};
    for (int64_t k = 0; k < nr && buf; k++) memcpy(buf + k * n, data + (r0 + k) * ld, sizeof(double) * (size_t)n);
    bad = ising_io_write_part(cio, path, H5T_NATIVE_DOUBLE, start, count,
                              !mine    ? &dummy_value
                              : direct ? data + r0 * ld
                                       : buf,
                              mine) != 0;
  }
  free(buf);
  return bad || ising_io_attr_uint64(cio, path, "checksum", &cs, 0) ? -1 : 0;
}

int ising_checkpoint_get_series(ising_io *cio, const char *path, int rank, int64_t rows, int64_t ld, int64_t nmin,
                                double *data)
{
  int r;
  int64_t dims[ISING_IO_MAX_RANK];
  if (ising_io_shape(cio, path, H5T_NATIVE_DOUBLE, &r, dims) || r != rank || (rank == 2 && dims[0] != rows) ||
      (rank == 1 && rows != 1))
    return -1;
  const int64_t n = dims[rank - 1], per = series_rows_per_block(n);
  if (n < nmin || n < 1 || n > ld) return -1;
  const int mine = data != NULL; /* a rank without the series takes part and reads nothing */
  if (rank == 1)
    return ising_io_read_part(cio, path, H5T_NATIVE_DOUBLE, (int64_t[]){0}, &n, mine ? data : &dummy_value, mine);
  const int direct = per == 1 || n == ld || !mine; /* as in put_series */
  double *buf = direct ? NULL : malloc(sizeof(double) * (size_t)(per * n));
  int bad = !direct && !buf, any;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_LOR, cio->comm);
  for (int64_t r0 = 0; r0 < rows && !any; r0 += per) {
    const int64_t nr = rows - r0 < per ? rows - r0 : per, start[2] = {r0, 0}, count[2] = {nr, n};
    any = ising_io_read_part(cio, path, H5T_NATIVE_DOUBLE, start, count,
                             !mine    ? &dummy_value
                             : direct ? data + r0 * ld
                                      : buf,
                             mine) != 0;
    for (int64_t k = 0; k < nr && !any && buf; k++)
      memcpy(data + (r0 + k) * ld, buf + k * n, sizeof(double) * (size_t)n);
  }
  free(buf);
  return any ? -1 : 0;
}

static int8_t dummy_spin;

int ising_checkpoint_put_spins(ising_io *cio, const char *path, const ising_geometry *g, int64_t nlead,
                               int8_t *const *spins)
{
  if (ising_io_dataset_field(cio, path, nlead, g, H5T_NATIVE_INT8)) return -1;
  uint64_t part = 0, cs;
  for (int64_t j = 0; j < (nlead ? nlead : 1); j++) {
    const int8_t *s = spins[j];
    if (s) part += cs_field(g, s, j * g->nsites);
    if (ising_io_write_field_part(cio, path, j, g, H5T_NATIVE_INT8, s ? s : &dummy_spin, s != NULL)) return -1;
  }
  MPI_Allreduce(&part, &cs, 1, MPI_UINT64_T, MPI_SUM, cio->comm);
  return ising_io_attr_uint64(cio, path, "checksum", &cs, 0);
}

int ising_checkpoint_get_spins(ising_io *cio, const char *path, const ising_geometry *g, int64_t nlead,
                               int8_t *const *spins)
{
  int rank, bad = 0;
  int64_t dims[ISING_IO_MAX_RANK];
  if (ising_io_shape(cio, path, H5T_NATIVE_INT8, &rank, dims) || rank != g->dim + (nlead > 0) ||
      (nlead && dims[0] != nlead))
    return -1;
  for (int64_t j = 0; j < (nlead ? nlead : 1); j++) {
    int8_t *s = spins[j];
    if (ising_io_read_field_part(cio, path, j, g, H5T_NATIVE_INT8, s ? s : &dummy_spin, s != NULL)) return -1;
    int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
    for (int ez = zlo; s && ez < zlo + g->n[2]; ez++)
      for (int ey = ylo; ey < ylo + g->n[1]; ey++)
        for (int ex = 1; ex <= g->n[0]; ex++) {
          int8_t v = s[ising_geometry_index(g, ex, ey, ez)];
          bad |= v != 1 && v != -1;
        }
  }
  int any;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, cio->comm);
  return any ? -1 : 0;
}

/* ---- the end ---- */

void ising_checkpoint_finish(ising_checkpoint *ck)
{
  MPI_Barrier(ck->comm);
  if (ck->rank == 0) {
    if (ck->written > 0 || (ck->restart[0] && same_file(ck->restart, ck->path))) remove(ck->path);
    if (access(ck->tmp, F_OK) == 0) remove(ck->tmp);
  }
  MPI_Barrier(ck->comm);
}
