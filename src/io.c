/* io.c: the shared HDF5 output file (io.h).  Every function is collective
 * over io->comm. */
#include "ising/io.h"

#include "ising/error.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The lock of an output file: PATH.lock, holding a POSIX record lock
 * (fcntl) for as long as the run writes PATH.  The kernel drops the lock
 * when its holder dies, even by SIGKILL, so a killed run leaves at most a
 * lock file that nobody holds, which the next run takes over.  After
 * locking, the file must still be the one at PATH: a run finishing at that
 * moment unlinks it, and the lock of an unlinked file protects nothing.
 * Rank 0 only.  Returns the descriptor (>= 0), -1 with msg set when another
 * run holds the lock or the lock file cannot be made, or -2 when the file
 * system does not support locks (the caller warns and goes on). */
static int lock_output(const char *path, char *lockpath, size_t len, char *msg, size_t msglen)
{
  snprintf(lockpath, len, "%s.lock", path);
  for (int attempt = 0; attempt < 100; attempt++) {
    int fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      snprintf(msg, msglen, "option -output: cannot create '%s' (its lock file '%s': %s)", path, lockpath,
               strerror(errno));
      return -1;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_SETLK, &fl) != 0) {
      int err = errno;
      if (err == EACCES || err == EAGAIN) {
        char holder[256] = "";
        ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(fd);
        snprintf(msg, msglen,
                 "option -output: '%s' is being written by another run (%s; lock '%s'); choose another -output or "
                 "wait for that run to end (-overwrite does not override this)",
                 path, holder[0] ? holder : "holder unknown", lockpath);
        return -1;
      }
      close(fd);
      return -2;
    }
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(lockpath, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
      char host[128] = "unknown", text[256];
      gethostname(host, sizeof(host) - 1);
      int n = snprintf(text, sizeof(text), "pid %ld on host %s\n", (long)getpid(), host);
      if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        /* The lock itself holds; only the note on its holder is missing. */
      }
      return fd;
    }
    close(fd); /* unlinked under us by a run that just ended: try again */
  }
  snprintf(msg, msglen, "option -output: cannot lock '%s' (lock file '%s' keeps changing)", path, lockpath);
  return -1;
}

static void unlock_output(ising_io *io)
{
  if (io->lock_fd < 0) return;
  char lockpath[ISING_PATH_MAX + 8];
  snprintf(lockpath, sizeof(lockpath), "%s.lock", io->path);
  unlink(lockpath); /* while still holding the lock: see lock_output */
  close(io->lock_fd);
  io->lock_fd = -1;
}

