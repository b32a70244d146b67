# signal_setup.sh: a signal that reaches a rank while the run sets up
# (after its output file is created, before the first sweep) kills no rank
# and leaves no half-written file (docs/usage.md, "Exit statuses").
#
# The signal is raised inside the chosen rank by a preloaded library
# (signal_shim.c, $SHIM) right after that rank's first H5Fcreate (the
# output file) or H5Fopen (a restart's first look at its checkpoint), so
# the moment is exact and the program is not changed for the test.
# - A run that writes no checkpoints (-task meanfield, quench, freeenergy)
#   stops at the end of set-up with exit status 128 + the signal's number on
#   every rank, one line on stderr, and neither its output nor its lock
#   file left; the same command then runs normally.
# - A run of -task mc, tempering or anneal writes its checkpoint at the
#   first sweep and exits 4 (output status "interrupted"); so does a restart
#   signalled while it validates its checkpoint; the restart after it gives
#   the same file, bit for bit, as the run that was never interrupted.
# Before the fix the rank died of the signal, leaving the output file
# unfinished (HDF5 could not open it) and its lock.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
[ -n "${SHIM:-}" ] && [ -f "$SHIM" ] || {
  echo "SHIM (the signal_shim library) not set"
  exit 1
}

# shim NP AFTER SIG RANK ARGS...: the program on NP ranks; rank RANK (-1:
# every rank) raises SIG after its first call of AFTER.
shim() {
  local np=$1 after=$2 sig=$3 rank=$4
  shift 4
  timeout 300 "$MPIEXEC" -n "$np" --oversubscribe -x LD_PRELOAD="$SHIM" -x ISING_SHIM_AFTER="$after" \
    -x ISING_SHIM_CALL=1 -x ISING_SHIM_SIGNAL="$(kill -l "$sig")" -x ISING_SHIM_RANK="$rank" "$ISING" "$@"
}

status_of() {
  "$PYTHON" -c 'import h5py, sys; print(h5py.File(sys.argv[1])["/"].attrs["status"])' "$1" 2>&1
}

# Runs that keep no checkpoint: LABEL NP SIG RANK ARGS...
no_checkpoint() {
  local label=$1 np=$2 sig=$3 rank=$4
  shift 4
  rm -f out.h5 out.h5.lock
  shim "$np" H5Fcreate "$sig" "$rank" "$@" -quiet -output out.h5 >out.txt 2>err.txt
  local rc=$? want=$((128 + $(kill -l "$sig")))
  local lines
  lines=$(grep -c "^ising: interrupted by signal SIG$sig during set-up: nothing was computed" err.txt)
  if [ $rc -eq $want ] && [ "$lines" -eq 1 ] && [ "$(grep -c '^ising:' err.txt)" -eq 1 ] && [ ! -e out.h5 ] &&
    [ ! -e out.h5.lock ]; then
    pass "$label: SIG$sig to rank $rank in set-up: exit $rc, $(grep '^ising:' err.txt | cut -c1-60)..., no file left"
  else
    fail "$label: SIG$sig to rank $rank in set-up: exit $rc (want $want), left: $(ls out.h5* 2>/dev/null)"
    cat err.txt
  fi
  if run "$np" "$@" -quiet -output out.h5 >/dev/null 2>err.txt && [ "$(status_of out.h5)" = complete ]; then
    pass "$label: the same command then completes"
  else
    fail "$label: the same command then fails"
    cat err.txt
  fi
}

no_checkpoint "meanfield, 2 ranks" 2 TERM 1 -task meanfield -lattice_size 16,12 -beta_list 0.2,0.4
no_checkpoint "quench, 1 rank" 1 INT 0 -task quench -lattice_size 32,32 -quench_sweeps 50 -quench_histories 2
no_checkpoint "freeenergy, 3 ranks" 3 USR1 2 -task freeenergy -lattice_size 6,4 -beta_list 0.2,0.4 \
  -ais_steps 50 -ais_chains 4

# Runs that checkpoint: LABEL NP SIG RANK NP2 ARGS...: interrupted in set-up
# on NP ranks, the restart signalled while it validates its checkpoint, then
# restarted to the end on NP2 ranks and compared with an uninterrupted run.
checkpointed() {
  local label=$1 np=$2 sig=$3 rank=$4 np2=$5
  shift 5
  rm -f ref.h5 out.h5 out.ckpt.h5
  run 1 "$@" -quiet -output ref.h5 >/dev/null 2>err.txt || {
    fail "$label: reference run"
    cat err.txt
    return
  }
  shim "$np" H5Fcreate "$sig" "$rank" "$@" -quiet -output out.h5 >out.txt 2>err.txt
  local rc=$?
  if [ $rc -eq 4 ] && [ "$(status_of out.h5)" = interrupted ] && [ -f out.ckpt.h5 ] &&
    grep -q "^ising: interrupted by " err.txt; then
    pass "$label: SIG$sig to rank $rank in set-up: checkpoint at the first sweep, exit 4, output 'interrupted'"
  else
    fail "$label: SIG$sig to rank $rank in set-up: exit $rc, output status '$(status_of out.h5)'"
    cat err.txt
    return
  fi
  shim "$np2" H5Fopen TERM -1 "$@" -quiet -output out.h5 -restart out.ckpt.h5 >out.txt 2>err.txt
  rc=$?
  if [ $rc -eq 4 ] && [ "$(status_of out.h5)" = interrupted ] && [ -f out.ckpt.h5 ]; then
    pass "$label: SIGTERM to every rank while the restart validates its checkpoint: exit 4"
  else
    fail "$label: SIGTERM while the restart validates its checkpoint: exit $rc, output '$(status_of out.h5)'"
    cat err.txt
    return
  fi
  if run "$np2" "$@" -quiet -output out.h5 -restart out.ckpt.h5 >/dev/null 2>err.txt &&
    "$PYTHON" "$SRC/tests/check_same.py" ref.h5 out.h5 >check.txt 2>&1; then
    pass "$label: restarted on $np2 ranks: the same file as the run never interrupted"
  else
    fail "$label: the restarted run differs from the run never interrupted"
    cat err.txt check.txt
  fi
}

checkpointed "mc" 2 USR1 1 3 -task mc -lattice_size 16,16 -beta_list 0.3,0.45 -sweeps 400 -thermalize 100
checkpointed "tempering" 2 TERM 0 1 -task tempering -lattice_size 6,6,6 -couplings gaussian \
  -beta_list 0.3,0.6,0.9,1.2 -pt_replica_sets 2 -sweeps 400 -thermalize 100
checkpointed "anneal" 1 INT 0 2 -task anneal -lattice_size 8,6 -couplings pm -anneal_restarts 4

finish
