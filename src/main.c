/* main.c: the ising program.
 *   init -> read and validate options -> print them -> lattice, couplings,
 *   output file -> tasks -> timing report -> finalise.
 * Every failure is collective: all ranks leave with the same exit status
 * (error.h), and a run that fails before finishing removes its output. */
#include "ising/ais.h"
#include "ising/anneal.h"
#include "ising/checkpoint.h"
#include "ising/couplings.h"
#include "ising/error.h"
#include "ising/freeenergy.h"
#include "ising/geometry.h"
#include "ising/io.h"
#include "ising/mc.h"
#include "ising/meanfield.h"
#include "ising/params.h"
#include "ising/quench.h"
#include "ising/tempering.h"
#include "ising/timers.h"
#include "ising/version.h"

#include <petscsys.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void now_iso(char *buf, size_t len)
{
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *join_args(int argc, char **argv)
{
  size_t len = 1;
  for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
  char *s = malloc(len);
  if (!s) return NULL;
  s[0] = '\0';
  for (int i = 0; i < argc; i++) {
    if (i) strcat(s, " ");
    strcat(s, argv[i]);
  }
  return s;
}

/* -help is answered by the program's own option table; PETSc's would list
 * its library options instead, so the flag is taken out before PETSc sees it. */
static int take_help_flag(int *argc, char **argv)
{
  int help = 0, j = 0;
  for (int i = 0; i < *argc; i++) {
    if (i > 0 && (!strcmp(argv[i], "-help") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")))
      help = 1;
    else
      argv[j++] = argv[i];
  }
  *argc = j;
  argv[j] = NULL;
  return help;
}

/* The blocks of a lattice decomposed over all ranks (NULL: tempering alone,
 * whose replica groups each size their own): balance, process_cuts_x/y/z,
 * and with -balance the ranks' relative speeds.  An attribute holds at most
 * 64 KiB: arrays of more than ISING_BLOCK_ATTR_MAX entries are left out.  A
 * restart rewrites them all (and removes what its layout does not have). */
#define ISING_BLOCK_ATTR_MAX 4096
static int write_blocks(ising_io *io, const ising_geometry *g)
{
  static const char *names[ISING_MAX_DIM] = {"process_cuts_x", "process_cuts_y", "process_cuts_z"};
  static const char *kinds[3] = {"even", "measure", "given"};
  if (!g) return 0;
  int rc = ising_io_attr_string(io, "/", "balance", kinds[g->balance]);
  for (int d = 0; d < g->dim && !rc; d++)
    rc = g->grid[d] + 1 <= ISING_BLOCK_ATTR_MAX ? ising_io_attr_int64(io, "/", names[d], g->cut[d], g->grid[d] + 1)
                                                : ising_io_attr_remove(io, "/", names[d]);
  if (!rc)
    rc = g->speeds && g->size <= ISING_BLOCK_ATTR_MAX ? ising_io_attr_double(io, "/", "rank_speeds", g->speeds, g->size)
                                                      : ising_io_attr_remove(io, "/", "rank_speeds");
  return rc;
}

/* The root attributes that describe this invocation (and the run's
 * run_id and restarts, when it checkpoints); a restart rewrites them,
 * start_time stays the run's first start. */
static int write_invocation(ising_io *io, const ising_params *p, int nprocs, const int *layout, const ising_geometry *g,
                            const ising_checkpoint *ck)
{
  char host[256] = "unknown";
  gethostname(host, sizeof(host) - 1);
  int64_t nranks = nprocs, grid[ISING_MAX_DIM];
  for (int d = 0; d < p->dim; d++) grid[d] = layout[d];
  return ising_io_attr_string(io, "/", "version", ISING_VERSION) ||
         ising_io_attr_string(io, "/", "git_revision", ISING_GIT_REVISION) ||
         ising_io_attr_string(io, "/", "command_line", p->command_line ? p->command_line : "") ||
         ising_io_attr_string(io, "/", "options", p->options_text) ||
         ising_io_attr_int64(io, "/", "nranks", &nranks, 0) ||
         ising_io_attr_int64(io, "/", "process_grid", grid, p->dim) || write_blocks(io, g) ||
         ising_io_attr_string(io, "/", "hostname", host) || ising_io_attr_string(io, "/", "status", "running") ||
         (ck && (ising_io_attr_string(io, "/", "run_id", ck->run_id) ||
                 ising_io_attr_int64(io, "/", "restarts", &ck->restarts, 0)));
}

static int write_provenance(ising_io *io, const ising_params *p, int nprocs, const int *layout, const ising_geometry *g,
                            const char *start, const ising_checkpoint *ck)
{
  int64_t size[ISING_MAX_DIM], dim = p->dim;
  for (int d = 0; d < p->dim; d++) size[d] = p->L[d];
  char bc[64] = "";
  for (int d = 0; d < p->dim; d++) {
    strcat(bc, d ? "," : "");
    strcat(bc, p->periodic[d] ? "periodic" : "open");
  }
  int rc = ising_io_attr_string(io, "/", "program", "ising") || write_invocation(io, p, nprocs, layout, g, ck) ||
           ising_io_attr_uint64(io, "/", "seed", &p->seed, 0) ||
           ising_io_attr_uint64(io, "/", "disorder_seed", &p->disorder_seed, 0) ||
           ising_io_attr_string(io, "/", "start_time", start) || ising_io_group(io, "/model") ||
           ising_io_attr_int64(io, "/model", "dim", &dim, 0) ||
           ising_io_attr_int64(io, "/model", "size", size, p->dim) || ising_io_attr_string(io, "/model", "bc", bc) ||
           ising_io_attr_string(io, "/model", "couplings", ising_couplings_name(p->couplings)) ||
           ising_io_attr_double(io, "/model", "field", &p->field, 0) ||
           ising_io_attr_double(io, "/model", "field_sigma", &p->field_sigma, 0);
  if (!rc && p->couplings != ISING_COUPLINGS_GAUSSIAN) rc = ising_io_attr_double(io, "/model", "J", p->J, p->dim);
  if (!rc && p->couplings == ISING_COUPLINGS_PM) rc = ising_io_attr_double(io, "/model", "pm_p", &p->pm_p, 0);
  if (!rc && p->couplings == ISING_COUPLINGS_GAUSSIAN)
    rc = ising_io_attr_double(io, "/model", "gaussian_mean", &p->gaussian_mean, 0) ||
         ising_io_attr_double(io, "/model", "gaussian_sigma", &p->gaussian_sigma, 0);
  return rc;
}

/* The syntax PETSc accepts in an options file, checked on rank 0 before
 * PETSc reads it (PETSc rejects a bad line on rank 0 alone, with a
 * traceback, while the other ranks wait): every line is empty, a comment
 * (#), "alias -new -old", or "-option [value]" with the value one token (double quotes may
 * group words) and an optional trailing comment.  Returns 0 or writes the
 * reason to msg. */
#define DECK_DEPTH                                                                                                     \
  16 /* decks that include decks: PETSc follows them without a limit, and recursed until it crashed                    \
      */

static int check_deck_syntax(const char *file, char *msg, size_t len, int depth)
{
  struct stat st;
  if (depth > DECK_DEPTH) {
    snprintf(msg, len, "option -options_file: decks include each other, or nest deeper than %d ('%s')", DECK_DEPTH,
             file);
    return -1;
  }
  if (stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
    snprintf(msg, len, "option -options_file: '%s' is a directory, not a deck", file);
    return -1;
  }
  FILE *f = fopen(file, "r");
  if (!f) {
    snprintf(msg, len, "option -options_file: cannot read '%s'", file);
    return -1;
  }
  static char line[65536]; /* not on the stack: decks that include decks recurse */
  int n = 0, bad = 0;
  while (!bad && fgets(line, sizeof(line), f)) {
    n++;
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    int tokens = 0, first_dash = 0, alias = 0, include = 0;
    char nested[4096] = "";
    for (char *c = line; *c;) {
      while (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n') c++;
      if (!*c) break;
      if (tokens == 0) {
        first_dash = *c == '-';
        alias = !strncmp(c, "alias", 5) && (c[5] == ' ' || c[5] == '\t'); /* PETSc's "alias -new -old" */
        include = !strncmp(c, "-options_file", 13) && (c[13] == ' ' || c[13] == '\t');
      }
      char *start = c;
      if (*c == '"') {
        char *end = strchr(c + 1, '"');
        c = end ? end + 1 : c + strlen(c);
      } else {
        while (*c && *c != ' ' && *c != '\t' && *c != '\r' && *c != '\n') c++;
      }
      if (tokens == 1 && include) {
        const int quoted = *start == '"';
        snprintf(nested, sizeof(nested), "%.*s", (int)(c - start) - (quoted ? 2 : 0), start + quoted);
      }
      tokens++;
    }
    if (alias && tokens == 3) continue;
    if (tokens && !first_dash) {
      snprintf(msg, len, "option -options_file: '%s' line %d: expected '-option [value]' (an option starts with -)",
               file, n);
      bad = 1;
    } else if (tokens > 2) {
      snprintf(msg, len,
               "option -options_file: '%s' line %d: more than one value after the option (one '-option value' per "
               "line; quote a value with spaces)",
               file, n);
      bad = 1;
    } else if (include && nested[0]) {
      const long at = ftell(f);
      fclose(f); /* one deck open at a time, however deep */
      if (check_deck_syntax(nested, msg, len, depth + 1)) return -1;
      f = fopen(file, "r");
      if (!f || fseek(f, at, SEEK_SET)) {
        if (f) fclose(f);
        snprintf(msg, len, "option -options_file: cannot read '%s'", file);
        return -1;
      }
    }
  }
  fclose(f);
  return bad ? -1 : 0;
}

/* PETSc stops with a traceback on an unreadable or malformed -options_file;
 * checking first gives the one-line message and exit status of every input
 * error on every rank. */
static int check_options_files(int argc, char **argv)
{
  int rank, bad = 0;
  char msg[512] = "";
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-options_file")) continue;
    const char *file = i + 1 < argc ? argv[i + 1] : "";
    if (rank == 0) bad = check_deck_syntax(file, msg, sizeof(msg), 0) != 0;
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (ising_check(MPI_COMM_WORLD, bad, "%s", msg)) return ISING_EXIT_INPUT;
  }
  return 0;
}

/* The name of a signal the run catches. */
static const char *signal_name(int sig)
{
  return sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" : sig == SIGINT ? "SIGINT" : "?";
}

static int finalize(int status)
{
  PetscFinalize();
  /* PetscFinalize puts SIGTERM back to its default action, which would let a signal that arrives now (a batch
   * system's, as the run ends) kill a rank whose output is complete and turn its exit status into a failure: the
   * run's handlers stay, and the signal is too late to matter. */
  ising_checkpoint_rearm();
  MPI_Finalize();
  return status;
}

int main(int argc, char **argv)
{
  char *command_line = join_args(argc, argv);
  int help = take_help_flag(&argc, argv);
  /* Open MPI 4.1's default MPI-IO component (ompio) loses parts of
   * collectively written hyperslabs of HDF5 datasets on 3-4 ranks; ROMIO
   * writes them correctly.  A user's own choice of component is kept. */
  setenv("OMPI_MCA_io", "^ompio", 0);
  MPI_Init(&argc, &argv);
  if (check_options_files(argc, argv)) {
    free(command_line);
    MPI_Finalize();
    return ISING_EXIT_INPUT;
  }
  if (PetscInitialize(&argc, &argv, NULL, NULL)) {
    MPI_Finalize();
    return ISING_EXIT_RUNTIME;
  }
  int rank, size, status = ISING_EXIT_OK;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  if (help) {
    if (rank == 0) ising_params_help(stdout);
    free(command_line);
    return finalize(0);
  }
  /* From here SIGTERM, SIGUSR1 and SIGINT only set a flag, so that none kills a rank while it creates and fills
   * the output file; the flag is acted on when set-up is over (below). */
  ising_checkpoint_catch();

  char start[64];
  now_iso(start, sizeof(start));
  ising_timers_init();
  ising_timer_start(ISING_PHASE_SETUP);
  ising_params p;
  ising_geometry g = {.comm = MPI_COMM_NULL};
  ising_couplings c = {0};
  ising_io io = {.file = H5I_INVALID_HID, .lock_fd = -1};
  ising_freeenergy fe = {0};
  ising_meanfield *mf = NULL;
  ising_checkpoint ck = {0}, *ckp = NULL; /* only the Monte Carlo engines checkpoint */
  int have_io = 0;

  if ((status = ising_params_load(PETSC_COMM_WORLD, size, &p))) goto finish;
  p.command_line = command_line;
  command_line = NULL;
  /* Monte Carlo and mean field decompose the lattice over all ranks;
   * tempering alone decomposes each replica over a group of ranks. */
  const int world_lattice = (p.tasks & (ISING_TASK_MC | ISING_TASK_MEANFIELD | ISING_TASK_ANNEAL | ISING_TASK_QUENCH |
                                        ISING_TASK_FREEENERGY)) != 0;
  int layout[ISING_MAX_DIM] = {1, 1, 1};
  if (world_lattice) {
    if ((status = ising_geometry_create(PETSC_COMM_WORLD, &p, &g))) goto finish;
    memcpy(layout, g.grid, sizeof(layout));
  } else if (p.have_process_grid) {
    memcpy(layout, p.process_grid, sizeof(layout));
  } else if (ising_check(PETSC_COMM_WORLD, ising_geometry_best_grid(p.dim, p.L, p.ranks_per_replica, layout) != 0,
                         "option -ranks_per_replica: %d ranks cannot share the %dD lattice with at least one site "
                         "per rank along every axis",
                         p.ranks_per_replica, p.dim)) {
    status = ISING_EXIT_INPUT;
    goto finish;
  }
  if (rank == 0 && !p.quiet) {
    printf("ising %s (%s), %d MPI rank%s, process grid", ISING_VERSION, ISING_GIT_REVISION, size, size > 1 ? "s" : "");
    for (int d = 0; d < p.dim; d++) printf("%s%d", d ? " x " : " ", layout[d]);
    if (!world_lattice) printf(" per replica group of %d", p.ranks_per_replica);
    printf("\n");
    ising_params_print(&p, stdout);
    if (world_lattice && g.speeds) ising_geometry_print_blocks(&g, "", stdout);
    fflush(stdout);
  }
  if (world_lattice && (status = ising_couplings_create(&p, &g, &c))) goto finish;
  const int need_mf =
      (p.tasks & ISING_TASK_MEANFIELD) || ((p.tasks & ISING_TASK_FREEENERGY) && p.ais_start == ISING_AIS_MEANFIELD);
  if (need_mf && (status = ising_meanfield_create(&p, &g, &c, &mf))) goto finish;
  MPI_Comm comm = world_lattice ? g.comm : PETSC_COMM_WORLD;
  if (p.tasks & (ISING_TASK_MC | ISING_TASK_TEMPERING | ISING_TASK_ANNEAL)) {
    ckp = &ck;
    if ((status = ising_checkpoint_setup(&p, comm, &ck))) goto finish;
  }
  if (p.restart[0]) {
    /* The checkpoint holds the output as it was: continue in a copy of it. */
    if ((status = ising_checkpoint_restore_output(&ck, &io))) goto finish;
    have_io = 1;
    if (write_invocation(&io, &p, size, layout, world_lattice ? &g : NULL, &ck)) {
      status = ISING_EXIT_RUNTIME;
      goto finish;
    }
    if (rank == 0 && !p.quiet)
      printf("continuing from checkpoint %s (restart %lld of this run)\n", p.restart, (long long)ck.restarts);
  } else {
    if ((status = ising_io_create(comm, p.output, p.overwrite, &io))) goto finish;
    have_io = 1;
    if (write_provenance(&io, &p, size, layout, world_lattice ? &g : NULL, start, ckp) ||
        (world_lattice && ising_couplings_write(&io, &g, &c, 1))) {
      status = ISING_EXIT_RUNTIME;
      goto finish;
    }
  }
  ising_timer_stop(ISING_PHASE_SETUP);

  if ((status = ising_freeenergy_init(&p, comm, &io, &fe))) goto finish;
  if (p.restart[0] && ising_freeenergy_restore(&fe)) {
    status = ISING_EXIT_RUNTIME;
    goto finish;
  }
  if (ckp) {
    ising_checkpoint_arm(ckp); /* a signal caught in set-up: a checkpoint at the first sweep, exit 4 */
  } else {
    /* Nothing to checkpoint: the signals act as they did before (the handlers go first, so that none can slip
     * in between), and one that came in set-up stops the run now, its output removed. */
    ising_checkpoint_release();
    int sig = ising_checkpoint_signal();
    MPI_Allreduce(MPI_IN_PLACE, &sig, 1, MPI_INT, MPI_MAX, PETSC_COMM_WORLD);
    if (sig) {
      if (rank == 0)
        fprintf(stderr,
                "ising: interrupted by signal %s during set-up: nothing was computed, the output '%s' is removed "
                "(only -task mc, tempering and anneal write checkpoints)\n",
                signal_name(sig), p.output);
      status = 128 + sig;
      goto finish;
    }
  }
  /* The tasks in the order they run; after a restart those that had
   * finished are in the restored file already. */
  static const unsigned order[] = {ISING_TASK_MC,     ISING_TASK_MEANFIELD, ISING_TASK_TEMPERING,
                                   ISING_TASK_ANNEAL, ISING_TASK_QUENCH,    ISING_TASK_FREEENERGY};
  for (size_t k = 0; k < sizeof(order) / sizeof(*order) && !status; k++) {
    const unsigned t = order[k];
    if (!(p.tasks & t) || (ckp && ising_checkpoint_task_done(ckp, t))) continue;
    switch (t) {
    case ISING_TASK_MC: status = ising_mc_run(&p, &g, &c, &io, &fe, ckp); break;
    case ISING_TASK_MEANFIELD: status = ising_meanfield_run(mf, &io, &fe); break;
    case ISING_TASK_TEMPERING: status = ising_tempering_run(&p, &io, &fe, ckp); break;
    case ISING_TASK_ANNEAL: status = ising_anneal_run(&p, &g, &c, &io, &fe, ckp); break;
    case ISING_TASK_QUENCH: status = ising_quench_run(&p, &g, &c, &io); break;
    default: status = ising_ais_run(&p, &g, &c, mf, &io, &fe); break;
    }
    if (!status && ckp) ising_checkpoint_mark_done(ckp, t);
  }
  if (!status && !p.quiet && rank == 0) ising_freeenergy_report(&fe, stdout);
  if (status == ISING_EXIT_INTERRUPTED) {
    /* The checkpoint is written; the output keeps what was finished. */
    if (ising_io_attr_string(&io, "/", "status", "interrupted") || ising_io_close(&io)) {
      status = ISING_EXIT_RUNTIME;
    } else {
      have_io = 0;
      const int sig = ising_checkpoint_signal();
      if (rank == 0)
        fprintf(stderr,
                "ising: interrupted by %s%s: checkpoint written to %s; continue with the same options and -restart "
                "%s\n",
                sig ? "signal " : "a signal to another rank", sig ? signal_name(sig) : "", ck.path, ck.path);
    }
  }
  if (!status) {
    char finish[64];
    now_iso(finish, sizeof(finish));
    if (ising_io_attr_string(&io, "/", "finish_time", finish) || ising_io_attr_string(&io, "/", "status", "complete") ||
        ising_io_close(&io))
      status = ISING_EXIT_RUNTIME;
    else
      have_io = 0;
  }
  if (!status && ckp) ising_checkpoint_finish(ckp);
  if (!status && !p.quiet) {
    ising_timers_report(comm, stdout);
    if (rank == 0) printf("\nwrote %s\n", p.output);
  }

finish:
  if (have_io) ising_io_discard(&io);
  ising_checkpoint_free(&ck);
  ising_meanfield_destroy(&mf);
  ising_freeenergy_free(&fe);
  ising_couplings_free(&c);
  ising_geometry_free(&g);
  ising_params_free(&p);
  free(command_line);
  return finalize(status);
}