/* An ising_io with no file and no lock yet. */
static void io_init(MPI_Comm comm, const char *path, ising_io *io)
{
  memset(io, 0, sizeof(*io));
  io->comm = comm;
  io->file = H5I_INVALID_HID;
  io->lock_fd = -1;
  MPI_Comm_rank(comm, &io->rank);
  snprintf(io->path, sizeof(io->path), "%s", path);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

int ising_io_lock(MPI_Comm comm, const char *path, ising_io *io)
{
  io_init(comm, path, io);
  char lockpath[ISING_PATH_MAX + 8], msg[2 * ISING_PATH_MAX + 256] = "";
  int lockrc = 0;
  if (io->rank == 0) lockrc = lock_output(path, lockpath, sizeof(lockpath), msg, sizeof(msg));
  if (io->rank == 0 && lockrc >= 0) io->lock_fd = lockrc;
  MPI_Bcast(&lockrc, 1, MPI_INT, 0, comm);
  if (ising_check(comm, lockrc == -1, "%s", msg)) return ISING_EXIT_INPUT;
  if (lockrc == -2)
    ising_warn(comm,
               "the file system of '%s' does not support file locks; a second run given the same -output would "
               "not be stopped",
               path);
  return 0;
}

void ising_io_unlock(ising_io *io)
{
  unlock_output(io);
}

int ising_io_create(MPI_Comm comm, const char *path, int overwrite, ising_io *io)
{
  /* First the lock, so that neither the test below nor -overwrite can touch
   * a file that a live run is writing. */
  int rc = ising_io_lock(comm, path, io);
  if (rc) return rc;

  int exists = 0;
  if (io->rank == 0) exists = access(path, F_OK) == 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, comm);
  if (ising_check(comm, exists && !overwrite,
                  "option -output: '%s' exists; choose another -output, remove the file, or pass -overwrite", path)) {
    unlock_output(io);
    return ISING_EXIT_INPUT;
  }

  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  H5Pset_all_coll_metadata_ops(fapl, 1);
  H5Pset_coll_metadata_write(fapl, 1);
  io->file = H5Fcreate(path, overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (ising_check(comm, io->file < 0,
                  "option -output: cannot create '%s' (missing directory, no write permission, or the file is in "
                  "use by another run)",
                  path)) {
    io->file = H5I_INVALID_HID;
    unlock_output(io);
    return ISING_EXIT_INPUT;
  }
  return 0;
}

/* Opens io->path (io_init done); -1 on every rank when any failed. */
static int open_file(ising_io *io, int writable)
{
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  io->serial = io->comm == MPI_COMM_SELF;
  if (!io->serial) {
    H5Pset_fapl_mpio(fapl, io->comm, MPI_INFO_NULL);
    H5Pset_all_coll_metadata_ops(fapl, 1);
    H5Pset_coll_metadata_write(fapl, 1);
  }
  io->file = H5Fopen(io->path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  int bad = io->file < 0, failed;
  MPI_Allreduce(&bad, &failed, 1, MPI_INT, MPI_MAX, io->comm);
  if (failed) {
    if (io->file >= 0) H5Fclose(io->file);
    io->file = H5I_INVALID_HID;
    return -1;
  }
  return 0;
}

int ising_io_open(MPI_Comm comm, const char *path, int writable, ising_io *io)
{
  io_init(comm, path, io);
  return open_file(io, writable);
}

int ising_io_open_locked(ising_io *io)
{
  return open_file(io, 1);
}

void ising_io_keep_existing(ising_io *io, int keep)
{
  io->keep_existing = keep;
}

void ising_io_quiet(ising_io *io, int quiet)
{
  io->quiet = quiet;
}

int ising_io_replace(MPI_Comm comm, const char *path, ising_io *io)
{
  io_init(comm, path, io);
  io->quiet = 1;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  H5Pset_all_coll_metadata_ops(fapl, 1);
  H5Pset_coll_metadata_write(fapl, 1);
  io->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  int bad = io->file < 0, failed;
  MPI_Allreduce(&bad, &failed, 1, MPI_INT, MPI_MAX, comm);
  if (failed) {
    if (io->file >= 0) H5Fclose(io->file);
    io->file = H5I_INVALID_HID;
    return -1;
  }
  return 0;
}

/* The HDF5 path of path under the current prefix (ising_io_set_prefix). */
static const char *resolve(const ising_io *io, const char *path, char *buf, size_t len)
{
  if (!io->prefix[0]) return path;
  snprintf(buf, len, "%s%s", io->prefix, strcmp(path, "/") ? path : "");
  return buf;
}

void ising_io_set_prefix(ising_io *io, const char *prefix)
{
  snprintf(io->prefix, sizeof(io->prefix), "%s", prefix ? prefix : "");
}

static int io_ok(ising_io *io, int failed, const char *what, const char *path)
{
  if (io->quiet) {
    int any;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, io->comm);
    return any ? -1 : 0;
  }
  return ising_check(io->comm, failed, "writing %s '%s' in '%s' failed", what, path, io->path) ? -1 : 0;
}

static int read_ok(ising_io *io, int failed, const char *what, const char *path)
{
  if (io->quiet) {
    int any;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, io->comm);
    return any ? -1 : 0;
  }
  return ising_check(io->comm, failed, "reading %s '%s' in '%s' failed", what, path, io->path) ? -1 : 0;
}

