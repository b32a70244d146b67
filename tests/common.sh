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

pass() { echo "ok      $*"; }
fail() { echo "FAILED  $*"; failures=$((failures + 1)); }

finish() {
  echo "$failures failure(s)"
  [ "$failures" -eq 0 ]
}
