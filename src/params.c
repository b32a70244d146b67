/* params.c: the options database -> one validated parameter struct (params.h).
 *   ising_params_load   collective
 *   ising_params_help, ising_params_print, ising_params_free,
 *   ising_algorithm_name, ising_couplings_name   local
 *
 * Every option is declared once, in the table below, with its default and its
 * help line; -help prints the table and reads take their defaults from it, so
 * the two cannot disagree.  Values are read as strings and parsed strictly
 * here, so that a bad value gets a message naming the option (PETSc's own
 * typed getters would abort with a traceback). */
#include "ising/params.h"

#include "ising/error.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <petscsys.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
  const char *name;
  const char *def; /* NULL: no default (unset unless given) */
  const char *help;
} option_doc;

static const option_doc options[] = {
    {"-lattice_size", "64,64", "sites per axis, comma-separated; the number of entries (1, 2 or 3) sets the dimension"},
    {"-lattice_bc", "periodic", "boundary conditions: periodic or open, one for all axes or one per axis"},
    {"-couplings", "uniform", "bonds: uniform (J per axis), pm (+-J spin glass), gaussian (Edwards-Anderson)"},
    {"-J", "1.0", "coupling J_d (uniform, |J| <= 1e4) or bond magnitude (pm, 0 < J <= 1e4), one value or one per axis"},
    {"-pm_p", "0.5", "pm couplings: probability that a bond is antiferromagnetic (-J), in [0,1]"},
    {"-gaussian_mean", "0.0", "gaussian couplings: mean of J_ij, |mean| <= 1e3"},
    {"-gaussian_sigma", "1.0", "gaussian couplings: standard deviation of J_ij, in [0, 1e3]"},
    {"-field", "0.0", "uniform magnetic field h, |h| <= 1e3"},
    {"-field_sigma", "0.0", "random field: h_i = field + field_sigma * N(0,1), field_sigma in [0, 1e3]"},
    {"-seed", "1", "seed of the dynamics (initial state, Monte Carlo), integer in [0, 2^64)"},
    {"-disorder_seed", "1", "seed of the quenched disorder (couplings, fields), integer in [0, 2^64)"},
    {"-beta", "0.44", "inverse temperature, in [0, 1e6] (not together with -beta_list; 0 needs -algorithm heatbath)"},
    {"-beta_list", NULL,
     "comma-separated inverse temperatures, run one after another (tempering: at once), each in [0, 1e6]"},
    {"-beta_min", NULL, "with -beta_max and -n_temps: a geometric ladder of inverse temperatures, > 0"},
    {"-beta_max", NULL, "largest inverse temperature of the geometric ladder, > -beta_min"},
    {"-n_temps", NULL, "number of temperatures of the geometric ladder, in [2, 1024]"},
    {"-task", "mc",
     "what to run, a comma list of: mc (Monte Carlo sweeps at each beta), meanfield (variational bound), tempering "
     "(parallel tempering over all betas at once), anneal (simulated annealing for ground states), quench (coarsening "
     "after a quench from a random state), freeenergy (ln Z at each beta by annealed importance sampling)"},
    {"-ais_chains", "16", "freeenergy: independent annealed-importance-sampling chains, in [1, 65535]"},
    {"-ais_steps", "1000",
     "freeenergy: points of the uniform beta grid from 0 to the largest temperature (the run's temperatures are "
     "added), in [1, 2^30]"},
    {"-ais_sweeps_per_step", "1", "freeenergy: sweeps at each point of the schedule, in [1, 2^20]"},
    {"-ais_start", "uniform",
     "freeenergy: where the chains start, uniform (beta = 0, one chain through every temperature) or meanfield (at "
     "each temperature its mean-field distribution q, annealed to p by q^(1-g) p^g over -ais_steps points; the "
     "-mf_* options apply)"},
    {"-ais_ranks_per_chain", NULL,
     "freeenergy: MPI ranks that share (decompose) one AIS chain, a divisor of the rank count; the groups of ranks "
     "run different chains at once, with the same results (default: the fewest that leave no group without a chain "
     "and no rank with more than 2^24 sites; all ranks with -process_grid)"},
    {"-reweight_points", "200",
     "mc, tempering: points of the uniform beta grid over the run's range onto which MBAR reweights lnZ, <e> and c "
     "(0: none), in [0, 100000]"},
    {"-anneal_schedule", "geometric",
     "anneal: beta schedule from -anneal_beta_start to -anneal_beta_end, linear or geometric"},
    {"-anneal_beta_start", "0.1", "anneal: first inverse temperature, > 0"},
    {"-anneal_beta_end", "5.0", "anneal: last inverse temperature, > -anneal_beta_start and <= 1e6"},
    {"-anneal_steps", "100", "anneal: temperatures of the schedule, >= 2"},
    {"-anneal_sweeps_per_step", "10", "anneal: sweeps at each temperature of the schedule, >= 1"},
    {"-anneal_restarts", "16",
     "anneal: independent restarts from random states, in [1, 32000]; the best state is kept"},
    {"-quench_beta", "inf",
     "quench: inverse temperature after the quench, a real number in (0, 1e6] or inf (zero temperature: moves that "
     "lower the energy always, ties with probability 1/2)"},
    {"-quench_sweeps", "1000", "quench: sweeps after the quench, in [1, 2^32 - 1]"},
    {"-quench_times", NULL,
     "quench: comma-separated, strictly increasing sweep counts at which to measure, each in [0, -quench_sweeps] "
     "(-quench_sweeps is always added; default: 0 and -quench_per_decade log-spaced times per decade)"},
    {"-quench_per_decade", "10", "quench: log-spaced measurement times per decade of sweeps, in [1, 1000]"},
    {"-quench_histories", "8", "quench: independent histories (random start and dynamics), in [1, 65535]"},
    {"-quench_snapshots", "true", "quench: write history 0's spins at every measurement time"},
    {"-quench_structure_factor", "true",
     "quench: compute the circularly averaged structure factor S(k,t) and the domain length from its first moment "
     "(distributed FFT, 56 bytes per site)"},
    {"-ranks_per_replica", "1", "tempering: MPI ranks that share (decompose) one replica; must divide the rank count"},
    {"-replicas_per_rank", NULL,
     "tempering: replicas each replica group holds (default and only allowed value: temperatures / groups)"},
    {"-pt_adapt_sweeps", "0",
     "tempering: sweeps of ladder tuning before thermalisation (0: keep the ladder; needs the temperatures increasing "
     "without repeats); the tuned ladder is then frozen"},
    {"-pt_adapt_method", "equal_acceptance",
     "tempering: ladder tuning, equal_acceptance (iterated equal swap acceptance) or feedback (Katzgraber et al. "
     "2006)"},
    {"-disorder_samples", "1",
     "tempering: disorder samples run one after another (sample s: -disorder_seed + s, -seed + s), averaged"},
    {"-pt_replica_sets", "1", "tempering: independent replica sets, 1 or 2 (2: spin-glass overlaps q between them)"},
    {"-pt_swap_interval", "1",
     "tempering: sweeps between replica-exchange attempts (even and odd pairs alternate), >= 1"},
    {"-algorithm", "metropolis", "Monte Carlo update: metropolis or heatbath (checkerboard sweeps)"},
    {"-sweeps", "10000", "measured sweeps per temperature, >= 1"},
    {"-thermalize", "1000", "sweeps discarded before measuring, per temperature, >= 0"},
    {"-measure_interval", "1", "sweeps between measurements, >= 1"},
    {"-snapshot_interval", "0", "sweeps between spin snapshots in the output file (0: none)"},
    {"-start", "hot",
     "initial state: hot (random) or cold (all +1); later temperatures continue from the previous one"},
    {"-mf_solver", "sweeps",
     "mean field: sweeps (damped checkerboard Gauss-Seidel) or snes (Newton, PETSc SNES; -mf_snes_*, -mf_ksp_*, "
     "-mf_pc_* options apply)"},
    {"-mf_init", "paramagnetic,ferro,random",
     "mean field: starting points tried at each beta (plus the previous beta's solution), any of paramagnetic, ferro, "
     "antiferro, random"},
    {"-mf_damping", "0.0", "mean field sweeps: m <- d m + (1 - d) tanh(beta h_loc), d in [0, 1)"},
    {"-mf_tol", "1e-12", "mean field: converged when max_i |m_i - tanh(beta h_i^loc)| <= tol, tol > 0"},
    {"-mf_max_iter", "10000", "mean field: most sweeps (or Newton steps) per starting point, >= 1"},
    {"-process_grid", NULL, "MPI ranks per axis, product = number of ranks (default: chosen to minimise halo traffic)"},
    {"-balance", "even",
     "block sizes of the decomposed lattice: even (equal blocks), measure (blocks in proportion to each rank's "
     "speed, timed for 0.2 s at start-up) or one relative speed in (0, 1e9] per MPI rank, comma-separated, at most "
     "4096 (results do not change)"},
    {"-rebalance", "0",
     "mc, tempering, quench, anneal: sweeps between load checks, >= 0 (0: none): each rank's update time over them "
     "gives its speed, and the blocks move when the slowest rank would gain at least -rebalance_gain (results do "
     "not change)"},
    {"-rebalance_gain", "0.05",
     "with -rebalance: the least gain in the slowest rank's time, in [0, 0.9], for which the blocks move"},
    {"-output", "ising.h5", "the run's HDF5 output file"},
    {"-overwrite", "false", "replace an existing output file (otherwise an existing file is an error)"},
    {"-exact", "true",
     "write exact values beside the estimates where they exist: enumeration (N <= 25), Kaufman (2D, both axes "
     "periodic, uniform J, h = 0), transfer matrix (1D, uniform J and h)"},
    {"-progress_interval", "10", "seconds between progress lines on rank 0, >= 0.001"},
    {"-checkpoint_file", NULL,
     "mc, tempering, anneal: checkpoint of the run's state, written atomically (unset: the -output name with .h5 "
     "replaced by .ckpt.h5)"},
    {"-checkpoint_interval", "3600",
     "mc, tempering, anneal: seconds between checkpoints, in [0, 1e9] (0: none); SIGTERM, SIGUSR1, SIGINT always "
     "checkpoint and stop the run (exit 4)"},
    {"-restart", NULL,
     "continue the run from this checkpoint file (same physics options, any number of ranks; bit-identical result)"},
    {"-quiet", "false", "no progress lines and no summary"},
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

const char *ising_algorithm_name(ising_algorithm a)
{
  return a == ISING_ALGORITHM_HEATBATH ? "heatbath" : "metropolis";
}

const char *ising_mf_init_name(int k)
{
  static const char *const names[ISING_MF_NINIT] = {"paramagnetic", "ferro", "antiferro", "random"};
  return k >= 0 && k < ISING_MF_NINIT ? names[k] : "previous_beta";
}

const char *ising_couplings_name(ising_couplings_kind k)
{
  switch (k) {
  case ISING_COUPLINGS_PM: return "pm";
  case ISING_COUPLINGS_GAUSSIAN: return "gaussian";
  default: return "uniform";
  }
}

void ising_params_help(FILE *out)
{
  fprintf(out, "ising: Monte Carlo of Ising models on domain-decomposed lattices\n\n"
               "usage: mpirun -n P ising -options_file input/<deck>.opts [-option value ...]\n\n"
               "Options (a deck is a PETSc options file; the command line overrides it):\n");
  for (size_t k = 0; k < NOPTIONS; k++)
    fprintf(out, "  %-24s %s [default: %s]\n", options[k].name, options[k].help,
            options[k].def ? options[k].def : "unset");
  fprintf(out, "\nPETSc's own options (-log_view, -options_left, ...) are accepted as well.\n"
               "Unknown or misspelt options are an error.  See docs/usage.md.\n");
}

/* The error message of one parse, built up by fail(). */
typedef struct {
  char msg[1024];
  int failed;
} parse_ctx;

static int fail(parse_ctx *c, const char *fmt, ...) ISING_PRINTF(2, 3);
static int fail(parse_ctx *c, const char *fmt, ...)
{
  if (c->failed) return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
  va_end(ap);
  c->failed = 1;
  return -1;
}

static const option_doc *find_doc(const char *name)
{
  for (size_t k = 0; k < NOPTIONS; k++)
    if (!strcmp(options[k].name, name)) return &options[k];
  return NULL;
}

/* The value of an option as a string: the given one, else the table's
 * default.  *given says whether the user set it.  Returns NULL when unset and
 * without default.  A flag given without value yields "". */
static const char *get(parse_ctx *c, const char *name, char *buf, size_t len, int *given)
{
  PetscBool set = PETSC_FALSE;
  const option_doc *d = find_doc(name);
  buf[0] = '\0';
  if (!d) {
    fail(c, "internal error: option %s is read but not declared in the option table", name);
    return NULL;
  }
  if (PetscOptionsGetString(NULL, NULL, name, buf, len, &set)) {
    fail(c, "option %s: could not read its value", name);
    return NULL;
  }
  if (given) *given = set ? 1 : 0;
  /* PETSc truncates silently; a value that fills the buffer may be cut. */
  if (set && strlen(buf) >= len - 1) {
    fail(c, "option %s: value longer than %zu characters", name, len - 2);
    return NULL;
  }
  if (set) return buf;
  if (d && d->def) {
    snprintf(buf, len, "%s", d->def);
    return buf;
  }
  return NULL;
}

/* Splits a comma-separated list in place; returns the number of items (at
 * most maxn) or -1 if there are more than maxn or an item is empty. */
static int split_list(char *s, char **items, int maxn)
{
  int n = 0;
  char *p = s;
  for (;;) {
    char *comma = strchr(p, ',');
    if (comma) *comma = '\0';
    while (isspace((unsigned char)*p)) p++;
    char *end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1])) *--end = '\0';
    if (*p == '\0' || n == maxn) return -1;
    items[n++] = p;
    if (!comma) break;
    p = comma + 1;
  }
  return n;
}