int ising_io_group(ising_io *io, const char *path)
{
  char buf[512];
  path = resolve(io, path, buf, sizeof(buf));
  if (H5Lexists(io->file, path, H5P_DEFAULT) > 0) return 0;
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t gid = H5Gcreate2(io->file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  if (gid >= 0) H5Gclose(gid);
  return io_ok(io, gid < 0, "group", path);
}

static int write_attr(ising_io *io, const char *obj, const char *name, hid_t type, hid_t space, const void *buf)
{
  char path[512];
  obj = resolve(io, obj, path, sizeof(path));
  hid_t o = H5Oopen(io->file, obj, H5P_DEFAULT);
  herr_t err = -1;
  if (o >= 0) {
    if (H5Aexists(o, name) > 0) H5Adelete(o, name);
    hid_t a = H5Acreate2(o, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
      err = H5Awrite(a, type, buf);
      H5Aclose(a);
    }
    H5Oclose(o);
  }
  return io_ok(io, err < 0, "attribute", name);
}

int ising_io_attr_remove(ising_io *io, const char *obj, const char *name)
{
  char path[512];
  obj = resolve(io, obj, path, sizeof(path));
  hid_t o = H5Oopen(io->file, obj, H5P_DEFAULT);
  herr_t err = o < 0 ? -1 : H5Aexists(o, name) > 0 ? H5Adelete(o, name) : 0;
  if (o >= 0) H5Oclose(o);
  return io_ok(io, err < 0, "attribute", name);
}

int ising_io_attr_string(ising_io *io, const char *obj, const char *name, const char *value)
{
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  int rc = write_attr(io, obj, name, type, space, &value);
  H5Sclose(space);
  H5Tclose(type);
  return rc;
}

static int attr_array(ising_io *io, const char *obj, const char *name, hid_t type, const void *v, int n)
{
  hsize_t dims = (hsize_t)n;
  hid_t space = n == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, NULL);
  int rc = write_attr(io, obj, name, type, space, v);
  H5Sclose(space);
  return rc;
}

int ising_io_attr_int64(ising_io *io, const char *obj, const char *name, const int64_t *v, int n)
{
  return attr_array(io, obj, name, H5T_NATIVE_INT64, v, n);
}

int ising_io_attr_uint64(ising_io *io, const char *obj, const char *name, const uint64_t *v, int n)
{
  return attr_array(io, obj, name, H5T_NATIVE_UINT64, v, n);
}

int ising_io_attr_double(ising_io *io, const char *obj, const char *name, const double *v, int n)
{
  return attr_array(io, obj, name, H5T_NATIVE_DOUBLE, v, n);
}

/* Datasets are allocated at creation but written later, collectively; a
 * write that runs out of disk space (ENOSPC, quota) fails on some ranks
 * only, inside HDF5's collective write, and leaves the others waiting for
 * ever.  So the space of every dataset is claimed on disk when it is
 * created (posix_fallocate up to HDF5's end of allocation, by rank 0; the
 * file's contents are unchanged), where a full disk is one clean,
 * collective error. */
static int reserve_space(ising_io *io, const char *path, haddr_t end)
{
  int err = 0;
  if (io->rank == 0 && end != HADDR_UNDEF && end > 0) {
    int fd = open(io->path, O_WRONLY | O_CLOEXEC);
    err = fd < 0 ? errno : posix_fallocate(fd, 0, (off_t)end);
    if (err == EOPNOTSUPP || err == ENOSYS || err == EINVAL) err = 0; /* no fallocate here: best effort */
    if (fd >= 0) close(fd);
  }
  MPI_Bcast(&err, 1, MPI_INT, 0, io->comm);
  return ising_check(io->comm, err != 0, "no room for dataset '%s' in '%s': %s", path, io->path, strerror(err)) ? -1
                                                                                                                : 0;
}

