# freeenergy.sh: ln Z by thermodynamic integration (after -task mc) and by
# annealed importance sampling (-task freeenergy) against exact values.
# Tolerances: each estimate within 4 of its reported error bars of the exact
# ln Z (for TI the error is the statistical one and the quadrature estimate
# added in quadrature); the error bar per spin below 1e-3 with these run
# lengths (1e-2 on the 16- and 25-spin lattices); the AIS lower bound (mean log weight) below ln Z + 4 sigma.
# - 16^2 and 32^2 periodic (Kaufman) at beta = 0.3, 0.4406868, 0.5: TI over
#   21 temperatures from 0.025, AIS with 32 chains (4000 and 16000 steps).
# - MBAR over the same TI runs: within 4 sigma of Kaufman; reweighting onto a
#   simulated temperature agrees with its direct e and c; two identical
#   states get the same ln Z.
# - 4x4 +-J with a random field and 4x4 Gaussian, open 5x5 +-J (enumeration):
#   TI and AIS.
# - 256^2 at beta = 1 (ln Z ~ 1.3e5): AIS finite, ESS >= 1.
# - MBAR's overlap of neighbouring temperatures: >= 0.03 on the 16^2 ladder,
#   < 0.03 and a warning on 4x4 at beta = 0.05 and 3.
# - MBAR on a series with negative tau_int (3 sweeps) keeps its samples:
#   reweighted ln Z at the simulated beta equals lnZ_mbar there (1e-9).
# - TI on 4x2 periodic (two bonds per pair on the short axis) at beta = 0.1
#   within 4 statistical errors of enumeration.
# - AIS bit-identical on 1 and 3 ranks (3 groups of 1 rank, and 1 group of 3
#   ranks) and on 4 ranks in 2 groups of 2 (-ais_ranks_per_chain).
# - AIS from the mean-field q (-ais_start meanfield, 32 chains): 16^2 at the
#   three temperatures and 0.8 (8000 steps) against Kaufman, the three disordered
#   models (2000 steps) against enumeration, with the same tolerances; bit-
#   identical in the same four layouts.
# - Progress lines inside long chains (both starts), from rank 0 only, with
#   the chains in one group of 2 ranks and in 2 groups of 1.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
grid=$("$PYTHON" -c "print(','.join(sorted(set(['%g' % (0.025 * i) for i in range(1, 21)] + ['0.4406868']), key=float)))")

check() { # label file method(ti|ais|mbar) betas(comma list or all) [largest error per spin, default 1e-3]
  if "$PYTHON" - "$2" "$3" "$4" "${5:-1e-3}" <<'PY'
import sys, h5py, numpy as np
path, method, which, maxerr = sys.argv[1:]
with h5py.File(path) as f:
    g = f["free_energy"]
    beta, ex = g["beta"][:], g["lnZ_exact"][:]
    N = float(np.prod(f["model"].attrs["size"]))
    v, e = g["lnZ_" + method][:], g["lnZ_" + method + "_err"][:]
    if method == "ti":
        e = np.hypot(e, g["lnZ_ti_quadrature_err"][:])
    ok = True
    for k, b in enumerate(beta):
        if which != "all" and not any(abs(b - float(x)) < 1e-9 for x in which.split(",")):
            continue
        dev = (v[k] - ex[k]) / e[k]
        good = abs(dev) <= 4 and e[k] / N < float(maxerr)
        if method == "ais":
            lo, loe = g["lnZ_lower_ais"][k], g["lnZ_lower_ais_err"][k]
            good = good and lo <= ex[k] + 4 * loe
        print(f"  beta {b:.7g}: {method} {v[k]/N:.7f} +- {e[k]/N:.1e}, exact {ex[k]/N:.7f} ({dev:+.2f} sigma)")
        ok = ok and good and np.isfinite(dev)
    sys.exit(0 if ok else 1)
PY
  then pass "$1"; else fail "$1"; fi
}

for L in 16 32; do
  sweeps=$((L == 16 ? 4000 : 2000))
  run 2 -lattice_size $L,$L -beta_list "$grid" -sweeps $sweeps -thermalize 500 -quiet -output "$work/ti$L.h5" ||
    fail "TI run $L"
  check "TI ${L}^2 against Kaufman" "$work/ti$L.h5" ti 0.3,0.4406868,0.5
  check "MBAR ${L}^2 against Kaufman" "$work/ti$L.h5" mbar 0.3,0.4406868,0.5
