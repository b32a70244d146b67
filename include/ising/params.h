/* params.h: the options database -> one validated parameter struct.
 *
 *   int ising_params_load(MPI_Comm comm, int nranks, ising_params *p)
 *       Collective.  Reads every option of the program from the PETSc options
 *       database (options files and command line), validates it, and fills p
 *       identically on every rank.  Options that nobody reads (misspelt or
 *       unknown) are an error.  On any error one message naming the option and
 *       what is allowed is printed (by rank 0) and ISING_EXIT_INPUT is
 *       returned on every rank; 0 on success.
 *
 *   void ising_params_help(FILE *out)
 *       Local.  Prints every option with its default and a one-line
 *       description (the text of -help).
 *
 *   void ising_params_print(const ising_params *p, FILE *out)
 *       Local.  Human-readable summary of the run's parameters.
 *
 *   int ising_params_check_unused(MPI_Comm comm)
 *       Collective.  Fails (message, ISING_EXIT_INPUT on every rank) if the
 *       options database holds an option nobody has read.  ising_params_load
 *       calls it, except that it lets the mean-field solver's PETSc options
 *       (-mf_snes_*, -mf_ksp_*, -mf_pc_*, -mf_mat_*) through when that solver
 *       is used; the solver calls it again once PETSc has read them.
 *
 *   const char *ising_mf_init_name(int k)
 *       Local.  Spelling of starting point k (bit k of ising_mf_init).
 *
 *   void ising_params_free(ising_params *p)
 *       Local.  Releases the lists and strings held by p.
 *
 *   const char *ising_algorithm_name(ising_algorithm a),
 *   const char *ising_couplings_name(ising_couplings_kind k)
 *       Local.  The option spelling of an enumerated value.
 */
#ifndef ISING_PARAMS_H
#define ISING_PARAMS_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#define ISING_MAX_DIM  3
#define ISING_PATH_MAX 4096

typedef enum { ISING_COUPLINGS_UNIFORM, ISING_COUPLINGS_PM, ISING_COUPLINGS_GAUSSIAN } ising_couplings_kind;
typedef enum { ISING_ALGORITHM_METROPOLIS, ISING_ALGORITHM_HEATBATH } ising_algorithm;
typedef enum {
  ISING_TASK_MC = 1u << 0,
  ISING_TASK_MEANFIELD = 1u << 1,
  ISING_TASK_TEMPERING = 1u << 2,
  ISING_TASK_ANNEAL = 1u << 3,
  ISING_TASK_QUENCH = 1u << 4,
  ISING_TASK_FREEENERGY = 1u << 5
} ising_task;
/* The tasks that move their blocks with -rebalance (rebalance.h). */
#define ISING_REBALANCE_TASKS (ISING_TASK_MC | ISING_TASK_TEMPERING | ISING_TASK_QUENCH | ISING_TASK_ANNEAL)
typedef enum { ISING_MF_SWEEPS, ISING_MF_SNES } ising_mf_solver;
typedef enum { ISING_AIS_UNIFORM, ISING_AIS_MEANFIELD } ising_ais_start;
typedef enum { ISING_PT_ADAPT_EQUAL_ACCEPTANCE, ISING_PT_ADAPT_FEEDBACK } ising_pt_adapt;
/* Starting points of the mean-field solver, in the order they are tried. */
typedef enum {
  ISING_MF_INIT_PARAMAGNETIC = 1u << 0, /* m_i = 0 */
  ISING_MF_INIT_FERRO = 1u << 1,        /* m_i = 1 */
  ISING_MF_INIT_ANTIFERRO = 1u << 2,    /* m_i = +-1 by checkerboard colour */
  ISING_MF_INIT_RANDOM = 1u << 3        /* m_i uniform in (-1, 1), keyed by (seed, site) */
} ising_mf_init;
#define ISING_MF_NINIT 4

/* -balance: equal blocks, blocks sized by speeds timed at start-up, or by given speeds. */
typedef enum { ISING_BALANCE_EVEN = 0, ISING_BALANCE_MEASURE = 1, ISING_BALANCE_GIVEN = 2 } ising_balance;