static int dataset_shape(ising_io *io, const char *path, hid_t type, int *rank, int64_t *dims);

/* 1 if the dataset at (resolved) path exists with this type class, element
 * size, rank and dims. */
static int same_dataset(ising_io *io, const char *path, hid_t type, int rank, const hsize_t *dims)
{
  int64_t have[ISING_IO_MAX_RANK];
  int hrank;
  if (dataset_shape(io, path, type, &hrank, have) || hrank != rank) return 0;
  for (int k = 0; k < rank; k++)
    if ((hsize_t)have[k] != dims[k]) return 0;
  return 1;
}

static int create_dataset(ising_io *io, const char *path, hid_t type, int rank, const hsize_t *dims, const void *fill)
{
  char buf[512];
  path = resolve(io, path, buf, sizeof(buf));
  if (io->keep_existing && H5Lexists(io->file, path, H5P_DEFAULT) > 0)
    return io_ok(io, !same_dataset(io, path, type, rank, dims), "dataset (existing, other shape)", path);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (fill) {
    H5Pset_fill_value(dcpl, type, fill);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
  } else {
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  }
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(io->file, path, type, space, lcpl, dcpl, H5P_DEFAULT);
  H5Sclose(space);
  H5Pclose(dcpl);
  H5Pclose(lcpl);
  haddr_t end = HADDR_UNDEF;
  if (d >= 0) {
    haddr_t offset = H5Dget_offset(d);
    if (offset != HADDR_UNDEF) end = offset + H5Dget_storage_size(d);
    H5Dclose(d);
  }
  if (io_ok(io, d < 0, "dataset", path)) return -1;
  return reserve_space(io, path, end);
}

int ising_io_dataset(ising_io *io, const char *path, hid_t type, int rank, const int64_t *dims)
{
  hsize_t h[ISING_IO_MAX_RANK];
  if (rank < 1 || rank > ISING_IO_MAX_RANK) return io_ok(io, 1, "dataset (bad rank)", path);
  for (int k = 0; k < rank; k++) h[k] = (hsize_t)dims[k];
  return create_dataset(io, path, type, rank, h, NULL);
}

/* 1 when the file type t has the class, size and sign of the memory type m. */
static int same_type(hid_t t, hid_t m)
{
  H5T_class_t c = H5Tget_class(t);
  if (c != H5Tget_class(m) || H5Tget_size(t) != H5Tget_size(m)) return 0;
  return c != H5T_INTEGER || H5Tget_sign(t) == H5Tget_sign(m);
}

