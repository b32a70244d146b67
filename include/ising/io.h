/* io.h: the run's one shared HDF5 file, written collectively through MPI-IO.
 *
 * Every function here is collective over the communicator the file was
 * created with; every rank passes the same arguments except where a
 * function writes this rank's block of a decomposed field.  Rank 0 writes
 * the small replicated datasets; the others take part with an empty
 * selection.  Errors return -1 on every rank (messages via ising_check).
 *
 *   int ising_io_create(MPI_Comm comm, const char *path, int overwrite, ising_io *io)
 *       Creates the file (refusing an existing one unless overwrite), with
 *       HDF5's own error printing silenced.  Rank 0 first takes a lock on
 *       path.lock (fcntl, held until ising_io_close or ising_io_discard,
 *       which remove it), so a second run pointed at the same file stops,
 *       with or without overwrite.  Returns 0, or ISING_EXIT_INPUT after one
 *       message naming -output.
 *   int ising_io_group(ising_io *io, const char *path)
 *       Creates a group (and its parents) if missing.
 *   int ising_io_attr_string(ising_io *io, const char *obj, const char *name, const char *value)
 *   int ising_io_attr_int64(ising_io *io, const char *obj, const char *name, const int64_t *v, int n)
 *   int ising_io_attr_uint64(ising_io *io, const char *obj, const char *name, const uint64_t *v, int n)
 *   int ising_io_attr_double(ising_io *io, const char *obj, const char *name, const double *v, int n)
 *       Writes (or rewrites) an attribute of the object at path obj ("/" for
 *       the root): an array of n values, or a scalar (one value) when n == 0.
 *       HDF5 (this file format) holds at most 64 KiB in one attribute.
 *   int ising_io_attr_remove(ising_io *io, const char *obj, const char *name)
 *       Removes an attribute if it exists (collective, like the writes).
 *   int ising_io_dataset_double(ising_io *io, const char *path, int rank, const int64_t *dims)
 *       Creates a double dataset filled with NaN (rank 1 or 2).
 *   int ising_io_write_double(ising_io *io, const char *path, const int64_t *start, const int64_t *count,
 *                             const double *data)
 *       Rank 0 writes the hyperslab [start, start+count) of a dataset from data
 *       (row-major); the other ranks' data are ignored.
 *   int ising_io_dataset_field(ising_io *io, const char *path, int64_t nlead, const ising_geometry *g,
 *                              hid_t type)
 *       Creates a dataset [nlead, (Lz,) (Ly,) Lx] (no leading axis if nlead == 0)
 *       of type H5T_NATIVE_INT8 or H5T_NATIVE_DOUBLE, contiguous, allocated
 *       at creation and not filled.
 *   int ising_io_write_field(ising_io *io, const char *path, int64_t lead, const ising_geometry *g,
 *                            hid_t memtype, const void *extended)
 *       Every rank writes its interior block of an extended array (geometry.h)
 *       into entry lead of the leading axis (ignored when there is none).
 *   int ising_io_write_field_part(ising_io *io, const char *path, int64_t lead, const ising_geometry *g,
 *                                 hid_t memtype, const void *extended, int active)
 *       The same where g is the geometry of a sub-communicator (a tempering
 *       replica group): the ranks with active == 0 take part in the
 *       collective write with nothing to write.
 *   int ising_io_read_field_part(ising_io *io, const char *path, int64_t lead, const ising_geometry *g,
 *                                hid_t memtype, void *extended, int active)
 *       The reverse: every active rank reads its interior block (the halo
 *       is not touched).
 *   int ising_io_dataset(ising_io *io, const char *path, hid_t type, int rank, const int64_t *dims)
 *       Creates a dataset of any type and rank <= ISING_IO_MAX_RANK,
 *       allocated at creation and not filled.
 *   int ising_io_write_part(ising_io *io, const char *path, hid_t memtype, const int64_t *start,
 *                           const int64_t *count, const void *data, int active)
 *   int ising_io_read_part(ising_io *io, const char *path, hid_t memtype, const int64_t *start,
 *                          const int64_t *count, void *data, int active)
 *       Every active rank writes (reads) its own hyperslab [start, start +
 *       count) of a dataset from (into) the contiguous buffer data; the
 *       others take part with nothing.  ising_io_write_double is the case
 *       "rank 0 writes".
 *   int ising_io_open(MPI_Comm comm, const char *path, int writable, ising_io *io)
 *       Opens an existing file read-only (or read-write when writable),
 *       through MPI-IO, or with HDF5's default driver when comm is
 *       MPI_COMM_SELF.  Returns 0, or -1 on every rank without a message
 *       (missing, unreadable, truncated or not HDF5: the caller explains).
 *   int ising_io_lock(MPI_Comm comm, const char *path, ising_io *io)
 *   int ising_io_open_locked(ising_io *io)
 *   void ising_io_unlock(ising_io *io)
 *       For a run that continues in an existing output (-restart):
 *       ising_io_lock initialises io without a file and takes the lock of
 *       path as ising_io_create does (0, or ISING_EXIT_INPUT after one
 *       message); the caller may then check and rewrite path and open it
 *       read-write with ising_io_open_locked (0, or -1 without a message),
 *       or give the lock up with ising_io_unlock.  ising_io_close and
 *       ising_io_discard release it as after ising_io_create.
 *   int ising_io_replace(MPI_Comm comm, const char *path, ising_io *io)
 *       Creates path, truncating an existing file, with io quiet (see
 *       ising_io_quiet).  Returns 0, or -1 on every rank without a message.
 *   void ising_io_keep_existing(ising_io *io, int keep)
 *       Local.  While keep is set, creating a dataset that already exists
 *       with the same type and shape keeps it and its contents (a restarted
 *       run continues in the file its checkpoint restored); another shape
 *       is still an error.
 *   void ising_io_quiet(ising_io *io, int quiet)
 *       Local.  While quiet is set, failures return -1 without a message.
 *   int ising_io_shape(ising_io *io, const char *path, hid_t type, int *rank, int64_t *dims)
 *       0 and the shape when a dataset exists at path with the class, size
 *       and sign of type; -1 (no message) otherwise.
 *   int ising_io_read_attr(ising_io *io, const char *obj, const char *name, hid_t memtype, void *v, int n)
 *   int ising_io_read_attr_string(ising_io *io, const char *obj, const char *name, char *out, size_t len)
 *       Reads an attribute written by the functions above: n values (a
 *       scalar when n == 0) of the class of memtype, or a string shorter than
 *       len.  -1 (no message) when it is missing or of another kind.
 *   int ising_io_attr_length(ising_io *io, const char *obj, const char *name, hid_t memtype)
 *       The number of values of a numeric attribute of that class (0 for a
 *       scalar), -1 when missing or of another kind.
 *   void ising_io_set_prefix(ising_io *io, const char *prefix)
 *       Local (call it on every rank alike).  Every later path p means
 *       prefix + p ("/samples/3" + "/observables/energy"); "" or NULL
 *       restores plain paths.
 *   int ising_io_flush(ising_io *io)
 *   int ising_io_close(ising_io *io)
 *   void ising_io_discard(ising_io *io)
 *       Closes and deletes the file (a run that failed during set-up leaves
 *       nothing behind).
 */