static int parse_int64(const char *s, int64_t *v)
{
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (errno || end == s || *end != '\0') return -1;
  *v = (int64_t)x;
  return 0;
}

static int parse_uint64(const char *s, uint64_t *v)
{
  char *end;
  if (*s == '-' || *s == '+') return -1;
  errno = 0;
  unsigned long long x = strtoull(s, &end, 10);
  if (errno || end == s || *end != '\0') return -1;
  *v = (uint64_t)x;
  return 0;
}

static int parse_real(const char *s, double *v)
{
  char *end;
  errno = 0;
  double x = strtod(s, &end);
  if (errno || end == s || *end != '\0' || !isfinite(x)) return -1;
  *v = x;
  return 0;
}

static int parse_bool(const char *s, int *v)
{
  static const char *yes[] = {"", "1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
  for (size_t k = 0; k < sizeof(yes) / sizeof(*yes); k++)
    if (!strcasecmp(s, yes[k])) return *v = 1, 0;
  for (size_t k = 0; k < sizeof(no) / sizeof(*no); k++)
    if (!strcasecmp(s, no[k])) return *v = 0, 0;
  return -1;
}

static int read_int64(parse_ctx *c, const char *name, int64_t lo, int64_t hi, int64_t *v)
{
  char buf[256];
  const char *s = get(c, name, buf, sizeof(buf), NULL);
  if (!s) return fail(c, "option %s: a value is required", name);
  if (parse_int64(s, v) || *v < lo || *v > hi)
    return fail(c, "option %s: expected an integer in [%lld, %lld], got '%s'", name, (long long)lo, (long long)hi, s);
  return 0;
}

static int read_real(parse_ctx *c, const char *name, double lo, double hi, double *v, int *given)
{
  char buf[256];
  const char *s = get(c, name, buf, sizeof(buf), given);
  if (!s) return fail(c, "option %s: a value is required", name);
  if (parse_real(s, v) || *v < lo || *v > hi)
    return fail(c, "option %s: expected a real number in [%g, %g], got '%s'", name, lo, hi, s);
  return 0;
}

static int read_bool(parse_ctx *c, const char *name, int *v)
{
  char buf[64];
  const char *s = get(c, name, buf, sizeof(buf), NULL);
  if (!s) return fail(c, "option %s: a value is required", name);
  if (parse_bool(s, v)) return fail(c, "option %s: expected true or false, got '%s'", name, s);
  return 0;
}

static int read_seed(parse_ctx *c, const char *name, uint64_t *v)
{
  char buf[256];
  const char *s = get(c, name, buf, sizeof(buf), NULL);
  if (!s) return fail(c, "option %s: a value is required", name);
  if (parse_uint64(s, v))
    return fail(c, "option %s: expected an integer in [0, 18446744073709551615], got '%s'", name, s);
  return 0;
}

static int given_grid(parse_ctx *c)
{
  char buf[256];
  int given = 0;
  get(c, "-process_grid", buf, sizeof(buf), &given);
  return given;
}

/* One keyword out of a list of allowed spellings. */
static int match_keyword(parse_ctx *c, const char *name, const char *s, const char *const *allowed, int nallowed)
{
  char list[256] = "";
  for (int k = 0; k < nallowed; k++) {
    if (!strcmp(s, allowed[k])) return k;
    strncat(list, k ? ", " : "", sizeof(list) - strlen(list) - 1);
    strncat(list, allowed[k], sizeof(list) - strlen(list) - 1);
  }
  return fail(c, "option %s: expected one of %s, got '%s'", name, list, s);
}

static int read_keyword(parse_ctx *c, const char *name, const char *const *allowed, int nallowed, int *v)
{
  char buf[256];
  const char *s = get(c, name, buf, sizeof(buf), NULL);
  if (!s) return fail(c, "option %s: a value is required", name);
  int k = match_keyword(c, name, s, allowed, nallowed);
  if (k < 0) return -1;
  *v = k;
  return 0;
}

static int load_lattice(parse_ctx *c, ising_params *p)
{
  char buf[256], orig[256], *items[8];
  get(c, "-lattice_size", buf, sizeof(buf), NULL);
  snprintf(orig, sizeof(orig), "%s", buf);
  const char *s = orig;
  int n = split_list(buf, items, 3);
  if (n < 1)
    return fail(c, "option -lattice_size: expected 1 to 3 comma-separated integers >= 2 (sites per axis), got '%s'", s);
  p->dim = n;
  p->nsites = 1;
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    p->L[d] = 1;
    p->periodic[d] = 0;
  }
  for (int d = 0; d < n; d++) {
    int64_t v;
    if (parse_int64(items[d], &v) || v < 2 || v > (INT64_C(1) << 30))
      return fail(c, "option -lattice_size: entry %d is '%s'; each size must be an integer in [2, 1073741824]", d + 1,
                  items[d]);
    p->L[d] = v;
    if (p->nsites > (INT64_C(1) << 40) / v)
      return fail(c, "option -lattice_size: %s sites exceed the supported 2^40 spins", s);
    p->nsites *= v;
  }

  static const char *const bcs[] = {"periodic", "open"};
  char bbuf[256], *bitems[8];
  get(c, "-lattice_bc", bbuf, sizeof(bbuf), NULL);
  int nb = split_list(bbuf, bitems, 8);
  if (nb != 1 && nb != p->dim)
    return fail(c, "option -lattice_bc: expected 1 or %d entries (one per axis) of periodic or open, got %d", p->dim,
                nb < 0 ? 0 : nb);
  for (int d = 0; d < p->dim; d++) {
    int k = match_keyword(c, "-lattice_bc", bitems[nb == 1 ? 0 : d], bcs, 2);
    if (k < 0) return -1;
    p->periodic[d] = (k == 0);
    if (p->periodic[d] && p->L[d] % 2)
      return fail(c,
                  "option -lattice_size/-lattice_bc: axis %d is periodic with odd length %lld, which cannot be "
                  "two-coloured for checkerboard updates; use an even size or open boundaries",
                  d + 1, (long long)p->L[d]);
  }
  return 0;
}