static int dataset_shape(ising_io *io, const char *path, hid_t type, int *rank, int64_t *dims)
{
  if (H5Lexists(io->file, path, H5P_DEFAULT) <= 0) return -1;
  H5O_info_t info;
  if (H5Oget_info_by_name(io->file, path, &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_DATASET) return -1;
  hid_t d = H5Dopen2(io->file, path, H5P_DEFAULT);
  if (d < 0) return -1;
  hid_t t = H5Dget_type(d), fs = H5Dget_space(d);
  int r = H5Sget_simple_extent_ndims(fs), rc = -1;
  hsize_t h[ISING_IO_MAX_RANK];
  if (t >= 0 && same_type(t, type) && r >= 0 && r <= ISING_IO_MAX_RANK && H5Sget_simple_extent_type(fs) == H5S_SIMPLE &&
      H5Sget_simple_extent_dims(fs, h, NULL) == r) {
    *rank = r;
    for (int k = 0; k < r; k++) dims[k] = (int64_t)h[k];
    rc = 0;
  }
  if (t >= 0) H5Tclose(t);
  if (fs >= 0) H5Sclose(fs);
  H5Dclose(d);
  return rc;
}

int ising_io_shape(ising_io *io, const char *path, hid_t type, int *rank, int64_t *dims)
{
  char buf[512];
  return dataset_shape(io, resolve(io, path, buf, sizeof(buf)), type, rank, dims);
}

/* Opens attribute name of obj when it exists with this type class (and, for
 * numbers, n values, or a scalar when n == 0). */
static hid_t open_attr(ising_io *io, const char *obj, const char *name, hid_t type, int n)
{
  char buf[512];
  obj = resolve(io, obj, buf, sizeof(buf));
  if (H5Lexists(io->file, obj, H5P_DEFAULT) <= 0 && strcmp(obj, "/")) return H5I_INVALID_HID;
  if (H5Aexists_by_name(io->file, obj, name, H5P_DEFAULT) <= 0) return H5I_INVALID_HID;
  hid_t a = H5Aopen_by_name(io->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) return H5I_INVALID_HID;
  hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
  int ok = t >= 0 && sp >= 0;
  if (ok && type == H5T_C_S1) {
    ok = H5Tget_class(t) == H5T_STRING && H5Sget_simple_extent_type(sp) == H5S_SCALAR && H5Tis_variable_str(t) > 0;
  } else if (ok) {
    hssize_t npoints = H5Sget_simple_extent_npoints(sp);
    int scalar = H5Sget_simple_extent_type(sp) == H5S_SCALAR;
    ok = same_type(t, type) && (n == 0 ? scalar : !scalar && npoints == n && H5Sget_simple_extent_ndims(sp) == 1);
  }
  if (t >= 0) H5Tclose(t);
  if (sp >= 0) H5Sclose(sp);
  if (!ok) {
    H5Aclose(a);
    return H5I_INVALID_HID;
  }
  return a;
}

int ising_io_read_attr(ising_io *io, const char *obj, const char *name, hid_t memtype, void *v, int n)
{
  hid_t a = open_attr(io, obj, name, memtype, n);
  if (a < 0) return -1;
  herr_t err = H5Aread(a, memtype, v);
  H5Aclose(a);
  return err < 0 ? -1 : 0;
}

int ising_io_attr_length(ising_io *io, const char *obj, const char *name, hid_t memtype)
{
  char buf[512];
  obj = resolve(io, obj, buf, sizeof(buf));
  if (H5Lexists(io->file, obj, H5P_DEFAULT) <= 0 && strcmp(obj, "/")) return -1;
  if (H5Aexists_by_name(io->file, obj, name, H5P_DEFAULT) <= 0) return -1;
  hid_t a = H5Aopen_by_name(io->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) return -1;
  hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
  int n = -1;
  if (t >= 0 && sp >= 0 && same_type(t, memtype)) {
    if (H5Sget_simple_extent_type(sp) == H5S_SCALAR)
      n = 0;
    else if (H5Sget_simple_extent_ndims(sp) == 1)
      n = (int)H5Sget_simple_extent_npoints(sp);
  }
  if (t >= 0) H5Tclose(t);
  if (sp >= 0) H5Sclose(sp);
  H5Aclose(a);
  return n;
}

int ising_io_read_attr_string(ising_io *io, const char *obj, const char *name, char *out, size_t len)
{
  hid_t a = open_attr(io, obj, name, H5T_C_S1, 0);
  if (a < 0) return -1;
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  char *value = NULL;
  herr_t err = H5Aread(a, type, &value);
  int rc = -1;
  if (err >= 0 && value && strlen(value) < len) {
    snprintf(out, len, "%s", value);
    rc = 0;
  }
  if (err >= 0 && value) H5free_memory(value);
  H5Tclose(type);
  H5Aclose(a);
  return rc;
}

int ising_io_dataset_double(ising_io *io, const char *path, int rank, const int64_t *dims)
{
  hsize_t h[2];
  for (int k = 0; k < rank; k++) h[k] = (hsize_t)dims[k];
  double nan = NAN;
  return create_dataset(io, path, H5T_NATIVE_DOUBLE, rank, h, &nan);
}

int ising_io_write_double(ising_io *io, const char *path, const int64_t *start, const int64_t *count,
                          const double *data)
{
  return ising_io_write_part(io, path, H5T_NATIVE_DOUBLE, start, count, data, io->rank == 0);
}

/* Selects [start, start + count) of the dataset's file space (or nothing when
 * !active) and a matching 1-D memory space in *ms.  Returns 0, or -1 when
 * the selection does not fit the dataset (then nothing is selected, so the
 * rank can still take part in the collective transfer). */
static int select_slab(hid_t fs, const int64_t *start, const int64_t *count, int active, hid_t *ms)
{
  int rank = H5Sget_simple_extent_ndims(fs), fits = rank >= 0 && rank <= ISING_IO_MAX_RANK;
  hsize_t dims[ISING_IO_MAX_RANK], st[ISING_IO_MAX_RANK], ct[ISING_IO_MAX_RANK], n = 1;
  if (fits) H5Sget_simple_extent_dims(fs, dims, NULL);
  for (int k = 0; k < rank && fits && active; k++) {
    fits = start[k] >= 0 && count[k] >= 0 && (hsize_t)(start[k] + count[k]) <= dims[k];
    st[k] = (hsize_t)start[k];
    ct[k] = (hsize_t)count[k];
    n *= ct[k];
  }
  hsize_t one = n ? n : 1;
  *ms = H5Screate_simple(1, &one, NULL);
  if (!active || !fits || n == 0) {
    H5Sselect_none(fs);
    H5Sselect_none(*ms);
    return fits ? 0 : -1;
  }
  if (rank > 0) H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL);
  return 0;
}

