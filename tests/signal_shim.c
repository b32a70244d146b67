/* signal_shim.c: a test library, preloaded (LD_PRELOAD) into the ising
 * program by signal_setup.sh, that raises a signal inside a rank at a chosen
 * moment of its set-up: right after its n-th call of H5Fcreate or H5Fopen
 * returns (the output file is then created but not yet filled).  The real
 * function is called first (dlsym RTLD_NEXT); the program is not changed.
 *
 *   ISING_SHIM_AFTER    H5Fcreate or H5Fopen (unset: the shim does nothing)
 *   ISING_SHIM_CALL     which call of it, from 1 (default 1)
 *   ISING_SHIM_SIGNAL   the signal number (default 15, SIGTERM)
 *   ISING_SHIM_RANK     the MPI rank that raises it (OMPI_COMM_WORLD_RANK;
 *                       default 0; -1: every rank) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <hdf5.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static int counts[2];

static void maybe_raise(int which, const char *name)
{
  const char *after = getenv("ISING_SHIM_AFTER");
  if (!after || strcmp(after, name)) return;
  const char *call = getenv("ISING_SHIM_CALL"), *sig = getenv("ISING_SHIM_SIGNAL");
  const char *want = getenv("ISING_SHIM_RANK"), *rank = getenv("OMPI_COMM_WORLD_RANK");
  const int w = want ? atoi(want) : 0;
  if (++counts[which] != (call ? atoi(call) : 1)) return;
  if (w >= 0 && (rank ? atoi(rank) : 0) != w) return;
  raise(sig ? atoi(sig) : SIGTERM);
}

hid_t H5Fcreate(const char *name, unsigned flags, hid_t fcpl, hid_t fapl)
{
  hid_t (*real)(const char *, unsigned, hid_t, hid_t) =
      (hid_t(*)(const char *, unsigned, hid_t, hid_t))dlsym(RTLD_NEXT, "H5Fcreate");
  const hid_t id = real(name, flags, fcpl, fapl);
  maybe_raise(0, "H5Fcreate");
  return id;
}

hid_t H5Fopen(const char *name, unsigned flags, hid_t fapl)
{
  hid_t (*real)(const char *, unsigned, hid_t) = (hid_t(*)(const char *, unsigned, hid_t))dlsym(RTLD_NEXT, "H5Fopen");
  const hid_t id = real(name, flags, fapl);
  maybe_raise(1, "H5Fopen");
  return id;
}
