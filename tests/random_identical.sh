# random_identical.sh: random whole runs, ten cases (every task once: mc,
# tempering, quench, anneal, freeenergy, meanfield and their pairs), each on
# 1 rank and on 2, 3 and 4 ranks with random process grids, uneven blocks,
# tempering layouts, -rebalance and instruction sets (ISING_SIMD), must
# write the same file bit for bit (tests/random_identical.py, which draws
# the cases; check_same.py compares).
# RANDOM_CASES and RANDOM_SEED choose other cases (docs/reliability.md,
# "Random cases").
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ISING_MPIEXEC="timeout 300 $MPIEXEC --oversubscribe -n" \
  "$PYTHON" "$SRC/tests/random_identical.py" "$ISING" "$work" "${RANDOM_CASES:-10}" "${RANDOM_SEED:-2026}"