/* One collective transfer of a hyperslab per active rank. */
static int transfer_part(ising_io *io, const char *path, hid_t memtype, const int64_t *start, const int64_t *count,
                         void *data, int active, int writing)
{
  char buf[512];
  path = resolve(io, path, buf, sizeof(buf));
  herr_t err = -1;
  hid_t d = H5Dopen2(io->file, path, H5P_DEFAULT);
  if (d >= 0) {
    hid_t fs = H5Dget_space(d), ms = H5I_INVALID_HID;
    int fits = select_slab(fs, start, count, active, &ms) == 0;
    hid_t xfer = H5Pcreate(H5P_DATASET_XFER);
    if (!io->serial) H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE);
    err = writing ? H5Dwrite(d, memtype, ms, fs, xfer, data) : H5Dread(d, memtype, ms, fs, xfer, data);
    if (!fits) err = -1;
    H5Pclose(xfer);
    if (ms >= 0) H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
  }
  int failed, bad = err < 0;
  MPI_Allreduce(&bad, &failed, 1, MPI_INT, MPI_MAX, io->comm);
  return writing ? io_ok(io, failed, "dataset", path) : read_ok(io, failed, "dataset", path);
}

int ising_io_write_part(ising_io *io, const char *path, hid_t memtype, const int64_t *start, const int64_t *count,
                        const void *data, int active)
{
  return transfer_part(io, path, memtype, start, count, (void *)data, active, 1);
}

int ising_io_read_part(ising_io *io, const char *path, hid_t memtype, const int64_t *start, const int64_t *count,
                       void *data, int active)
{
  return transfer_part(io, path, memtype, start, count, data, active, 0);
}

/* File dimensions of a field: [lead,] (z,) (y,) x. */
static int field_dims(const ising_geometry *g, int64_t nlead, hsize_t *dims)
{
  int r = 0;
  if (nlead > 0) dims[r++] = (hsize_t)nlead;
  for (int d = g->dim - 1; d >= 0; d--) dims[r++] = (hsize_t)g->L[d];
  return r;
}

int ising_io_dataset_field(ising_io *io, const char *path, int64_t nlead, const ising_geometry *g, hid_t type)
{
  hsize_t dims[4];
  int r = field_dims(g, nlead, dims);
  return create_dataset(io, path, type, r, dims, NULL);
}

