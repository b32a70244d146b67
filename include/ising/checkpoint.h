/* checkpoint.h: atomic checkpoints of a running Monte Carlo engine, written
 * on a timer and on SIGTERM, SIGUSR1 and SIGINT, and the restart from one.
 *
 * A checkpoint is one HDF5 file (layout in docs/output-format.md) holding
 * the physics options of the run (compared on restart), the output file as
 * it stood at that moment (its bytes, after a flush), and the state of the
 * engine that was running: spins of every replica as global fields, step
 * counters, time series so far, tempering labels and ladder.  Random numbers
 * need no state: they are Philox of (seed, stream, step, site).  A restart
 * therefore continues bit-identically on any number of ranks and process
 * grid.  Every dataset carries a checksum that does not depend on the
 * decomposition.  It is written collectively to <file>.tmp, synced
 * (MPI_File_sync, then fsync on rank 0), renamed over <file> by rank 0 after
 * a barrier, and the directory is synced: a crash at any moment leaves the
 * previous checkpoint intact.
 *
 * Use by the driver:
 *   int ising_checkpoint_setup(const ising_params *p, MPI_Comm comm, ising_checkpoint *ck)
 *       Collective.  Before the output file exists.  A fresh run refuses an
 *       existing -checkpoint_file (unless -overwrite) and a directory in which
 *       it cannot be created; a restart validates the -restart file on rank 0
 *       (format, physics options, shapes, types, checksums).  Returns 0 or
 *       ISING_EXIT_INPUT after one message naming the option.
 *   int ising_checkpoint_restore_output(ising_checkpoint *ck, ising_io *io)
 *       Collective.  Restart only: an existing -output is replaced only when
 *       it is the unfinished output of the same run (root attributes run_id
 *       equal and status running or interrupted) or with -overwrite; then the
 *       output saved in the checkpoint is written to -output and opened
 *       read-write in io, with ising_io_keep_existing set.  Returns 0,
 *       ISING_EXIT_INPUT or ISING_EXIT_RUNTIME.
 *   void ising_checkpoint_catch(void)
 *       Local.  Installs the signal handlers (SIGTERM, SIGUSR1 and SIGINT
 *       only set a flag), remembering what the signals did before: from the
 *       start of set-up, so that a signal then cannot kill a rank while it
 *       writes the output file.
 *   void ising_checkpoint_release(void)
 *       Local.  Puts back what the signals did before ising_checkpoint_catch
 *       (a run that does not checkpoint, once set up, ends on them as any
 *       program does).  The flag stays.
 *   void ising_checkpoint_arm(ising_checkpoint *ck)
 *       Local.  Installs the signal handlers and starts the checkpoint clock.
 *       A signal caught before (in set-up) is acted on at the first poll.
 *   void ising_checkpoint_rearm(void)
 *       Local.  Installs them again if they are installed (not released):
 *       after PetscFinalize, which resets SIGTERM to its default action, so
 *       that a signal in MPI_Finalize does not kill a rank whose run is over.
 *   int ising_checkpoint_task_done(const ising_checkpoint *ck, unsigned task)
 *       Local.  1 when the restart checkpoint was written after task (an
 *       ising_task bit) had finished: its results are in the restored output.
 *   void ising_checkpoint_mark_done(ising_checkpoint *ck, unsigned task)   Local.
 *   void ising_checkpoint_finish(ising_checkpoint *ck)
 *       Collective.  After a complete run: removes the checkpoint this run
 *       wrote or restarted from (the output now holds everything).
 *   int ising_checkpoint_signal(void)
 *       Local.  The signal caught so far (0: none).
 *   void ising_checkpoint_free(ising_checkpoint *ck)                     Local.
 *
 * Use by an engine (all collective over ck->comm, the output's communicator):
 *   int ising_checkpoint_poll(ising_checkpoint *ck)
 *       At a sweep boundary.  ISING_CHECKPOINT_NONE, _WRITE (the interval
 *       has passed on rank 0's clock) or _STOP (a signal reached some rank:
 *       write, then return ISING_EXIT_INTERRUPTED).  Every rank gets the same
 *       answer.  Only every c-th call communicates (one MPI_Allreduce of two
 *       ints), c chosen by rank 0 so that about ISING_CHECKPOINT_POLL_SECONDS
 *       pass between them.
 *   int ising_checkpoint_begin(ising_checkpoint *ck, ising_io *out, unsigned task, ising_io *cio)
 *       Flushes the output, creates <file>.tmp in cio and writes the header,
 *       the physics options and the output's bytes.  The engine then writes
 *       its state under /<task> with ising_checkpoint_put*.
 *   int ising_checkpoint_end(ising_checkpoint *ck, ising_io *cio, int failed)
 *       Commits (sync, close, rename) unless failed; on any failure removes
 *       the temporary file and prints one message.  Returns 0 or -1.
 *   int ising_checkpoint_resume(ising_checkpoint *ck, unsigned task, ising_io *cio)
 *       1 (and cio opened on the restart file) when the run restarts inside
 *       task, once; 0 otherwise; -1 after a message.
 *   int ising_checkpoint_put(ising_io *cio, const char *path, hid_t type, int rank, const int64_t *dims,
 *                            const void *data)
 *   int ising_checkpoint_get(ising_io *cio, const char *path, hid_t type, int64_t n, void *data)
 *       A replicated array (rank 0's copy is written; every rank reads all
 *       n values) of type H5T_NATIVE_INT64 or H5T_NATIVE_DOUBLE.  A rank
 *       that does not keep the array passes data NULL to get (rank 0 must
 *       not): it takes part in the collective read and receives nothing.
 *   int ising_checkpoint_put_series(ising_io *cio, const char *path, int rank, int64_t rows, int64_t ld, int64_t n,
 *                                   const double *data)
 *   int ising_checkpoint_get_series(ising_io *cio, const char *path, int rank, int64_t rows, int64_t ld,
 *                                   int64_t nmin, double *data)
 *       Time series so far: the first n entries of each of rows rows, row k
 *       at data + k ld (rank 2: dataset [rows, n]; rank 1: rows == 1,
 *       dataset [n]); rank 0's copy is written.  get reads every stored
 *       entry into the same places and fails unless nmin <= n <= ld (n >= 1).
 *       Only rank 0 needs the series: the other ranks may pass data NULL
 *       to both (mc and tempering keep their series on rank 0 alone).
 *       The measurements not yet made are not written: a checkpoint grows
 *       with the run instead of holding the whole length from the start.
 *   int ising_checkpoint_put_spins(ising_io *cio, const char *path, const ising_geometry *g, int64_t nlead,
 *                                  int8_t *const *spins)
 *   int ising_checkpoint_get_spins(ising_io *cio, const char *path, const ising_geometry *g, int64_t nlead,
 *                                  int8_t *const *spins)
 *       Spin fields [nlead, (z,) (y,) x] (no leading axis when nlead == 0,
 *       spins[0] then): spins[j] is this rank's extended array of entry j,
 *       NULL where another replica group holds it.  get checks that every
 *       spin is +-1 and leaves the halo to the caller.
 *   int ising_checkpoint_check(const ising_checkpoint *ck, int failed, const char *what)
 *       One message "checkpoint ... is inconsistent: what" when any rank
 *       failed; returns 1 then.
 */
