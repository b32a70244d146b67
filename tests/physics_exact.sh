# physics_exact.sh: Monte Carlo estimates of the ising program against the
# exact values it writes beside them (enumeration, Kaufman, transfer
# matrix).  Tolerance: 4 standard errors (the binning/jackknife error bar of
# each estimate), at every temperature; with fixed seeds the outcome is
# reproducible.  The error bars come from 16-64 bins, so a deviation in
# sigma follows a t-distribution: P(|t| > 4) is 1.7e-4 with 63 and 1.2e-3
# with 15 degrees of freedom, i.e. about 1 % that one of the ~60
# comparisons fails for a correct code.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
check() { # label file quantities
  if "$PYTHON" "$SRC/tests/check_exact.py" "$2" "$3"; then pass "$1"; else fail "$1"; fi
}
mc() { # label np file options...
  local label=$1 np=$2 out=$3
  shift 3
  run "$np" "$@" -quiet -output "$out" || fail "$label: run failed"
}
q4="energy,abs_magnetization,specific_heat,m2,binder"

# 4x4 periodic ferromagnet at beta = 0.3 and 0.44 (enumeration), both updates.
mc "4x4 metropolis" 2 "$work/m.h5" -lattice_size 4,4 -beta_list 0.3,0.44 -thermalize 1000 -sweeps 200000
check "4x4 periodic, Metropolis, vs enumeration" "$work/m.h5" "$q4"
mc "4x4 heatbath" 2 "$work/h.h5" -lattice_size 4,4 -beta_list 0.3,0.44 -thermalize 1000 -sweeps 200000 \
  -algorithm heatbath -seed 7
check "4x4 periodic, heat bath, vs enumeration" "$work/h.h5" "$q4"
if "$PYTHON" "$SRC/tests/check_agree.py" "$work/m.h5" "$work/h.h5" energy,abs_magnetization,specific_heat; then
  pass "Metropolis and heat bath agree"
else
  fail "Metropolis and heat bath agree"
fi

# 1D chains with a field against the transfer matrix (signed m is exact there).
mc "ring" 2 "$work/ring.h5" -lattice_size 64 -field 0.3 -J 0.8 -beta_list 0.5,1.5 -thermalize 1000 -sweeps 100000
check "1D ring, J = 0.8, h = 0.3, vs transfer matrix" "$work/ring.h5" energy,specific_heat,magnetization
mc "open chain" 3 "$work/chain.h5" -lattice_size 40 -lattice_bc open -field -0.2 -beta_list 0.7 \
  -algorithm heatbath -thermalize 1000 -sweeps 100000
check "1D open chain, h = -0.2, heat bath, vs transfer matrix" "$work/chain.h5" energy,specific_heat,magnetization

# Zero-field rings with Metropolis: p(dE = 0) = 1 made the checkerboard
# sweep non-ergodic on a chain (27 sigma off at L = 16; docs/physics.md), so
# both residues of L mod 4 are checked, and 16 decoupled chains (Jy = 0,
# no exact value in the file) against the 16-site ring.
mc "ring 16" 1 "$work/r16.h5" -lattice_size 16 -beta_list 0.4,1.0 -thermalize 1000 -sweeps 200000
check "1D ring of 16, zero field, Metropolis, vs transfer matrix" "$work/r16.h5" energy,specific_heat
mc "ring 130" 2 "$work/r130.h5" -lattice_size 130 -beta_list 0.4,1.0 -thermalize 1000 -sweeps 100000
check "1D ring of 130, zero field, Metropolis, vs transfer matrix" "$work/r130.h5" energy,specific_heat
mc "chains" 2 "$work/chains.h5" -lattice_size 16,16 -J 1,0 -beta_list 0.4,1.0 -thermalize 1000 -sweeps 20000
if "$PYTHON" "$SRC/tests/check_agree.py" "$work/chains.h5" "$work/r16.h5" energy,specific_heat; then
  pass "16x16 with Jy = 0 agrees with the ring of 16"
else
  fail "16x16 with Jy = 0 agrees with the ring of 16"
fi

# Lattices of at most 32 spins: p(dE = 0) = 1 left the states with zero local
# field everywhere (4 of the 256 on 4x2, all at E = 0) out of the sampled
# ones, 6 sigma off at beta = 0.2 (docs/physics.md); ties by a fair coin there.
mc "4x2" 1 "$work/t42.h5" -lattice_size 4,2 -beta_list 0.1,0.2 -thermalize 1000 -sweeps 800000
check "4x2 periodic, Metropolis, vs enumeration" "$work/t42.h5" "$q4"

# 2D 16x16 periodic against Kaufman's closed form, anisotropic couplings.
mc "16x16" 4 "$work/k.h5" -lattice_size 16,16 -J 1.0,0.6 -beta_list 0.3,0.5 -thermalize 2000 -sweeps 100000
check "2D 16x16 periodic, Jx = 1, Jy = 0.6, vs Kaufman" "$work/k.h5" energy,specific_heat

# 3D 2x2x4 periodic (double bonds on the short axes) and a +-J spin glass
# with a random field on an open 4x5 lattice, against enumeration.
mc "3D" 2 "$work/3d.h5" -lattice_size 2,2,4 -beta_list 0.2,0.35 -thermalize 1000 -sweeps 200000
check "3D 2x2x4 periodic vs enumeration" "$work/3d.h5" "$q4"
mc "spin glass" 2 "$work/sg.h5" -lattice_size 4,5 -lattice_bc open -couplings pm -field_sigma 0.5 \
  -beta_list 0.5,1.0 -algorithm heatbath -thermalize 1000 -sweeps 200000
check "+-J 4x5 open with random field vs enumeration" "$work/sg.h5" energy,specific_heat,magnetization,m2
mc "gaussian" 2 "$work/ga.h5" -lattice_size 4,4 -couplings gaussian -field 0.3 -beta_list 0.8 \
  -thermalize 1000 -sweeps 200000
check "Gaussian 4x4 periodic with field vs enumeration" "$work/ga.h5" energy,specific_heat,magnetization,abs_magnetization
finish