int ising_io_write_field(ising_io *io, const char *path, int64_t lead, const ising_geometry *g, hid_t memtype,
                         const void *extended)
{
  return ising_io_write_field_part(io, path, lead, g, memtype, extended, 1);
}

static int transfer_field(ising_io *io, const char *path, int64_t lead, const ising_geometry *g, hid_t memtype,
                          void *extended, int active, int writing)
{
  char buf[512];
  path = resolve(io, path, buf, sizeof(buf));
  herr_t err = -1;
  hid_t d = H5Dopen2(io->file, path, H5P_DEFAULT);
  if (d >= 0) {
    hid_t fs = H5Dget_space(d);
    int frank = H5Sget_simple_extent_ndims(fs);
    int has_lead = frank > g->dim;
    hsize_t fst[4], fct[4], mdims[3], mst[3], mct[3];
    int r = 0;
    if (has_lead) {
      fst[r] = (hsize_t)lead;
      fct[r++] = 1;
    }
    for (int k = 0, a = g->dim - 1; a >= 0; a--, k++, r++) {
      fst[r] = (hsize_t)g->offset[a];
      fct[r] = (hsize_t)g->n[a];
      mdims[k] = (hsize_t)g->ext[a];
      mst[k] = 1;
      mct[k] = (hsize_t)g->n[a];
    }
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, fst, NULL, fct, NULL);
    hid_t ms = H5Screate_simple(g->dim, mdims, NULL);
    H5Sselect_hyperslab(ms, H5S_SELECT_SET, mst, NULL, mct, NULL);
    if (!active) {
      H5Sselect_none(fs);
      H5Sselect_none(ms);
    }
    hid_t xfer = H5Pcreate(H5P_DATASET_XFER);
    if (!io->serial) H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE);
    err = writing ? H5Dwrite(d, memtype, ms, fs, xfer, extended) : H5Dread(d, memtype, ms, fs, xfer, extended);
    H5Pclose(xfer);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
  }
  int bad = err < 0, failed;
  MPI_Allreduce(&bad, &failed, 1, MPI_INT, MPI_MAX, io->comm);
  return writing ? io_ok(io, failed, "dataset", path) : read_ok(io, failed, "dataset", path);
}

int ising_io_write_field_part(ising_io *io, const char *path, int64_t lead, const ising_geometry *g, hid_t memtype,
                              const void *extended, int active)
{
  return transfer_field(io, path, lead, g, memtype, (void *)extended, active, 1);
}

int ising_io_read_field_part(ising_io *io, const char *path, int64_t lead, const ising_geometry *g, hid_t memtype,
                             void *extended, int active)
{
  return transfer_field(io, path, lead, g, memtype, extended, active, 0);
}

int ising_io_flush(ising_io *io)
{
  return io_ok(io, H5Fflush(io->file, H5F_SCOPE_GLOBAL) < 0, "file", "(flush)");
}

int ising_io_close(ising_io *io)
{
  if (io->file < 0) return 0;
  herr_t err = H5Fclose(io->file);
  io->file = H5I_INVALID_HID;
  int rc = io_ok(io, err < 0, "file", "(close)");
  unlock_output(io);
  return rc;
}

void ising_io_discard(ising_io *io)
{
  /* The file is deleted below, so its space is freed first: closing it
   * flushes HDF5's metadata collectively, and after a full disk (ENOSPC,
   * quota) that flush would fail on some ranks only, leaving the others
   * waiting in a collective write forever. */
  MPI_Barrier(io->comm);
  if (io->rank == 0 && io->file >= 0 && io->path[0] && truncate(io->path, 0) != 0) {
    /* Nothing more to free; the close below may still fail, not hang. */
  }
  MPI_Barrier(io->comm);
  if (io->file >= 0) H5Fclose(io->file);
  io->file = H5I_INVALID_HID;
  MPI_Barrier(io->comm);
  if (io->rank == 0 && io->path[0]) remove(io->path);
  unlock_output(io);
  MPI_Barrier(io->comm);
}