static int load_couplings(parse_ctx *c, ising_params *p)
{
  static const char *const kinds[] = {"uniform", "pm", "gaussian"};
  int k = 0, jgiven = 0, mgiven = 0, sgiven = 0, pgiven = 0;
  if (read_keyword(c, "-couplings", kinds, 3, &k)) return -1;
  p->couplings = (ising_couplings_kind)k;

  char buf[256], *items[8];
  get(c, "-J", buf, sizeof(buf), &jgiven);
  int n = split_list(buf, items, 8);
  if (n != 1 && n != p->dim)
    return p->dim == 1 ? fail(c, "option -J: expected 1 value on a 1D lattice, got %d", n < 0 ? 0 : n)
                       : fail(c, "option -J: expected 1 or %d values (one per axis), got %d", p->dim, n < 0 ? 0 : n);
  for (int d = 0; d < ISING_MAX_DIM; d++) p->J[d] = 0.0;
  for (int d = 0; d < p->dim; d++) {
    double v;
    if (parse_real(items[n == 1 ? 0 : d], &v) || fabs(v) > 1e4)
      return fail(c, "option -J: expected real numbers with |J| <= 1e4, got '%s'", items[n == 1 ? 0 : d]);
    p->J[d] = v;
  }
  if (read_real(c, "-pm_p", 0.0, 1.0, &p->pm_p, &pgiven)) return -1;
  if (read_real(c, "-gaussian_mean", -1e3, 1e3, &p->gaussian_mean, &mgiven)) return -1;
  if (read_real(c, "-gaussian_sigma", 0.0, 1e3, &p->gaussian_sigma, &sgiven)) return -1;
  if (read_real(c, "-field", -1e3, 1e3, &p->field, NULL)) return -1;
  if (read_real(c, "-field_sigma", 0.0, 1e3, &p->field_sigma, NULL)) return -1;
  for (int d = 0; d < p->dim; d++)
    if (p->couplings == ISING_COUPLINGS_PM && !(p->J[d] > 0))
      return fail(c,
                  "option -J: with -couplings pm each value is a bond magnitude and must be > 0 (the sign is "
                  "drawn with probability -pm_p), got %g",
                  p->J[d]);
  if (p->couplings == ISING_COUPLINGS_GAUSSIAN && jgiven)
    return fail(c, "option -J: not used with -couplings gaussian (set -gaussian_mean and -gaussian_sigma)");
  if (p->couplings != ISING_COUPLINGS_GAUSSIAN && (mgiven || sgiven))
    return fail(c, "option %s: only used with -couplings gaussian", mgiven ? "-gaussian_mean" : "-gaussian_sigma");
  if (p->couplings != ISING_COUPLINGS_PM && pgiven) return fail(c, "option -pm_p: only used with -couplings pm");
  if (read_seed(c, "-seed", &p->seed)) return -1;
  if (read_seed(c, "-disorder_seed", &p->disorder_seed)) return -1;
  return 0;
}