#ifndef ISING_CHECKPOINT_H
#define ISING_CHECKPOINT_H

#include "ising/geometry.h"
#include "ising/io.h"
#include "ising/params.h"

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

enum { ISING_CHECKPOINT_NONE = 0, ISING_CHECKPOINT_WRITE = 1, ISING_CHECKPOINT_STOP = 2 };

/* Root attribute format_version.  2: the update random numbers are drawn 16 + 16 bits per site (rng.h); a
 * version-1 checkpoint continued with them would not reproduce its run, so it is refused.  3: the time
 * series hold the measurements made so far, not their whole length; version 2 (whole length) is still read. */
#define ISING_CHECKPOINT_FORMAT        3
#define ISING_CHECKPOINT_FORMAT_OLDEST 2    /* the oldest format_version a restart accepts */
#define ISING_CHECKPOINT_POLL_SECONDS  0.01 /* target time between agreed polls */

typedef struct {
  MPI_Comm comm; /* the output file's communicator (all ranks) */
  int rank;
  int quiet;
  double interval;              /* -checkpoint_interval, 0: signals only */
  char path[ISING_PATH_MAX];    /* -checkpoint_file */
  char tmp[ISING_PATH_MAX + 8]; /* path + ".tmp" */
  char restart[ISING_PATH_MAX]; /* -restart, "" for a fresh run */
  char run_id[40];              /* identifies the run across restarts */
  int64_t restarts;             /* restarts so far, this one included */
  unsigned tasks_done;          /* tasks finished (from the restart checkpoint, then by the driver) */
  unsigned resume_task;         /* task the restart checkpoint was written in, 0 for a fresh run */
  int resumed;                  /* the engine has taken the restart state */
  int64_t written;              /* checkpoints written by this run */
  int countdown, cadence;       /* polls left until the next agreed one, and their number */
  double last_poll, last_write; /* rank 0's clock */
  double t_begin;               /* when the checkpoint being written was begun */
  unsigned task;                /* the task it is written in */
  ising_params p0;              /* the physics options as given (engines retune beta, reseed samples) */
} ising_checkpoint;

int ising_checkpoint_setup(const ising_params *p, MPI_Comm comm, ising_checkpoint *ck);
int ising_checkpoint_restore_output(ising_checkpoint *ck, ising_io *io);
void ising_checkpoint_catch(void);
void ising_checkpoint_release(void);
void ising_checkpoint_arm(ising_checkpoint *ck);
void ising_checkpoint_rearm(void);
int ising_checkpoint_task_done(const ising_checkpoint *ck, unsigned task);
void ising_checkpoint_mark_done(ising_checkpoint *ck, unsigned task);
void ising_checkpoint_finish(ising_checkpoint *ck);
int ising_checkpoint_signal(void);
void ising_checkpoint_free(ising_checkpoint *ck);

int ising_checkpoint_poll(ising_checkpoint *ck);
int ising_checkpoint_begin(ising_checkpoint *ck, ising_io *out, unsigned task, ising_io *cio);
int ising_checkpoint_end(ising_checkpoint *ck, ising_io *cio, int failed);
int ising_checkpoint_resume(ising_checkpoint *ck, unsigned task, ising_io *cio);
int ising_checkpoint_put(ising_io *cio, const char *path, hid_t type, int rank, const int64_t *dims, const void *data);
int ising_checkpoint_get(ising_io *cio, const char *path, hid_t type, int64_t n, void *data);
int ising_checkpoint_put_series(ising_io *cio, const char *path, int rank, int64_t rows, int64_t ld, int64_t n,
                                const double *data);
int ising_checkpoint_get_series(ising_io *cio, const char *path, int rank, int64_t rows, int64_t ld, int64_t nmin,
                                double *data);
int ising_checkpoint_put_spins(ising_io *cio, const char *path, const ising_geometry *g, int64_t nlead,
                               int8_t *const *spins);
int ising_checkpoint_get_spins(ising_io *cio, const char *path, const ising_geometry *g, int64_t nlead,
                               int8_t *const *spins);
int ising_checkpoint_check(const ising_checkpoint *ck, int failed, const char *what);

#endif
