# anneal.sh: simulated annealing finds exact ground states.
# - On every enumerable sample below (+-J and Gaussian; 4x4 periodic, open
#   5x5, rings of 16; 18 samples) annealing with 32 restarts (geometric
#   schedule beta 0.1 -> 5, 100 steps x 10 sweeps) reaches the exact
#   ground-state energy from enumeration (to 1e-9 relative), at least once;
#   the reported degeneracy is enumeration's, a positive integer and even at
#   h = 0 (global spin flip).
# - The restart energies and the best configuration are bit-identical on 1
#   and 3 ranks, also with blocks that -rebalance moves (they must move).
# - Parallel tempering at low temperature (8 temperatures, beta 0.2 -> 3,
#   3000 sweeps) finds the same exact ground states on the +-J and Gaussian
#   4x4 periodic samples; the configuration in /ground_state/tempering has
#   the reported energy (recomputed from /model/bonds); the result is
#   bit-identical for the layouts (1 rank) and (4 ranks, 2 per replica).
# - Progress lines inside a restart, from rank 0 only.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
an() { # options...; the output is "$work/a$n.h5", removed if the run fails
  n=$((n + 1))
  run 2 -task anneal -anneal_restarts 32 -quiet -output "$work/a$n.h5" "$@" || fail "run $*"
}
check() { # label file
  if "$PYTHON" - "$2" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    g = f["ground_state"]
    e, ex, deg, hits = g["energy"][0], g["energy_exact"][0], g["degeneracy_exact"][0], g["hits"][0]
    field = f["model"].attrs["field_sigma"] != 0 or f["model"].attrs["field"] != 0
    ok = abs(e - ex) <= 1e-9 * (1 + abs(ex)) and hits >= 1 and deg >= 1 and deg == round(deg)
    ok = ok and (field or deg % 2 == 0)
    ok = ok and np.min(g["restart_energies"][:]) == e
    print(f"  best {e:.9g} ({hits:g} of {g['restarts'][0]:g} restarts), exact {ex:.9g}, degeneracy {deg:g}")
    sys.exit(0 if ok else 1)
PY
  then pass "$1"; else fail "$1"; fi
}
for seed in 1 2 3 4 5; do
  an -lattice_size 4,4 -couplings pm -disorder_seed "$seed"
  check "+-J 4x4 periodic, sample $seed: exact ground state found" "$work/a$n.h5"
done
for seed in 1 2 3; do
  an -lattice_size 4,4 -couplings gaussian -disorder_seed "$seed"
  check "Gaussian 4x4 periodic, sample $seed" "$work/a$n.h5"
  an -lattice_size 5,5 -lattice_bc open -couplings pm -disorder_seed "$seed"
  check "+-J 5x5 open, sample $seed" "$work/a$n.h5"
  an -lattice_size 5,5 -lattice_bc open -couplings gaussian -field_sigma 0.3 -disorder_seed "$seed"
  check "Gaussian 5x5 open with random field, sample $seed" "$work/a$n.h5"
done
for seed in 1 2; do
  an -lattice_size 16 -couplings pm -disorder_seed "$seed"
  check "+-J ring of 16, sample $seed" "$work/a$n.h5"
  an -lattice_size 16 -couplings gaussian -disorder_seed "$seed" -algorithm heatbath
  check "Gaussian ring of 16 (heat bath), sample $seed" "$work/a$n.h5"
done
run 1 -task anneal -lattice_size 6,4 -couplings pm -anneal_restarts 8 -quiet -output "$work/r1.h5" || fail "1 rank"
run 3 -task anneal -lattice_size 6,4 -couplings pm -anneal_restarts 8 -quiet -output "$work/r3.h5" || fail "3 ranks"
if h5diff -q "$work/r1.h5" "$work/r3.h5" /ground_state/restart_energies /ground_state/restart_energies >/dev/null &&
  h5diff -q "$work/r1.h5" "$work/r3.h5" /ground_state/spins /ground_state/spins >/dev/null; then
  pass "annealing bit-identical on 1 and 3 ranks"
else
  fail "annealing differs between 1 and 3 ranks"
