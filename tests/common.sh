# common.sh: helpers for the end-to-end test scripts (sourced).
# Environment from CTest: ISING (the program), MPIEXEC, SRC (source tree),
# PYTHON (Debian's python3 with h5py and numpy).
set -u
MPIEXEC=${MPIEXEC:-mpiexec}
PYTHON=${PYTHON:-/usr/bin/python3}
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
failures=0

# run NP ARGS...: the program on NP ranks, quietly, output to stdout/stderr.
run() {
  local np=$1
  shift
  timeout 300 "$MPIEXEC" -n "$np" --oversubscribe "$ISING" "$@"
}

# sweeps_lasting SECONDS PROBE ARGS...: how many sweeps (per temperature) the
# run ARGS (without -sweeps and -output) makes in about SECONDS on one rank
# here, at least PROBE.  Two runs, of 1000 and 1000 + PROBE sweeps, are timed;
# their difference is the PROBE sweeps alone, without the launch.  A test that
# must interrupt a run mid-way sizes it so: a fixed count goes stale as the
# kernels get faster.  Prints "SWEEPS SECONDS_PER_PROBE".
sweeps_lasting() {
  local secs=$1 probe=$2 n
  shift 2
  local stamps=()
  for n in 1000 $((1000 + probe)); do
    stamps+=("$(date +%s.%N)")
    run 1 "$@" -sweeps "$n" -quiet -overwrite -output calibrate.h5 >/dev/null || return 1
  done
  stamps+=("$(date +%s.%N)")
  rm -f calibrate.h5
  "$PYTHON" -c "import sys; a, b, c, secs, probe = map(float, sys.argv[1:])
t = max(1e-3, (c - b) - (b - a))
print(max(int(probe), 1000 * round(probe * secs / t / 1000)), f'{t:.2f}')" "${stamps[@]}" "$secs" "$probe"
}

pass() { echo "ok      $*"; }
fail() { echo "FAILED  $*"; failures=$((failures + 1)); }

finish() {
  echo "$failures failure(s)"
  [ "$failures" -eq 0 ]
}