done
# MBAR reweighting onto a simulated temperature returns that temperature's
# direct estimate (e and c within 4 sigma of the two errors combined).
if "$PYTHON" - "$work/ti16.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1])
r, o = f["free_energy/reweighted"], f["observables"]
ok = True
for k, b in enumerate(o["beta"][:]):
    i = np.argmin(abs(r["beta"][:] - b))
    if abs(r["beta"][i] - b) > 1e-9:
        continue
    for name in ("energy", "specific_heat"):
        d = (r[name][i] - o[name][k]) / np.hypot(r[name + "_err"][i], o[name + "_err"][k])
        ok = ok and abs(d) <= 4
        print(f"  beta {b:.4g} {name}: reweighted {r[name][i]:.6g} direct {o[name][k]:.6g} ({d:+.2f} sigma)")
print(f"  specific-heat peak at beta {r.attrs['specific_heat_peak_beta']:.4f} +- {r.attrs['specific_heat_peak_beta_err']:.4f}")
sys.exit(0 if ok else 1)
PY
then pass "MBAR reweighting onto simulated temperatures agrees with the direct estimates"; else
  fail "MBAR reweighting differs from the direct estimates"; fi
# Two identical states get equal ln Z.
run 1 -lattice_size 8,8 -beta_list 0.2,0.3,0.3,0.4 -sweeps 2000 -thermalize 200 -quiet -output "$work/dup.h5" ||
  fail "MBAR duplicate-state run"
if "$PYTHON" -c "
import sys, h5py
g = h5py.File(sys.argv[1])['free_energy']
v = g['lnZ_mbar'][:]
print(f'  lnZ_mbar of the two beta = 0.3 states: {v[1]:.12g} {v[2]:.12g}')
sys.exit(0 if abs(v[1] - v[2]) <= 1e-9 * abs(v[1]) else 1)" "$work/dup.h5"; then
  pass "MBAR: two identical states have equal ln Z"
else fail "MBAR: two identical states differ"; fi
# MBAR's overlap between neighbouring temperatures: every neighbour of the fine 16^2 ladder above 0.03; 4x4 at
# beta = 0.05 and 3 (cold start: disjoint energies), where MBAR converges 12 below the exact difference with a
# small bootstrap error, under 0.03 and a warning naming the pair.
run 1 -lattice_size 4,4 -beta_list 0.05,3 -sweeps 2000 -start cold -quiet -output "$work/poor.h5" 2>"$work/poor.txt" ||
  fail "MBAR poor-overlap run"
cat "$work/poor.txt"
if "$PYTHON" -c "
import sys, h5py, numpy as np
good = h5py.File(sys.argv[1])['free_energy/mbar_overlap'][:]
poor = h5py.File(sys.argv[2])['free_energy/mbar_overlap'][:]
print(f'  16^2 ladder: least overlap {np.nanmin(good):.3g}; 4x4 at 0.05 and 3: {poor[0]:.3g}')
sys.exit(0 if np.nanmin(good) >= 0.03 and np.isnan(good[-1]) and poor[0] < 0.03 and np.isnan(poor[1]) else 1)" \
  "$work/ti16.h5" "$work/poor.h5" && grep -q "MBAR: the energies at beta = 0.05 and 3 overlap by only" "$work/poor.txt"; then
  pass "MBAR overlap: above 0.03 on a fine ladder, below with a warning where energies do not overlap"
else fail "MBAR overlap between neighbouring temperatures"; fi
# A series so short that tau_int comes out negative (-0.5 at beta = 0.5 here) still gives MBAR its samples: a
# negative thinning step once kept none, and MBAR left that temperature at its TI starting value, so that the
# reweighted ln Z at the same beta disagreed with lnZ_mbar.
run 1 -lattice_size 4,4 -beta_list 0.3,0.5 -sweeps 3 -reweight_points 3 -quiet -output "$work/few.h5" ||
  fail "MBAR short-series run"