typedef struct {
  /* lattice */
  int dim;                     /* 1, 2 or 3 */
  int64_t L[ISING_MAX_DIM];    /* sites per axis (1 on unused axes) */
  int periodic[ISING_MAX_DIM]; /* 1 periodic, 0 open (0 on unused axes) */
  int64_t nsites;              /* product of L */
  /* couplings and fields */
  ising_couplings_kind couplings;
  double J[ISING_MAX_DIM]; /* uniform / +-J magnitude per axis */
  double pm_p;             /* probability of an antiferromagnetic (-J) bond */
  double gaussian_mean, gaussian_sigma;
  double field, field_sigma;
  uint64_t seed, disorder_seed;
  /* temperatures */
  int nbeta;
  double *beta;
  /* what to run */
  unsigned tasks; /* bitmask of ising_task */
  ising_algorithm algorithm;
  int64_t sweeps, thermalize, measure_interval, snapshot_interval;
  int hot_start;
  /* parallel tempering */
  int ranks_per_replica;  /* ranks of one replica group */
  int replicas_per_group; /* derived: nbeta / (nranks / ranks_per_replica) */
  int64_t pt_swap_interval;
  int disorder_samples;    /* tempering: independent disorder samples */
  int pt_replica_sets;     /* 1, or 2 for spin-glass overlaps */
  int64_t pt_adapt_sweeps; /* tuning sweeps before thermalisation (0: fixed ladder) */
  int pt_adapt_method;     /* ising_pt_adapt */
  /* simulated annealing */
  int anneal_geometric; /* 1 geometric, 0 linear schedule in beta */
  double anneal_beta_start, anneal_beta_end;
  int64_t anneal_steps, anneal_sweeps_per_step, anneal_restarts;
  /* quench */
  double quench_beta; /* +inf: zero temperature */
  int64_t quench_sweeps;
  int64_t *quench_times; /* measurement times in sweeps, strictly increasing, last = quench_sweeps */
  int quench_ntimes;
  int quench_histories, quench_snapshots, quench_structure_factor;
  /* annealed importance sampling */
  int ais_chains;
  int64_t reweight_points; /* MBAR reweighting grid (0: none) */
  int64_t ais_steps, ais_sweeps_per_step;
  int ais_start;           /* ISING_AIS_UNIFORM or ISING_AIS_MEANFIELD */
  int ais_ranks_per_chain; /* ranks that decompose one chain (a divisor of the rank count; all by default) */
  /* mean field */
  int mf_solver; /* ISING_MF_SWEEPS or ISING_MF_SNES */
  double mf_damping, mf_tol;
  int64_t mf_max_iter;
  unsigned mf_init; /* bitmask of ising_mf_init */
  /* decomposition */
  int have_process_grid;
  int process_grid[ISING_MAX_DIM];
  int balance;            /* ising_balance: how the blocks are sized */
  int nbalance;           /* -balance list: its length, the number of MPI ranks */
  double *balance_speeds; /* -balance list: relative speed of each MPI rank, in rank order */
  int64_t rebalance;      /* -rebalance: sweeps between load checks (mc, tempering, quench, anneal), 0: none */
  double rebalance_gain;  /* -rebalance_gain: least gain of the slowest rank's time for which blocks move */
  /* output and run control */
  char output[ISING_PATH_MAX];
  int overwrite;
  int exact; /* 1: compute exact values where the exact module applies */
  int quiet;
  double progress_interval; /* seconds between progress lines */
  /* checkpoints */
  char checkpoint_file[ISING_PATH_MAX]; /* -checkpoint_file, or derived from output */
  double checkpoint_interval;           /* seconds, 0: only on signals */
  char restart[ISING_PATH_MAX];         /* -restart, "" for a fresh run */
  char *options_text;                   /* the whole options database, for provenance */
  char *command_line;
} ising_params;

int ising_params_load(MPI_Comm comm, int nranks, ising_params *p);
void ising_params_help(FILE *out);
void ising_params_print(const ising_params *p, FILE *out);
void ising_params_free(ising_params *p);
int ising_params_check_unused(MPI_Comm comm);
const char *ising_mf_init_name(int k);
const char *ising_algorithm_name(ising_algorithm a);
const char *ising_couplings_name(ising_couplings_kind k);

#endif
