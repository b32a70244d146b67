# quench.sh: coarsening after a quench to zero temperature (-task quench).
# - 2D ferromagnet, 512^2 periodic, 6 histories of 500 sweeps at beta = inf,
#   on 2 ranks: the growth exponent of L(t) from the domain walls, fitted
#   over t in [10, 251] sweeps (L from 12 to 60, far below 512), is 1/2
#   (Allen-Cahn, non-conserved order parameter) within 0.04, and its
#   jackknife error over histories is below 0.015.  The tolerance is not
#   statistical alone: at T = 0 the effective exponent approaches 1/2 from
#   below (0.487 +- 0.005 measured here; curvature-driven growth has
#   corrections in 1/L), so 0.04 covers that bias plus 4 sigma of noise.
#   The exponent of the structure-factor length is checked within 0.07
#   (measured 0.453 +- 0.007: the first moment converges more slowly).
# - 1D ferromagnetic ring of 32768 spins, 4 histories of 3000 sweeps at
#   beta = inf: domain walls diffuse and annihilate, L ~ t^(1/2); the fitted
#   exponent over t in [32, 3000] is 1/2 within 0.03 (measured 0.505 +-
#   0.006; 4 sigma and no bias in 1D).
# - Exact properties of zero temperature: the energy of every history never
#   increases (T = 0 dynamics accepts no move that raises it), in 1D, 2D and
#   3D, Metropolis and heat bath, uniform and +-J couplings; at t = 0 (a
#   random state) the fraction of unsatisfied bonds is 1/2 within 4 sigma.
# - /quench is bit-identical on 1 and 3 ranks and on a 1x4 grid, with the
#   structure factor, and with blocks that -rebalance moves during the run
#   (2D on 3 ranks, 3D +-J heat bath on a 1x2x2 grid; both must move).
# - postprocess/quench.py writes the figure.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

exponent() { # file kind tmin tmax -> prints alpha and error
  "$PYTHON" "$SRC/postprocess/quench.py" "$1" --length "$2" --tmin "$3" --tmax "$4" |
    sed -n 's/.*alpha = \([-0-9.e]*\) +- \([-0-9.naninf]*\).*/\1 \2/p'
}
within() { # value error target tolerance maxerr
  "$PYTHON" -c "import sys; a,e,t,tol,me=map(float,sys.argv[1:]); sys.exit(0 if abs(a-t)<=tol and e<=me else 1)" "$@"
}

run 2 -task quench -lattice_size 512,512 -quench_sweeps 500 -quench_histories 6 -quiet -output "$work/q2d.h5" ||
  fail "2D quench run"
read -r a e <<<"$(exponent "$work/q2d.h5" walls 10 251)"
if within "$a" "$e" 0.5 0.04 0.015; then pass "2D growth exponent (walls) $a +- $e = 1/2 within 0.04"; else
  fail "2D growth exponent (walls) $a +- $e, expected 1/2 within 0.04"; fi
read -r a e <<<"$(exponent "$work/q2d.h5" sk 10 251)"
if within "$a" "$e" 0.5 0.07 0.02; then pass "2D growth exponent (S(k)) $a +- $e = 1/2 within 0.07"; else
  fail "2D growth exponent (S(k)) $a +- $e, expected 1/2 within 0.07"; fi

run 2 -task quench -lattice_size 32768 -quench_sweeps 3000 -quench_histories 4 -quench_structure_factor false \
  -quiet -output "$work/q1d.h5" || fail "1D quench run"
read -r a e <<<"$(exponent "$work/q1d.h5" walls 32 3000)"
if within "$a" "$e" 0.5 0.03 0.015; then pass "1D growth exponent $a +- $e = 1/2 within 0.03"; else
  fail "1D growth exponent $a +- $e, expected 1/2 within 0.03"; fi