static int load_betas(parse_ctx *c, ising_params *p)
{
  static char lbuf[65536];
  char bbuf[256];
  int lgiven = 0, bgiven = 0;
  get(c, "-beta_list", lbuf, sizeof(lbuf), &lgiven);
  get(c, "-beta", bbuf, sizeof(bbuf), &bgiven);
  if (lgiven && bgiven) return fail(c, "options -beta and -beta_list: give one of them, not both");
  char nbuf[64], lo[64], hi[64];
  int ngiven = 0, logiven = 0, higiven = 0;
  get(c, "-n_temps", nbuf, sizeof(nbuf), &ngiven);
  get(c, "-beta_min", lo, sizeof(lo), &logiven);
  get(c, "-beta_max", hi, sizeof(hi), &higiven);
  if (ngiven || logiven || higiven) {
    int64_t n;
    double bmin, bmax;
    if (lgiven || bgiven) return fail(c, "options -beta_min/-beta_max/-n_temps: not together with -beta or -beta_list");
    if (!(ngiven && logiven && higiven))
      return fail(c, "options -beta_min, -beta_max, -n_temps: give all three for a geometric ladder");
    if (parse_int64(nbuf, &n) || n < 2 || n > 1024)
      return fail(c, "option -n_temps: expected an integer in [2, 1024], got '%s'", nbuf);
    if (parse_real(lo, &bmin) || !(bmin > 0))
      return fail(c, "option -beta_min: expected a real number > 0, got '%s'", lo);
    if (parse_real(hi, &bmax) || !(bmax > bmin) || bmax > 1e6)
      return fail(c, "option -beta_max: expected a real number > -beta_min (%g) and <= 1e6, got '%s'", bmin, hi);
    p->nbeta = (int)n;
    p->beta = malloc(sizeof(double) * (size_t)n);
    if (!p->beta) return fail(c, "out of memory");
    for (int k = 0; k < n; k++) p->beta[k] = bmin * pow(bmax / bmin, (double)k / (double)(n - 1));
    p->beta[n - 1] = bmax;
    return 0;
  }
  if (!lgiven) {
    double b;
    if (parse_real(bbuf, &b) || b < 0 || b > 1e6)
      return fail(c, "option -beta: expected a real number in [0, 1e6] (inverse temperature), got '%s'", bbuf);
    p->nbeta = 1;
    p->beta = malloc(sizeof(double));
    if (!p->beta) return fail(c, "out of memory");
    p->beta[0] = b;
    return 0;
  }
  char *items[1024];
  int n = split_list(lbuf, items, 1024);
  if (n < 1)
    return fail(c, "option -beta_list: expected 1 to 1024 comma-separated real numbers >= 0 (no empty entries)");
  p->beta = malloc(sizeof(double) * (size_t)n);
  if (!p->beta) return fail(c, "out of memory");
  p->nbeta = n;
  for (int k = 0; k < n; k++)
    if (parse_real(items[k], &p->beta[k]) || p->beta[k] < 0 || p->beta[k] > 1e6)
      return fail(c, "option -beta_list: entry %d is '%s'; each must be a real number in [0, 1e6]", k + 1, items[k]);
  return 0;
}

/* The quench options; the measurement times are derived here. */
static int load_quench(parse_ctx *c, ising_params *p)
{
  static const char *const names[] = {
      "-quench_beta",      "-quench_sweeps",    "-quench_times",           "-quench_per_decade",
      "-quench_histories", "-quench_snapshots", "-quench_structure_factor"};
  static char lbuf[65536];
  char buf[256];
  int given = 0;
  if (!(p->tasks & ISING_TASK_QUENCH)) {
    for (size_t k = 0; k < sizeof(names) / sizeof(*names); k++) {
      get(c, names[k], lbuf, sizeof(lbuf), &given);
      if (given) return fail(c, "option %s: only used with -task quench", names[k]);
    }
    return 0;
  }
  const char *s = get(c, "-quench_beta", buf, sizeof(buf), NULL);
  if (!strcasecmp(s, "inf") || !strcasecmp(s, "infinity"))
    p->quench_beta = INFINITY;
  else if (parse_real(s, &p->quench_beta) || !(p->quench_beta > 0) || p->quench_beta > 1e6)
    return fail(c, "option -quench_beta: expected a real number in (0, 1e6] or inf, got '%s'", s);
  if (read_int64(c, "-quench_sweeps", 1, (INT64_C(1) << 32) - 1, &p->quench_sweeps)) return -1;
  int64_t h, per;
  if (read_int64(c, "-quench_histories", 1, 65535, &h)) return -1;
  p->quench_histories = (int)h;
  if (read_bool(c, "-quench_snapshots", &p->quench_snapshots)) return -1;
  if (read_bool(c, "-quench_structure_factor", &p->quench_structure_factor)) return -1;
  int pgiven = 0;
  get(c, "-quench_per_decade", buf, sizeof(buf), &pgiven);
  if (read_int64(c, "-quench_per_decade", 1, 1000, &per)) return -1;
  get(c, "-quench_times", lbuf, sizeof(lbuf), &given);
  if (given && pgiven) return fail(c, "options -quench_times and -quench_per_decade: give one of them, not both");
  const int maxtimes = 4096;
  p->quench_times = malloc(sizeof(int64_t) * (size_t)(maxtimes + 1));
  if (!p->quench_times) return fail(c, "out of memory");
  int nt = 0;
  if (given) {
    char *items[4096];
    int n = split_list(lbuf, items, maxtimes);
    if (n < 1)
      return fail(c, "option -quench_times: expected 1 to %d comma-separated integers (no empty entries)", maxtimes);
    for (int k = 0; k < n; k++) {
      int64_t t;
      if (parse_int64(items[k], &t) || t < 0 || t > p->quench_sweeps || (k && t <= p->quench_times[k - 1]))
        return fail(c,
                    "option -quench_times: entry %d is '%s'; the times must be strictly increasing integers in [0, "
                    "%lld] (-quench_sweeps)",
                    k + 1, items[k], (long long)p->quench_sweeps);
      p->quench_times[nt++] = t;
    }
  } else {
    p->quench_times[nt++] = 0;
    for (int j = 0; nt < maxtimes; j++) {
      int64_t t = (int64_t)floor(pow(10.0, (double)j / (double)per) + 0.5);
      if (t >= p->quench_sweeps) break;
      if (t > p->quench_times[nt - 1]) p->quench_times[nt++] = t;
    }
  }
  if (p->quench_times[nt - 1] != p->quench_sweeps) {
    if (nt == maxtimes) return fail(c, "option -quench_times: at most %d measurement times", maxtimes);
    p->quench_times[nt++] = p->quench_sweeps;
  }
  p->quench_ntimes = nt;
  return 0;
}