if "$PYTHON" -c "
import sys, h5py
f = h5py.File(sys.argv[1]); g = f['free_energy']
tau, v, r = f['observables/tau_int_energy'][1], g['lnZ_mbar'][1], g['reweighted/lnZ'][-1]
print(f'  tau_int {tau:.3g}; lnZ_mbar {v:.12g}, reweighted at the same beta {r:.12g}, TI {g[\"lnZ_ti\"][1]:.12g}')
sys.exit(0 if tau < 0 and abs(v - r) <= 1e-9 * abs(v) else 1)" "$work/few.h5"; then
  pass "MBAR keeps the samples of a series with negative tau_int"
else fail "MBAR with a negative tau_int"; fi
# TI's first interval takes de/dbeta = -Var0(H)/N at beta = 0.  On a periodic axis of 2 sites two bonds join the
# same spins, Var0 = sum over pairs of (J_a + J_b)^2: 24 on 4x2, not 16.  With 16 TI at beta = 0.1 was 0.0067 low
# (20 statistical errors); the Hermite rule's own error there is 3e-6 (evaluated with the exact e and c), so the
# statistical error alone is the tolerance (4 sigma).
run 1 -lattice_size 4,2 -beta_list 0.1,0.2 -sweeps 1000000 -quiet -output "$work/v0.h5" || fail "TI 4x2 run"
if "$PYTHON" -c "
import sys, h5py
g = h5py.File(sys.argv[1])['free_energy']
d = (g['lnZ_ti'][0] - g['lnZ_exact'][0]) / g['lnZ_ti_err'][0]
print(f'  4x2 at beta 0.1: TI - exact = {g[\"lnZ_ti\"][0] - g[\"lnZ_exact\"][0]:.2e} ({d:+.2f} statistical errors)')
sys.exit(0 if abs(d) <= 4 else 1)" "$work/v0.h5"; then
  pass "TI on 4x2 (double bonds) against enumeration, statistical error only"
else fail "TI on 4x2 (double bonds)"; fi
run 1 -task freeenergy -lattice_size 16,16 -beta_list 0.3,0.4406868,0.5 -ais_chains 32 -ais_steps 4000 -quiet \
  -output "$work/ais16.h5" || fail "AIS run 16"
check "AIS 16^2 against Kaufman" "$work/ais16.h5" ais all
run 1 -task freeenergy -lattice_size 32,32 -beta_list 0.3,0.4406868,0.5 -ais_chains 32 -ais_steps 16000 -quiet \
  -output "$work/ais32.h5" || fail "AIS run 32"
check "AIS 32^2 against Kaufman" "$work/ais32.h5" ais all

n=0
for model in "-lattice_size 4,4 -couplings pm -field_sigma 0.5" "-lattice_size 4,4 -couplings gaussian" \
  "-lattice_size 5,5 -lattice_bc open -couplings pm -disorder_seed 3"; do
  n=$((n + 1))
  # shellcheck disable=SC2086
  run 2 $model -beta_list "$grid" -sweeps 4000 -thermalize 200 -quiet -output "$work/e$n.h5" || fail "TI run $model"
  check "TI $model against enumeration" "$work/e$n.h5" ti 0.3,0.5 1e-2
  check "MBAR $model against enumeration" "$work/e$n.h5" mbar 0.3,0.5 1e-2
  # shellcheck disable=SC2086
  run 2 $model -task freeenergy -beta_list 0.3,0.7,1.0 -ais_chains 32 -ais_steps 2000 -quiet -output "$work/a$n.h5" ||
    fail "AIS run $model"
  check "AIS $model against enumeration" "$work/a$n.h5" ais all 1e-2
  # shellcheck disable=SC2086
  run 2 $model -task freeenergy -ais_start meanfield -beta_list 0.3,0.7,1.0 -ais_chains 32 -ais_steps 2000 -quiet \
    -output "$work/q$n.h5" || fail "AIS from mean field, run $model"
  check "AIS from mean field, $model against enumeration" "$work/q$n.h5" ais all 1e-2
done
run 2 -task freeenergy -ais_start meanfield -lattice_size 16,16 -beta_list 0.3,0.4406868,0.5,0.8 -ais_chains 32 \
  -ais_steps 8000 -quiet -output "$work/qk.h5" || fail "AIS from mean field, 16^2"