#ifndef ISING_IO_H
#define ISING_IO_H

#include "ising/geometry.h"
#include "ising/params.h"

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

#define ISING_IO_MAX_RANK 4

typedef struct {
  MPI_Comm comm;
  int rank;
  hid_t file;
  int keep_existing; /* ising_io_keep_existing */
  int quiet;         /* ising_io_quiet */
  int serial;        /* opened with HDF5's default driver (ising_io_open on MPI_COMM_SELF) */
  char path[ISING_PATH_MAX];
  char prefix[128]; /* prepended to every object path (ising_io_set_prefix) */
  int lock_fd;      /* rank 0: descriptor holding the lock on path.lock, else -1 */
} ising_io;

int ising_io_create(MPI_Comm comm, const char *path, int overwrite, ising_io *io);
int ising_io_group(ising_io *io, const char *path);
int ising_io_attr_string(ising_io *io, const char *obj, const char *name, const char *value);
int ising_io_attr_int64(ising_io *io, const char *obj, const char *name, const int64_t *v, int n);
int ising_io_attr_uint64(ising_io *io, const char *obj, const char *name, const uint64_t *v, int n);
int ising_io_attr_double(ising_io *io, const char *obj, const char *name, const double *v, int n);
int ising_io_attr_remove(ising_io *io, const char *obj, const char *name);
int ising_io_dataset_double(ising_io *io, const char *path, int rank, const int64_t *dims);
int ising_io_write_double(ising_io *io, const char *path, const int64_t *start, const int64_t *count,
                          const double *data);
int ising_io_dataset_field(ising_io *io, const char *path, int64_t nlead, const ising_geometry *g, hid_t type);
int ising_io_write_field(ising_io *io, const char *path, int64_t lead, const ising_geometry *g, hid_t memtype,
                         const void *extended);
int ising_io_write_field_part(ising_io *io, const char *path, int64_t lead, const ising_geometry *g, hid_t memtype,
                              const void *extended, int active);
int ising_io_read_field_part(ising_io *io, const char *path, int64_t lead, const ising_geometry *g, hid_t memtype,
                             void *extended, int active);
int ising_io_dataset(ising_io *io, const char *path, hid_t type, int rank, const int64_t *dims);
int ising_io_write_part(ising_io *io, const char *path, hid_t memtype, const int64_t *start, const int64_t *count,
                        const void *data, int active);
int ising_io_read_part(ising_io *io, const char *path, hid_t memtype, const int64_t *start, const int64_t *count,
                       void *data, int active);
int ising_io_open(MPI_Comm comm, const char *path, int writable, ising_io *io);
int ising_io_lock(MPI_Comm comm, const char *path, ising_io *io);
int ising_io_open_locked(ising_io *io);
void ising_io_unlock(ising_io *io);
int ising_io_replace(MPI_Comm comm, const char *path, ising_io *io);
void ising_io_keep_existing(ising_io *io, int keep);
void ising_io_quiet(ising_io *io, int quiet);
int ising_io_shape(ising_io *io, const char *path, hid_t type, int *rank, int64_t *dims);
int ising_io_read_attr(ising_io *io, const char *obj, const char *name, hid_t memtype, void *v, int n);
int ising_io_read_attr_string(ising_io *io, const char *obj, const char *name, char *out, size_t len);
int ising_io_attr_length(ising_io *io, const char *obj, const char *name, hid_t memtype);
void ising_io_set_prefix(ising_io *io, const char *prefix);
int ising_io_flush(ising_io *io);
int ising_io_close(ising_io *io);
void ising_io_discard(ising_io *io);

#endif