/* The most sites of one AIS chain a rank holds when -ais_ranks_per_chain is not given (4096^2 and 256^3 on one). */
#define AIS_SITES_PER_RANK (INT64_C(1) << 24)

static int load_run(parse_ctx *c, ising_params *p, int nranks)
{
  static const char *const tasks[] = {"mc", "meanfield", "tempering", "anneal", "quench", "freeenergy"};
  static const char *const algs[] = {"metropolis", "heatbath"};
  static const char *const starts[] = {"hot", "cold"};
  char buf[256], *items[8];
  int k = 0;

  get(c, "-task", buf, sizeof(buf), NULL);
  int n = split_list(buf, items, 8);
  if (n < 1)
    return fail(c,
                "option -task: expected a comma list of mc, meanfield, tempering, anneal, quench, freeenergy, got '%s'",
                buf);
  p->tasks = 0;
  for (int t = 0; t < n; t++) {
    if ((k = match_keyword(c, "-task", items[t], tasks, 6)) < 0) return -1;
    p->tasks |= 1u << k;
  }
  if ((p->tasks & ISING_TASK_MC) && (p->tasks & ISING_TASK_TEMPERING))
    return fail(c, "option -task: mc and tempering both write /observables; run them separately");
  static const char *const schedules[] = {"linear", "geometric"};
  if (read_keyword(c, "-anneal_schedule", schedules, 2, &p->anneal_geometric)) return -1;
  if (read_real(c, "-anneal_beta_start", 1e-300, 1e6, &p->anneal_beta_start, NULL)) return -1;
  if (read_real(c, "-anneal_beta_end", 1e-300, 1e6, &p->anneal_beta_end, NULL)) return -1;
  if (!(p->anneal_beta_end > p->anneal_beta_start))
    return fail(c, "option -anneal_beta_end: %g must exceed -anneal_beta_start %g", p->anneal_beta_end,
                p->anneal_beta_start);
  if (read_int64(c, "-anneal_steps", 2, INT64_C(1) << 30, &p->anneal_steps)) return -1;
  if (read_int64(c, "-anneal_sweeps_per_step", 1, INT64_C(1) << 30, &p->anneal_sweeps_per_step)) return -1;
  if (read_int64(c, "-anneal_restarts", 1, 32000, &p->anneal_restarts)) return -1;
  if (p->anneal_steps * p->anneal_sweeps_per_step > (INT64_C(1) << 47))
    return fail(c, "options -anneal_steps/-anneal_sweeps_per_step: more than 2^47 sweeps per restart");
  if (load_quench(c, p)) return -1;
  int64_t chains;
  if (read_int64(c, "-reweight_points", 0, 100000, &p->reweight_points)) return -1;
  if (read_int64(c, "-ais_chains", 1, 65535, &chains)) return -1;
  p->ais_chains = (int)chains;
  if (read_int64(c, "-ais_steps", 1, INT64_C(1) << 30, &p->ais_steps)) return -1;
  if (read_int64(c, "-ais_sweeps_per_step", 1, INT64_C(1) << 20, &p->ais_sweeps_per_step)) return -1;
  if (p->ais_steps * p->ais_sweeps_per_step + 1024 > (INT64_C(1) << 32))
    return fail(c, "options -ais_steps/-ais_sweeps_per_step: more than 2^32 sweeps per chain");
  static const char *const ais_starts[] = {"uniform", "meanfield"};
  if (read_keyword(c, "-ais_start", ais_starts, 2, &p->ais_start)) return -1;
  /* AIS runs its chains in groups of -ais_ranks_per_chain ranks (ais.c), each group laying out its own lattice.
   * A chain on one rank of a small lattice sends no messages: 2 ranks ran 4 chains of 8^3 2.5 times faster with a
   * chain on each rank than with every chain on both (docs/performance.md, "AIS chains in groups of ranks"). */
  int agiven = 0;
  char abuf[64];
  get(c, "-ais_ranks_per_chain", abuf, sizeof(abuf), &agiven);
  p->ais_ranks_per_chain = nranks;
  if (agiven) {
    int64_t v;
    if (parse_int64(abuf, &v) || v < 1 || v > nranks)
      return fail(c, "option -ais_ranks_per_chain: expected an integer in [1, %d] (the MPI ranks), got '%s'", nranks,
                  abuf);
    if (nranks % v)
      return fail(c, "option -ais_ranks_per_chain: %lld does not divide the %d MPI ranks", (long long)v, nranks);
    if (v != nranks && given_grid(c))
      return fail(c,
                  "option -process_grid: it lays out the lattice on all %d ranks; with -ais_ranks_per_chain %lld "
                  "each group of ranks lays out its own",
                  nranks, (long long)v);
    p->ais_ranks_per_chain = (int)v;
  } else if (!given_grid(c)) {
    /* as many groups as the chains can use: the fewest ranks per chain (a divisor of the rank count) that leave no
     * group without a chain and no rank with more than AIS_SITES_PER_RANK sites of one */
    int d = 1;
    while (d < nranks && (nranks % d || nranks / d > p->ais_chains || p->nsites / d > AIS_SITES_PER_RANK)) d++;
    p->ais_ranks_per_chain = d;
  }
  static const char *const solvers[] = {"sweeps", "snes"};
  if (read_keyword(c, "-mf_solver", solvers, 2, &p->mf_solver)) return -1;
  get(c, "-mf_init", buf, sizeof(buf), NULL);
  n = split_list(buf, items, 8);
  if (n < 1) return fail(c, "option -mf_init: expected a comma list of paramagnetic, ferro, antiferro, random");
  p->mf_init = 0;
  for (int t = 0; t < n; t++) {
    static const char *const inits[] = {"paramagnetic", "ferro", "antiferro", "random"};
    if ((k = match_keyword(c, "-mf_init", items[t], inits, ISING_MF_NINIT)) < 0) return -1;
    p->mf_init |= 1u << k;
  }
  if (read_real(c, "-mf_damping", 0.0, 0.999999, &p->mf_damping, NULL)) return -1;
  if (read_real(c, "-mf_tol", 1e-300, 1.0, &p->mf_tol, NULL)) return -1;
  if (read_int64(c, "-mf_max_iter", 1, INT64_C(1) << 40, &p->mf_max_iter)) return -1;
  if (read_keyword(c, "-algorithm", algs, 2, &k)) return -1;
  p->algorithm = (ising_algorithm)k;
  for (int b = 0;
       b < p->nbeta && p->algorithm == ISING_ALGORITHM_METROPOLIS && (p->tasks & ~(unsigned)ISING_TASK_MEANFIELD); b++)
    if (p->beta[b] == 0.0)
      return fail(c, "option -beta/-beta_list: Metropolis at beta = 0 accepts every flip, so a sweep flips every spin "
                     "and never samples; use -algorithm heatbath there");
  if (read_keyword(c, "-start", starts, 2, &k)) return -1;
  p->hot_start = (k == 0);
  const int64_t big = INT64_C(1) << 48;
  if (read_int64(c, "-sweeps", 1, big, &p->sweeps)) return -1;
  if (read_int64(c, "-thermalize", 0, big, &p->thermalize)) return -1;
  if (read_int64(c, "-measure_interval", 1, big, &p->measure_interval)) return -1;
  if (read_int64(c, "-snapshot_interval", 0, big, &p->snapshot_interval)) return -1;
  if (p->measure_interval > p->sweeps)
    return fail(c, "option -measure_interval: %lld exceeds -sweeps %lld; at least one measurement is needed",
                (long long)p->measure_interval, (long long)p->sweeps);
  if (p->sweeps / p->measure_interval > (INT64_C(1) << 31))
    return fail(
        c, "options -sweeps/-measure_interval: more than 2^31 measurements per temperature; raise -measure_interval");
  if ((p->thermalize + p->sweeps) > (INT64_C(1) << 48) / p->nbeta)
    return fail(c, "options -thermalize/-sweeps: more than 2^48 sweeps in all, beyond the random-number counter");
  if (p->snapshot_interval > 0 && (p->sweeps / p->snapshot_interval) * p->nbeta > 100000)
    return fail(c, "option -snapshot_interval: %lld gives more than 100000 snapshots; choose a larger interval",
                (long long)p->snapshot_interval);

  /* Tempering splits the ranks into groups of -ranks_per_replica, each
   * holding temperatures / groups replicas. */
  int64_t rpr, swap;
  if (read_int64(c, "-ranks_per_replica", 1, nranks, &rpr)) return -1;
  if (read_int64(c, "-pt_swap_interval", 1, INT64_C(1) << 40, &swap)) return -1;
  int64_t sets;
  if (read_int64(c, "-pt_replica_sets", 1, 2, &sets)) return -1;
  static const char *const adapt[] = {"equal_acceptance", "feedback"};
  if (read_int64(c, "-pt_adapt_sweeps", 0, INT64_C(1) << 40, &p->pt_adapt_sweeps)) return -1;
  if (read_keyword(c, "-pt_adapt_method", adapt, 2, &p->pt_adapt_method)) return -1;
  int64_t samples;
  if (read_int64(c, "-disorder_samples", 1, 100000, &samples)) return -1;
  p->disorder_samples = (int)samples;
  for (int k = 1; k < p->nbeta && p->pt_adapt_sweeps > 0 && (p->tasks & ISING_TASK_TEMPERING); k++)
    if (!(p->beta[k] > p->beta[k - 1]))
      return fail(c,
                  "option -pt_adapt_sweeps: tuning moves the temperatures between the first and the last and needs "
                  "them increasing without repeats; beta %g follows %g (sort -beta_list)",
                  p->beta[k], p->beta[k - 1]);
  if (samples > 1 && p->pt_adapt_sweeps > 0)
    return fail(c, "option -pt_adapt_sweeps: not with -disorder_samples > 1 (every sample must share the ladder; tune "
                   "it on one sample and pass it as -beta_list)");
  p->ranks_per_replica = (int)rpr;
  p->pt_swap_interval = swap;
  p->pt_replica_sets = (int)sets;
  int rgiven = 0;
  char rbuf[64];
  get(c, "-replicas_per_rank", rbuf, sizeof(rbuf), &rgiven);
  if (p->tasks & ISING_TASK_TEMPERING) {
    int groups = nranks / p->ranks_per_replica;
    if (nranks % p->ranks_per_replica)
      return fail(c, "option -ranks_per_replica: %d does not divide the %d MPI ranks", p->ranks_per_replica, nranks);
    if (p->nbeta < 2) return fail(c, "option -task tempering: needs at least 2 temperatures (-beta_list or -n_temps)");
    int replicas = p->pt_replica_sets * p->nbeta;
    if (replicas % groups)
      return fail(c,
                  "option -ranks_per_replica: %d ranks in groups of %d make %d replica groups, which must divide "
                  "the %d replicas (%d temperatures x %d sets)",
                  nranks, p->ranks_per_replica, groups, replicas, p->nbeta, p->pt_replica_sets);
    p->replicas_per_group = replicas / groups;
    int64_t v;
    if (rgiven && (parse_int64(rbuf, &v) || v != p->replicas_per_group))
      return fail(c,
                  "option -replicas_per_rank: with %d ranks, -ranks_per_replica %d and %d replicas each replica "
                  "group holds %d, got '%s'",
                  nranks, p->ranks_per_replica, p->pt_replica_sets * p->nbeta, p->replicas_per_group, rbuf);
    if ((p->tasks & ~(unsigned)ISING_TASK_TEMPERING) && p->ranks_per_replica != nranks && given_grid(c))
      return fail(c,
                  "option -process_grid: with tempering it lays out one replica group (-ranks_per_replica %d "
                  "ranks) and cannot also lay out the other tasks on %d ranks",
                  p->ranks_per_replica, nranks);
    if (!(p->tasks & ~(unsigned)ISING_TASK_TEMPERING)) nranks = p->ranks_per_replica;
  } else if (rgiven || p->ranks_per_replica != 1 || p->pt_swap_interval != 1 || p->pt_replica_sets != 1 ||
             p->pt_adapt_sweeps != 0 || p->disorder_samples != 1) {
    return fail(c, "options -ranks_per_replica, -replicas_per_rank, -pt_swap_interval, -pt_replica_sets, "
                   "-pt_adapt_sweeps, -disorder_samples: only used with -task tempering");
  }

  int given = 0;
  char g[256];
  get(c, "-process_grid", buf, sizeof(buf), &given);
  snprintf(g, sizeof(g), "%s", buf);
  p->have_process_grid = given;
  for (int d = 0; d < ISING_MAX_DIM; d++) p->process_grid[d] = 1;
  if (given) {
    n = split_list(buf, items, 8);
    if (n != p->dim)
      return fail(c, "option -process_grid: expected %d comma-separated rank counts (one per axis), got '%s'", p->dim,
                  g);
    int64_t prod = 1;
    for (int d = 0; d < p->dim; d++) {
      int64_t v;
      if (parse_int64(items[d], &v) || v < 1 || v > nranks)
        return fail(c, "option -process_grid: entry %d is '%s'; each must be an integer in [1, %d]", d + 1, items[d],
                    nranks);
      if (v > p->L[d])
        return fail(c, "option -process_grid: %lld ranks along axis %d but only %lld sites; each rank needs >= 1 site",
                    (long long)v, d + 1, (long long)p->L[d]);
      p->process_grid[d] = (int)v;
      prod *= v;
    }
    if (prod != nranks)
      return fail(c, "option -process_grid: the product of the entries is %lld but the run has %d MPI ranks%s",
                  (long long)prod, nranks, p->tasks == ISING_TASK_TEMPERING ? " per replica group" : "");
  }

  const char *o = get(c, "-output", p->output, sizeof(p->output), NULL);
  if (!o || !*o) return fail(c, "option -output: expected a file name");
  if (read_bool(c, "-overwrite", &p->overwrite)) return -1;
  if (read_bool(c, "-exact", &p->exact)) return -1;
  if (read_bool(c, "-quiet", &p->quiet)) return -1;
  if (read_real(c, "-progress_interval", 1e-3, 1e9, &p->progress_interval, NULL)) return -1;
  return 0;
}