check "AIS from mean field, 16^2 against Kaufman" "$work/qk.h5" ais all

if run 2 -task freeenergy -lattice_size 256,256 -beta 1 -ais_chains 4 -ais_steps 50 -quiet -output "$work/big.h5" &&
  "$PYTHON" - "$work/big.h5" <<'PY'
import sys, h5py, numpy as np
g = h5py.File(sys.argv[1])["free_energy"]
v, e, ess = g["lnZ_ais"][0], g["lnZ_ais_err"][0], g["ais_ess"][0]
print(f"  256^2 beta 1: lnZ_ais {v:.6g} +- {e:.3g}, ESS {ess:.3g}")
sys.exit(0 if np.isfinite(v) and np.isfinite(e) and v > 1e5 and ess >= 1 else 1)
PY
then pass "256^2 at beta = 1: finite AIS estimate and error"; else fail "256^2 at beta = 1"; fi

opts=(-task freeenergy -lattice_size 12,10 -lattice_bc open,periodic -couplings gaussian -beta_list 0.4,0.9
  -ais_chains 5 -ais_steps 100 -quiet)
# 5 chains: on 3 ranks by default 3 groups of 1 rank (2, 2 and 1 chains), then every chain decomposed over the 3
# ranks, then 2 groups of 2 ranks on 4 (chains 0, 2, 4 and 1, 3)
same_as() { # label reference file
  if h5diff "$2" "$3" /free_energy && h5diff "$2" "$3" /ais; then pass "$1"; else fail "$1"; fi
}
for start in uniform meanfield; do
  run 1 "${opts[@]}" -ais_start $start -output "$work/r1$start.h5" &&
    run 3 "${opts[@]}" -ais_start $start -output "$work/r3$start.h5" &&
    run 3 "${opts[@]}" -ais_start $start -ais_ranks_per_chain 3 -output "$work/d3$start.h5" &&
    run 4 "${opts[@]}" -ais_start $start -ais_ranks_per_chain 2 -output "$work/g4$start.h5" ||
    fail "AIS rank runs ($start)"
  same_as "AIS ($start) bit-identical on 1 rank and on 3 groups of 1 rank" "$work/r1$start.h5" "$work/r3$start.h5"
  same_as "AIS ($start) bit-identical on 1 rank and on 3 ranks per chain" "$work/r1$start.h5" "$work/d3$start.h5"
  same_as "AIS ($start) bit-identical on 1 rank and on 2 groups of 2 ranks" "$work/r1$start.h5" "$work/g4$start.h5"
done

# Progress lines inside long chains, rank 0 only (mpirun --tag-output: every line starts with [job,rank]<stdout>:).
for rpc in 2 1; do # both chains on the 2 ranks, or one chain on each
  for start in uniform meanfield; do
    timeout 300 "$MPIEXEC" -n 2 --oversubscribe --tag-output "$ISING" -task freeenergy -lattice_size 32,32 \
      -beta_list 0.4 -ais_chains 2 -ais_steps 2000 -ais_start $start -mf_init ferro -progress_interval 0.001 \
      -ais_ranks_per_chain $rpc -output "$work/p${rpc}_$start.h5" > "$work/p_$start.txt" || fail "AIS progress run ($start)"
  done
  eta=', [0-9.]* sweeps/s, ETA [0-9]* s$'
  u=$(grep -c "<stdout>:progress: AIS chain [12]/2, step [0-9]*/1999, beta 0\.[0-9]*$eta" "$work/p_uniform.txt")
  m=$(grep -c "<stdout>:progress: AIS from mean field, beta 1/1, chain [12]/2, step [0-9]*/2000$eta" \
    "$work/p_meanfield.txt")
  others=$(cat "$work/p_uniform.txt" "$work/p_meanfield.txt" | grep '<stdout>:progress:' | grep -vc '^\[[0-9]*,0\]')
  echo "  $rpc ranks per chain: $u lines inside chains from beta = 0, $m from mean field, $others from other ranks than 0"
  if [ "$u" -ge 2 ] && [ "$m" -ge 2 ] && [ "$others" -eq 0 ]; then
    pass "AIS progress lines inside chains (rank 0 only), $rpc ranks per chain"
  else fail "AIS progress lines, $rpc ranks per chain"; fi
done
finish
