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

typedef struct {
  MPI_Comm comm;
  int rank;
  hid_t file;
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
int ising_io_dataset_double(ising_io *io, const char *path, int rank, const int64_t *dims);
int ising_io_write_double(ising_io *io, const char *path, const int64_t *start, const int64_t *count,
                          const double *data);
int ising_io_dataset_field(ising_io *io, const char *path, int64_t nlead, const ising_geometry *g, hid_t type);
int ising_io_write_field(ising_io *io, const char *path, int64_t lead, const ising_geometry *g, hid_t memtype,
                         const void *extended);
int ising_io_write_field_part(ising_io *io, const char *path, int64_t lead, const ising_geometry *g, hid_t memtype,
                              const void *extended, int active);
void ising_io_set_prefix(ising_io *io, const char *prefix);
int ising_io_flush(ising_io *io);
int ising_io_close(ising_io *io);
void ising_io_discard(ising_io *io);

#endif