/* -rebalance, -rebalance_gain: moving the blocks during -task mc, tempering, quench, anneal. */
static int load_rebalance(parse_ctx *c, ising_params *p)
{
  char buf[256];
  int ngiven = 0, ggiven = 0;
  get(c, "-rebalance", buf, sizeof(buf), &ngiven);
  if (read_int64(c, "-rebalance", 0, INT64_C(1) << 48, &p->rebalance) ||
      read_real(c, "-rebalance_gain", 0.0, 0.9, &p->rebalance_gain, &ggiven))
    return -1;
  if (!(p->tasks & ISING_REBALANCE_TASKS) && ((ngiven && p->rebalance > 0) || ggiven))
    return fail(c, "options -rebalance, -rebalance_gain: only -task mc, tempering, quench and anneal move the blocks "
                   "during a run");
  return 0;
}

/* -balance: even, measure, or one relative speed per MPI rank (a replica
 * group of a tempering run uses its ranks' entries). */
static int load_balance(parse_ctx *c, ising_params *p, int nranks)
{
  enum { MAXLEN = 1 << 16, MAXN = 4096 };
  char *buf = malloc(MAXLEN), **items = malloc(sizeof(char *) * MAXN);
  int rc = 0;
  if (!buf || !items) {
    rc = fail(c, "option -balance: out of memory");
    goto done;
  }
  const char *s = get(c, "-balance", buf, MAXLEN, NULL);
  if (!s) {
    rc = -1;
    goto done;
  }
  if (!strcmp(s, "even") || !strcmp(s, "measure")) {
    p->balance = !strcmp(s, "even") ? ISING_BALANCE_EVEN : ISING_BALANCE_MEASURE;
    goto done;
  }
  int n = split_list(buf, items, MAXN);
  if (n != nranks) {
    rc = fail(c,
              "option -balance: expected even, measure, or %d comma-separated relative speeds (one per MPI rank, "
              "at most %d)%s",
              nranks, MAXN, n < 0 ? ", got an empty entry or too many" : "");
    goto done;
  }
  p->balance_speeds = malloc(sizeof(double) * (size_t)n);
  if (!p->balance_speeds) {
    rc = fail(c, "option -balance: out of memory");
    goto done;
  }
  p->balance = ISING_BALANCE_GIVEN;
  p->nbalance = n;
  for (int k = 0; k < n && !rc; k++)
    if (parse_real(items[k], &p->balance_speeds[k]) || !(p->balance_speeds[k] > 0.0) || p->balance_speeds[k] > 1e9)
      rc = fail(c, "option -balance: entry %d is '%s'; each speed must be a real number in (0, 1e9]", k + 1, items[k]);
done:
  if (!rc) rc = load_rebalance(c, p);
  free(buf);
  free(items);
  return rc;
}