zero_t() { # label options...
  local label=$1
  shift
  if run 2 -task quench -quench_histories 3 -quiet -overwrite -output "$work/z.h5" "$@" &&
    "$PYTHON" - "$work/z.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    q = f["quench"]
    e = q["histories/energy"][:]
    u, du = q["unsatisfied_bonds"][0], q["unsatisfied_bonds_err"][0]
    rise = np.max(np.diff(e, axis=1))
    print(f"  largest energy rise {rise:.3g}; unsatisfied bonds at t = 0: {u:.4f} +- {du:.4f}")
    sys.exit(0 if rise <= 0 and abs(u - 0.5) <= 4 * du else 1)
PY
  then pass "$label"; else fail "$label"; fi
}
zero_t "T = 0 energy never rises: 2D Metropolis" -lattice_size 64,64 -quench_sweeps 200
zero_t "T = 0 energy never rises: 3D heat bath, open" -lattice_size 16,16,16 -lattice_bc open -algorithm heatbath \
  -quench_sweeps 100
zero_t "T = 0 energy never rises: 2D +-J spin glass" -lattice_size 48,48 -couplings pm -quench_sweeps 200
zero_t "T = 0 energy never rises: 1D ring" -lattice_size 4096 -quench_sweeps 300

opts=(-task quench -lattice_size 30,24 -lattice_bc periodic,open -quench_sweeps 120 -quench_histories 3 -quiet)
run 1 "${opts[@]}" -output "$work/r1.h5" && run 3 "${opts[@]}" -output "$work/r3.h5" &&
  run 4 "${opts[@]}" -process_grid 1,4 -output "$work/r4.h5" || fail "runs for the rank comparison"
if h5diff "$work/r1.h5" "$work/r3.h5" /quench && h5diff "$work/r1.h5" "$work/r4.h5" /quench; then
  pass "/quench bit-identical on 1, 3 ranks and a 1x4 grid"
else fail "/quench differs between rank counts"; fi
# -rebalance moves the blocks during the histories (ISING_REBALANCE_TEST:
# speeds that change at every check, so with gain 0 the blocks move at
# every check): the structure-factor transposes and the snapshots follow
# the new blocks, and nothing changes.
export ISING_REBALANCE_TEST=1
moves() { "$PYTHON" -c 'import sys, h5py; print(int(h5py.File(sys.argv[1]).attrs["rebalances"]))' "$1"; }
rb=(-rebalance 3 -rebalance_gain 0 -quench_snapshots true)
run 1 "${opts[@]}" -quench_snapshots true -output "$work/s1.h5" &&
  run 3 "${opts[@]}" "${rb[@]}" -balance 1,5,2 -output "$work/rb3.h5" || fail "runs with -rebalance"
n=$(moves "$work/rb3.h5" 2>/dev/null) || n=""
if h5diff "$work/s1.h5" "$work/rb3.h5" /quench && [ -n "$n" ] && [ "$n" -ge 1 ]; then
  pass "/quench bit-identical on 1 rank and on 3 ranks whose blocks moved $n times"
else fail "/quench with -rebalance on 3 ranks: differs, or no moves ('$n')"; fi
q3=(-task quench -lattice_size 6,8,10 -couplings pm -quench_sweeps 60 -quench_histories 2 -quench_beta 0.8
  -algorithm heatbath -quench_snapshots true -quiet)
run 1 "${q3[@]}" -output "$work/t1.h5" &&
  run 4 "${q3[@]}" "${rb[@]}" -process_grid 1,2,2 -balance 1,1,1,8 -output "$work/t4.h5" ||
  fail "3D runs with -rebalance"
n=$(moves "$work/t4.h5" 2>/dev/null) || n=""
if h5diff "$work/t1.h5" "$work/t4.h5" /quench && [ -n "$n" ] && [ "$n" -ge 1 ]; then
  pass "3D /quench bit-identical on 1 rank and on a 1x2x2 grid whose blocks moved $n times"
else fail "3D /quench with -rebalance on a 1x2x2 grid: differs, or no moves ('$n')"; fi
unset ISING_REBALANCE_TEST

if "$PYTHON" "$SRC/postprocess/quench.py" "$work/q2d.h5" --figure "$work/q.png" >/dev/null && [ -s "$work/q.png" ]; then
  pass "postprocess/quench.py figure"
else fail "postprocess/quench.py figure"; fi
finish