fi
# -rebalance moves the blocks (the current and the best spins) during the
# restarts (ISING_REBALANCE_TEST: at every check)
ISING_REBALANCE_TEST=1 run 3 -task anneal -lattice_size 6,4 -couplings pm -anneal_restarts 8 -balance 1,5,2 -rebalance 3 -rebalance_gain 0 \
  -quiet -output "$work/rb3.h5" || fail "3 ranks with -rebalance"
n=$("$PYTHON" -c 'import sys, h5py; print(int(h5py.File(sys.argv[1]).attrs["rebalances"]))' "$work/rb3.h5" 2>/dev/null) ||
  n=""
if h5diff -q "$work/r1.h5" "$work/rb3.h5" /ground_state >/dev/null && [ -n "$n" ] && [ "$n" -ge 1 ]; then
  pass "annealing bit-identical on 1 rank and on 3 ranks whose blocks moved $n times"
else
  fail "annealing with -rebalance on 3 ranks: differs from 1 rank, or no moves ('$n')"
fi
pt() { # options...
  n=$((n + 1))
  run 2 -task tempering -beta_min 0.2 -beta_max 3 -n_temps 8 -sweeps 3000 -thermalize 100 -quiet \
    -output "$work/t$n.h5" "$@" || fail "tempering run $*"
}
check_pt() { # label file
  if "$PYTHON" - "$2" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    g = f["ground_state/tempering"]
    e, ex, hits, M = g["energy"][0], g["energy_exact"][0], g["hits"][0], g["replicas"][0]
    s, b = g["spins"][()].astype(float), f["model/bonds"][()]
    e_spins = -(b[0] * s * np.roll(s, -1, axis=-1)).sum() - (b[1] * s * np.roll(s, -1, axis=-2)).sum()
    ok = abs(e - ex) <= 1e-9 * (1 + abs(ex)) and 1 <= hits <= M and abs(e_spins - e) <= 1e-9 * (1 + abs(e))
    print(f"  best {e:.9g} ({hits:g} of {M:g} replicas, first after {g['sweep'][0]:g} sweeps), exact {ex:.9g}, "
          f"configuration's energy {e_spins:.9g}")
    sys.exit(0 if ok else 1)
PY
  then pass "$1"; else fail "$1"; fi
}
for seed in 1 2 3; do
  pt -lattice_size 4,4 -couplings pm -disorder_seed "$seed"
  check_pt "tempering, +-J 4x4 periodic, sample $seed: exact ground state found" "$work/t$n.h5"
  pt -lattice_size 4,4 -couplings gaussian -disorder_seed "$seed"
  check_pt "tempering, Gaussian 4x4 periodic, sample $seed: exact ground state found" "$work/t$n.h5"
done
lay=(-task tempering -lattice_size 6,4 -couplings pm -beta_min 0.2 -beta_max 3 -n_temps 4 -sweeps 500 -quiet)
run 1 "${lay[@]}" -output "$work/p1.h5" || fail "tempering on 1 rank"
run 4 "${lay[@]}" -ranks_per_replica 2 -output "$work/p4.h5" || fail "tempering on 4 ranks"
if h5diff -q "$work/p1.h5" "$work/p4.h5" /ground_state /ground_state >/dev/null; then
  pass "tempering's ground state bit-identical on (1 rank) and (4 ranks, 2 per replica)"
else
  fail "tempering's ground state differs between layouts"
fi

# Progress lines inside a restart, rank 0 only (mpirun --tag-output: every line starts with [job,rank]<stdout>:).
timeout 300 "$MPIEXEC" -n 2 --oversubscribe --tag-output "$ISING" -task anneal -lattice_size 32,32 -couplings pm \
  -anneal_restarts 2 -anneal_steps 50 -anneal_sweeps_per_step 40 -progress_interval 0.001 -output "$work/pr.h5" \
  > "$work/pr.txt" || fail "anneal progress run"
inside=$(grep -c '<stdout>:progress: anneal restart [12]/2, sweep [0-9]*/2000, beta [0-9.]*, [0-9.]* sweeps/s, ETA [0-9]* s$' \
  "$work/pr.txt")
others=$(grep '<stdout>:progress:' "$work/pr.txt" | grep -vc '^\[[0-9]*,0\]')
echo "  $inside lines inside restarts, $others from other ranks than 0"
if [ "$inside" -ge 2 ] && [ "$others" -eq 0 ]; then pass "progress lines inside restarts (rank 0 only)"
else fail "anneal progress lines"; fi
finish