/* The file a path names, for comparing names that need not exist yet: its directory resolved (symbolic links,
 * "." and ".."), then its last component and suffix; the path as given where the directory cannot be resolved. */
static void canonical_path(const char *path, const char *suffix, char *out, size_t len)
{
  char dir[ISING_PATH_MAX], real[PATH_MAX];
  const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
  snprintf(dir, sizeof(dir), "%.*s", slash ? (slash == path ? 1 : (int)(slash - path)) : 1, slash ? path : ".");
  if (realpath(dir, real))
    snprintf(out, len, "%s/%s%s", real, base, suffix);
  else
    snprintf(out, len, "%s%s", path, suffix);
}

/* Whether file a + sa and file b + sb are one file (by name). */
static int same_name(const char *a, const char *sa, const char *b, const char *sb)
{
  char x[2 * ISING_PATH_MAX], y[2 * ISING_PATH_MAX];
  canonical_path(a, sa, x, sizeof(x));
  canonical_path(b, sb, y, sizeof(y));
  return !strcmp(x, y);
}

/* Checkpoints: only the Monte Carlo engines (mc, tempering, anneal) have a
 * state worth saving; mean field is fast and always starts afresh. */
static int load_checkpoint(parse_ctx *c, ising_params *p)
{
  int igiven = 0, fgiven = 0, rgiven = 0;
  if (read_real(c, "-checkpoint_interval", 0.0, 1e9, &p->checkpoint_interval, &igiven)) return -1;
  get(c, "-checkpoint_file", p->checkpoint_file, sizeof(p->checkpoint_file), &fgiven);
  get(c, "-restart", p->restart, sizeof(p->restart), &rgiven);
  if (c->failed) return -1;
  if (!(p->tasks & (ISING_TASK_MC | ISING_TASK_TEMPERING | ISING_TASK_ANNEAL)) && (igiven || fgiven || rgiven))
    return fail(c, "options -checkpoint_file, -checkpoint_interval, -restart: only used with -task mc, tempering or "
                   "anneal (mean field does not checkpoint)");
  if (fgiven && !p->checkpoint_file[0]) return fail(c, "option -checkpoint_file: expected a file name");
  if (rgiven && !p->restart[0]) return fail(c, "option -restart: expected the path of a checkpoint file");
  if (!fgiven) {
    size_t n = strlen(p->output);
    int h5 = n >= 3 && !strcmp(p->output + n - 3, ".h5");
    if (n - (h5 ? 3 : 0) + 9 > sizeof(p->checkpoint_file))
      return fail(c, "option -output: too long to derive -checkpoint_file from it; give -checkpoint_file");
    snprintf(p->checkpoint_file, sizeof(p->checkpoint_file), "%.*s.ckpt.h5", (int)(n - (h5 ? 3 : 0)), p->output);
  }
  /* by name, whatever the spelling (./a.h5, a full path): the checkpoint is renamed over its own name and removed
   * at the end, so it must not be the output, the output's lock, or have the output as its temporary file */
  if (same_name(p->checkpoint_file, "", p->output, ""))
    return fail(c, "option -checkpoint_file: '%s' is the -output file; choose another name", p->checkpoint_file);
  if (same_name(p->checkpoint_file, "", p->output, ".lock") || same_name(p->checkpoint_file, ".tmp", p->output, "") ||
      same_name(p->checkpoint_file, ".tmp", p->output, ".lock"))
    return fail(c,
                "option -checkpoint_file: '%s' (or its temporary file '%s.tmp') is the -output file '%s' or its "
                "lock file '%s.lock'; choose another name",
                p->checkpoint_file, p->checkpoint_file, p->output, p->output);
  if (rgiven && (same_name(p->restart, "", p->output, "") || same_name(p->restart, "", p->output, ".lock")))
    return fail(c,
                "option -restart: '%s' is the -output file; pass the checkpoint file (default: -output with .h5 "
                "replaced by .ckpt.h5)",
                p->restart);
  return 0;
}

/* Options that nobody read: misspelt or unknown.  PETSc reads some of its
 * own only in PetscFinalize; they are marked as known here. */
static int check_unused(parse_ctx *c, int allow_solver_options)
{
  static const char *const petsc_late[] = {"-options_left", "-options_view", "-log_view", "-malloc_dump",
                                           "-memory_view",  "-malloc_view",  "-log_trace"};
  for (size_t k = 0; k < sizeof(petsc_late) / sizeof(*petsc_late); k++) {
    PetscBool set;
    PetscOptionsHasName(NULL, NULL, petsc_late[k], &set);
  }
  PetscInt n;
  char **names, **values;
  if (PetscOptionsLeftGet(NULL, &n, &names, &values)) return fail(c, "could not list the options database");
  static const char *const solver_prefixes[] = {"mf_snes_", "mf_ksp_", "mf_pc_", "mf_mat_"};
  char list[512] = "";
  int unknown = 0;
  for (PetscInt k = 0; k < n; k++) {
    int solver = 0;
    for (size_t j = 0; j < sizeof(solver_prefixes) / sizeof(*solver_prefixes); j++)
      solver |= !strncmp(names[k], solver_prefixes[j], strlen(solver_prefixes[j]));
    if (solver && allow_solver_options) continue;
    if (unknown++ < 8) {
      strncat(list, unknown > 1 ? ", -" : "-", sizeof(list) - strlen(list) - 1);
      strncat(list, names[k], sizeof(list) - strlen(list) - 1);
    }
  }
  if (unknown)
    fail(c, "unknown option%s %s (misspelt, or not used by this configuration); see -help", unknown > 1 ? "s" : "",
         list);
  PetscOptionsLeftRestore(NULL, &n, &names, &values);
  return c->failed ? -1 : 0;
}

int ising_params_check_unused(MPI_Comm comm)
{
  parse_ctx c = {.failed = 0};
  check_unused(&c, 0);
  return ising_check(comm, c.failed, "%s", c.msg) ? ISING_EXIT_INPUT : 0;
}

static char *database_text(void)
{
  char *all = NULL, *copy;
  if (PetscOptionsGetAll(NULL, &all)) return NULL;
  copy = strdup(all ? all : "");
  PetscFree(all);
  return copy;
}

int ising_params_load(MPI_Comm comm, int nranks, ising_params *p)
{
  parse_ctx c = {.failed = 0};
  memset(p, 0, sizeof(*p));
  if (!load_lattice(&c, p) && !load_couplings(&c, p) && !load_betas(&c, p) && !load_run(&c, p, nranks) &&
      !load_balance(&c, p, nranks) && !load_checkpoint(&c, p))
    check_unused(&c, (p->tasks & ISING_TASK_MEANFIELD) && p->mf_solver == ISING_MF_SNES);
  if (!c.failed) {
    p->options_text = database_text();
    if (!p->options_text) fail(&c, "could not read the options database");
  }
  /* Every rank parsed the same database, so all agree; the check still
   * reduces, so that a rank-local failure (e.g. memory) cannot hang others. */
  if (ising_check(comm, c.failed, "%s", c.msg)) {
    ising_params_free(p);
    return ISING_EXIT_INPUT;
  }
  return 0;
}

void ising_params_print(const ising_params *p, FILE *out)
{
  static const char axis[] = "xyz";
  fprintf(out, "lattice     %dD ", p->dim);
  for (int d = 0; d < p->dim; d++) fprintf(out, "%s%lld", d ? " x " : "", (long long)p->L[d]);
  fprintf(out, " = %lld spins, boundaries", (long long)p->nsites);
  for (int d = 0; d < p->dim; d++) fprintf(out, " %c:%s", axis[d], p->periodic[d] ? "periodic" : "open");
  fprintf(out, "\ncouplings   %s", ising_couplings_name(p->couplings));
  if (p->couplings == ISING_COUPLINGS_GAUSSIAN)
    fprintf(out, " mean %g sigma %g", p->gaussian_mean, p->gaussian_sigma);
  else {
    fprintf(out, " J =");
    for (int d = 0; d < p->dim; d++) fprintf(out, " %g", p->J[d]);
    if (p->couplings == ISING_COUPLINGS_PM) fprintf(out, ", P(-J) = %g", p->pm_p);
  }
  fprintf(out, "; field %g", p->field);
  if (p->field_sigma > 0) fprintf(out, " + %g N(0,1)", p->field_sigma);
  fprintf(out, "\nseeds       dynamics %llu, disorder %llu\n", (unsigned long long)p->seed,
          (unsigned long long)p->disorder_seed);
  /* the temperatures and the Monte Carlo settings only where a task uses them (anneal and quench have their own) */
  const unsigned at_betas = ISING_TASK_MC | ISING_TASK_TEMPERING | ISING_TASK_MEANFIELD | ISING_TASK_FREEENERGY;
  if (p->tasks & at_betas) {
    fprintf(out, "beta        ");
    for (int k = 0; k < p->nbeta && k < 12; k++) fprintf(out, "%s%g", k ? ", " : "", p->beta[k]);
    if (p->nbeta > 12) fprintf(out, ", ... (%d in all)", p->nbeta);
    fputc('\n', out);
  }
  if (p->tasks & ~(unsigned)ISING_TASK_MEANFIELD) /* every task but mean field sweeps with it */
    fprintf(out, "algorithm   %s\n", ising_algorithm_name(p->algorithm));
  if (p->tasks & (ISING_TASK_MC | ISING_TASK_TEMPERING)) {
    fprintf(out, "monte carlo %s start, %lld thermalisation + %lld sweeps per beta, measure every %lld",
            p->hot_start ? "hot" : "cold", (long long)p->thermalize, (long long)p->sweeps,
            (long long)p->measure_interval);
    if (p->snapshot_interval) fprintf(out, ", snapshot every %lld", (long long)p->snapshot_interval);
    fputc('\n', out);
  }
  if (p->rebalance > 0 && (p->tasks & ISING_REBALANCE_TASKS)) {
    fprintf(out, "rebalance   every %lld sweeps, ", (long long)p->rebalance);
    if (p->rebalance_gain > 0)
      fprintf(out, "when the slowest rank's time would shrink by >= %g %% and the move pays\n",
              100.0 * p->rebalance_gain);
    else
      fprintf(out, "whenever the new blocks are faster\n");
  }
  if (p->tasks & ISING_TASK_QUENCH) {
    fprintf(out, "quench      %d histories of %lld sweeps at beta ", p->quench_histories, (long long)p->quench_sweeps);
    if (isinf(p->quench_beta))
      fprintf(out, "inf (zero temperature)");
    else
      fprintf(out, "%g", p->quench_beta);
    fprintf(out, ", %d measurement times\n", p->quench_ntimes);
  }
  if (p->tasks & ISING_TASK_FREEENERGY)
    fprintf(out, "ais         %d chains from %s, %lld steps x %lld sweeps, %d rank%s per chain\n", p->ais_chains,
            p->ais_start == ISING_AIS_MEANFIELD ? "mean field" : "beta = 0", (long long)p->ais_steps,
            (long long)p->ais_sweeps_per_step, p->ais_ranks_per_chain, p->ais_ranks_per_chain > 1 ? "s" : "");
  fprintf(out, "output      %s\n", p->output);
}

void ising_params_free(ising_params *p)
{
  free(p->beta);
  free(p->quench_times);
  free(p->options_text);
  free(p->command_line);
  free(p->balance_speeds);
  p->balance_speeds = NULL;
  p->beta = NULL;
  p->quench_times = NULL;
  p->options_text = NULL;
  p->command_line = NULL;
}
