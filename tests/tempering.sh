# tempering.sh: parallel tempering end to end.
# - 4x4 periodic ferromagnet, 8 temperatures spanning beta_c: e, c, |m|
#   (and m^2, Binder) at every temperature within 4 sigma of enumeration;
# - the same input gives bit-identical estimates, time series, label
#   history, swap statistics and final spins for the layouts
#   (ranks, ranks_per_replica) = (1,1), (2,1), (4,2), (4,4), and (4,2) with
#   blocks sized by -balance and moved during the run by -rebalance;
# - detailed balance of the swaps: on a 2x3 open +-J lattice with a random
#   field (64 states), the energy histogram of the replica at each
#   temperature slot matches the exact Boltzmann distribution of that slot
#   (chi-square, p = 0.001 per slot; measurements 20 sweeps apart on 6
#   spins are independent to good approximation);
# - two replica sets on a 4x4 periodic +-J sample: <q^2> at every
#   temperature within 4 sigma of its exact value (1/N^2) sum_ij <s_i s_j>^2
#   from enumeration, and the overlaps bit-identical for other layouts,
#   with replica groups whose -balance speeds differ, and with their shared
#   blocks moved by -rebalance;
# - adaptive ladder: on a 16^2 ferromagnet with 12 temperatures the tuned
#   ladder's swap acceptances are more even (smaller max/min) than the
#   geometric ladder's, for both tuning methods; the tuned ladder keeps its
#   endpoints and is increasing (the layout test above also tunes, so the
#   tuning is bit-identical across layouts);
# - round trips per replica equal the count from the label history; snapshots
#   every 7 sweeps with -measure_interval 2 are all written;
# - P(q) bins q and -q alike (20x20, where half the q values lie half-way);
# - tempering,meanfield on +-J bonds with random fields runs and gives the
#   tempering-only /model, /tempering and /observables;
# - disorder samples: sample s of a 3-sample run is bit-identical to a
#   separate run with -disorder_seed + s and -seed + s, and /disorder holds
#   the mean over samples with the sample-to-sample error sd/sqrt(S).
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pt() { # np file options...
  local np=$1 out=$2
  shift 2
  run "$np" -task tempering -quiet -output "$out" "$@" || fail "run $np $*"
}

pt 2 "$work/ex.h5" -lattice_size 4,4 -beta_min 0.2 -beta_max 0.8 -n_temps 8 -thermalize 1000 -sweeps 100000
if "$PYTHON" "$SRC/tests/check_exact.py" "$work/ex.h5" energy,specific_heat,abs_magnetization,m2,binder; then
  pass "4x4, 8 temperatures: estimates vs enumeration"
else
  fail "4x4, 8 temperatures: estimates vs enumeration"
fi

lay="-lattice_size 8,8 -couplings pm -beta_list 0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9 -thermalize 20 -sweeps 200 -pt_swap_interval 2 -pt_adapt_sweeps 80 -snapshot_interval 100"
pt 1 "$work/l1.h5" $lay
# 4:2/...: each replica group sizes its blocks by its own ranks' -balance
# entries; 4:2/...+: and -rebalance moves them (ISING_REBALANCE_TEST: speeds
# that change at every check, so with gain 0 they move at every check)
moves() { "$PYTHON" -c 'import sys, h5py; print(int(h5py.File(sys.argv[1]).attrs["rebalances"]))' "$1"; }
for layout in 2:1 4:2 4:4 4:2/1,3,2,1 4:2/1,3,2,1+; do
  bal="" tag=""
  case $layout in *+) bal="-rebalance 3 -rebalance_gain 0" tag=".moving" layout=${layout%+} ;; esac
  case $layout in */*) bal="-balance ${layout#*/} $bal" tag=".balanced$tag" layout=${layout%%/*} ;; esac
  np=${layout%%:*}
  rpr=${layout#*:}
  out="$work/l$np.$rpr$tag.h5"
  if [ -n "$tag" ]; then ISING_REBALANCE_TEST=1 pt "$np" "$out" $lay -ranks_per_replica "$rpr" $bal; else
    pt "$np" "$out" $lay -ranks_per_replica "$rpr" $bal
  fi
  same=1
  for ds in /observables/energy /observables/specific_heat /timeseries/energy /timeseries/magnetization \
    /tempering/labels /tempering/swap_acceptance /tempering/round_trips /tempering/spins /model/bonds \
    /snapshots/spins /tempering/beta /ground_state/tempering; do
    h5diff -q "$work/l1.h5" "$out" "$ds" "$ds" >/dev/null 2>&1 || { same=0; echo "  $ds differs"; }
  done
  if [ $same = 1 ]; then pass "layout ($np ranks, $rpr per replica $bal) bit-identical to 1 rank"; else
    fail "layout ($np ranks, $rpr per replica $bal) differs from 1 rank"
  fi
  if [ "$tag" = .balanced.moving ]; then
    n=$(moves "$out" 2>/dev/null) || n=""
    if [ -n "$n" ] && [ "$n" -ge 20 ]; then pass "-rebalance in tempering: $n moves"; else
      fail "-rebalance in tempering: no moves recorded ('$n')"
    fi
  fi
done

# each replica group takes its own ranks' -balance entries: group 0 (world ranks 0 and 1, speeds 1 and 3) cuts the 8
# rows 2 + 6
if run 4 -task tempering -output "$work/bal.h5" $lay -ranks_per_replica 2 -balance 1,3,2,1 >"$work/bal.txt" &&
  grep -q "^blocks      of replica group 0 by given speeds (slowest rank 0.333 of the fastest), sites per block: y 2 6$" \
    "$work/bal.txt"; then
  pass "-balance in tempering: replica group 0's blocks 2 + 6"
else
  fail "-balance in tempering: replica group 0's blocks ($(grep blocks "$work/bal.txt"))"
fi

pt 2 "$work/db.h5" -lattice_size 2,3 -lattice_bc open -couplings pm -field_sigma 0.4 -disorder_seed 3 \
  -beta_list 0.3,0.6,1.0,1.5 -thermalize 1000 -sweeps 400000 -measure_interval 20
if "$PYTHON" - "$work/db.h5" <<'PY'
import sys, itertools, h5py, numpy as np
from scipy.stats import chi2
with h5py.File(sys.argv[1]) as f:
    bonds = f["model/bonds"][:]          # [dim, y, x]
    fields = f["model/fields"][:]        # [y, x]
    beta = f["tempering/beta"][:]
    ts = f["timeseries/energy"][:]       # [measurement, slot], per spin
ny, nx = fields.shape
N = nx * ny
energies = []
for state in itertools.product([-1, 1], repeat=N):
    s = np.array(state).reshape(ny, nx)
    E = -np.sum(fields * s)
    E -= np.sum(bonds[0][:, :-1] * s[:, :-1] * s[:, 1:])   # open x: bond from x to x+1
    E -= np.sum(bonds[1][:-1, :] * s[:-1, :] * s[1:, :])
    energies.append(E)
energies = np.round(np.array(energies), 9)
levels = np.unique(energies)
ok = True
for t, b in enumerate(beta):
    w = np.exp(-b * (energies - energies.min()))
    p = np.array([w[energies == E].sum() for E in levels]) / w.sum()
    obs = np.round(ts[:, t] * N, 9)
    counts = np.array([np.sum(np.isclose(obs, E, atol=1e-6)) for E in levels])
    n = len(obs)
    keep = n * p >= 5                           # pool rare levels into one cell
    o = np.append(counts[keep], counts[~keep].sum())
    e = np.append(n * p[keep], n * p[~keep].sum())
    if e[-1] < 5:
        o, e = o[:-1], e[:-1]
    x2 = np.sum((o - e) ** 2 / e)
    dof = len(o) - 1
    crit = chi2.ppf(0.999, dof)
    ok &= counts.sum() == n and x2 <= crit
    print(f"  slot {t} beta {b:g}: chi2 = {x2:.1f} with {dof} dof (fails above {crit:.1f}), {n} samples")
sys.exit(0 if ok else 1)
PY
then pass "detailed balance: energy distribution of every slot (chi-square)"; else fail "detailed balance chi-square"; fi
sgopt="-lattice_size 4,4 -couplings pm -disorder_seed 9 -beta_list 0.3,0.6,1.0,1.5 -pt_replica_sets 2 -thermalize 2000 -sweeps 100000"
pt 2 "$work/sg.h5" $sgopt
pt 4 "$work/sg4.h5" $sgopt -ranks_per_replica 2
if h5diff -q "$work/sg.h5" "$work/sg4.h5" /overlap/q /overlap/q >/dev/null 2>&1; then
  pass "overlaps bit-identical for (2 ranks, 1 per replica) and (4 ranks, 2 per replica)"
else
  fail "overlaps differ between layouts"
fi
# with -balance the two groups would size different blocks (speeds 1,3 and
# 2,1), but the overlaps pair rank k of one group with rank k of the other:
# they share the blocks sized for the slowest rank of each position, and
# -rebalance moves them together (ISING_REBALANCE_TEST: at every check)
pt 4 "$work/sg4b.h5" $sgopt -ranks_per_replica 2 -balance 1,3,2,1
if h5diff -q "$work/sg.h5" "$work/sg4b.h5" /overlap /overlap >/dev/null 2>&1; then
  pass "overlaps bit-identical for (4 ranks, 2 per replica, -balance 1,3,2,1)"
else
  fail "overlaps with -balance 1,3,2,1 differ from (2 ranks, 1 per replica)"
fi
ISING_REBALANCE_TEST=1 pt 4 "$work/sg4m.h5" ${sgopt/-sweeps 100000/-sweeps 20000} -ranks_per_replica 2 -balance 1,4,1,4 -rebalance 50 \
  -rebalance_gain 0
pt 2 "$work/sg2s.h5" ${sgopt/-sweeps 100000/-sweeps 20000}
n=$(moves "$work/sg4m.h5" 2>/dev/null) || n=""
if h5diff -q "$work/sg2s.h5" "$work/sg4m.h5" /overlap /overlap >/dev/null 2>&1 && [ -n "$n" ] && [ "$n" -ge 20 ]; then
  pass "overlaps bit-identical for (4 ranks, 2 per replica) with shared blocks moved $n times"
else
  fail "overlaps with -rebalance on (4 ranks, 2 per replica) differ, or no moves ('$n')"
fi
if "$PYTHON" - "$work/sg.h5" <<'PY'
import sys, itertools, h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    bonds = f["model/bonds"][:]          # [dim, y, x], periodic
    beta = f["overlap/beta"][:]
    q2, q2e = f["overlap/q2"][:], f["overlap/q2_err"][:]
ny, nx = bonds.shape[1:]
N = nx * ny
states = np.array(list(itertools.product([-1, 1], repeat=N)), dtype=np.int8).reshape(-1, ny, nx)
E = -np.sum(bonds[0] * states * np.roll(states, -1, axis=2), axis=(1, 2)) \
    - np.sum(bonds[1] * states * np.roll(states, -1, axis=1), axis=(1, 2))
flat = states.reshape(len(states), N).astype(float)
ok = True
for b, v, e in zip(beta, q2, q2e):
    w = np.exp(-b * (E - E.min()))
    w /= w.sum()
    corr = (flat * w[:, None]).T @ flat
    exact = np.sum(corr ** 2) / N ** 2
    dev = (v - exact) / e
    ok &= abs(dev) < 4
    print(f"  beta {b:g}: <q^2> = {v:.5f} +- {e:.5f}, exact {exact:.5f}, {dev:+.2f} sigma (tolerance 4)")
sys.exit(0 if ok else 1)
PY
then pass "+-J 4x4, two replica sets: <q^2> vs enumeration"; else fail "<q^2> vs enumeration"; fi
if "$PYTHON" - "$work/l1.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    snap, final = f["snapshots/spins"][:], f["tempering/spins"][:]
    beta = f["snapshots/beta"][:]
    # the last snapshot precedes the last swap, so it holds the final
    # configurations, possibly at exchanged slots
    same = sorted(x.tobytes() for x in snap[-8:]) == sorted(x.tobytes() for x in final)
    ok = snap.shape == (16, 8, 8) and set(np.unique(snap)) <= {-1, 1} and same
    ok = ok and np.array_equal(beta[-8:], f["tempering/beta"][:])
    sys.exit(0 if ok else 1)
PY
then pass "snapshots per slot: shape, +-1, the last ones are the final configurations"; else fail "tempering snapshots"; fi

# Round trips 0 -> K-1 -> 0 per replica equal those counted from the label history; with an odd number of
# sweeps and swaps every 2 the last sweep makes no swap, so the labels hold every swap.  A replica that met slot
# K-1 before slot 0 once got a trip for coming down (8 trips where the labels showed 5 on this run).  The same run
# takes a snapshot every 7 sweeps, not a multiple of -measure_interval 2: every snapshot written.
pt 1 "$work/rt.h5" -lattice_size 12,12 -couplings pm -beta_min 0.2 -beta_max 3 -n_temps 8 -thermalize 0 \
  -sweeps 3001 -pt_swap_interval 2 -measure_interval 2 -snapshot_interval 7 -exact false
if "$PYTHON" - "$work/rt.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    t = f["tempering"]
    code, labels = t["round_trips_per_replica"][:], t["labels"][:].astype(int)
    sweeps = f["snapshots/sweep"][:]
K = labels.shape[1]
want = []
for r in range(K):
    state, n = 0, 0  # 0: not yet at slot 0; 1: left slot 0; 2: reached K-1 after slot 0
    for row in labels:
        slot = int(np.nonzero(row == r)[0][0])
        if slot == 0:
            n += state == 2
            state = 1
        elif slot == K - 1 and state == 1:
            state = 2
    want.append(n)
print(f"  round trips per replica {code.astype(int).tolist()}, from the labels {want}")
print(f"  snapshots at sweeps {sweeps[:3].tolist()} ... {sweeps[-1]}, {np.isnan(sweeps).sum()} missing of {len(sweeps)}")
ok = code.tolist() == want and len(sweeps) == 3001 // 7 * K and not np.isnan(sweeps).any()
ok = ok and np.array_equal(sweeps[::K], 7.0 * np.arange(1, 3001 // 7 + 1))
sys.exit(0 if ok else 1)
PY
then pass "round trips from the label history; snapshots between measurements"; else
  fail "round trips or snapshots between measurements"; fi
# Tempering beside another task on disordered couplings and fields: set-up writes /model for the other task, and
# tempering wrote it again, which failed (exit 3, output removed).  Now the file is the tempering-only run's.
tm="-lattice_size 4,4 -couplings pm -field_sigma 0.5 -beta_list 0.2,0.5,1,2 -sweeps 200 -thermalize 10"
pt 2 "$work/tm0.h5" $tm
run 2 -task tempering,meanfield $tm -quiet -output "$work/tm1.h5" || fail "tempering,meanfield run"
if h5diff -q "$work/tm0.h5" "$work/tm1.h5" /model /model && h5diff -q "$work/tm0.h5" "$work/tm1.h5" /tempering /tempering &&
  h5diff -q "$work/tm0.h5" "$work/tm1.h5" /observables /observables; then
  pass "tempering with meanfield on +-J bonds and random fields: the tempering-only results"
else fail "tempering with meanfield on disordered couplings"; fi
# P(q) bins q and -q alike (N = 400 >= 200: 201 bins, q in steps of 0.005, so half of its values lie half-way
# between bins): the histogram is the q series binned to the nearest bin centre, halves away from 0.
pt 1 "$work/pq.h5" -lattice_size 20,20 -beta_list 0.1,0.2 -pt_replica_sets 2 -thermalize 100 -sweeps 4000
if "$PYTHON" - "$work/pq.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    q, hist = f["overlap/q"][:], f["overlap/histogram"][:]
ok = True
for t in range(hist.shape[0]):
    x = q[:, t] * 100.0
    b = 100 + (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(int)
    want = np.bincount(b, minlength=201) / len(x)
    half = np.mean(np.abs(np.abs(x) - np.floor(np.abs(x)) - 0.5) < 1e-9)
    ok &= np.allclose(hist[t], want, atol=1e-12, rtol=0)
    print(f"  slot {t}: {half:.0%} of the q values half-way between bins; histogram as binned here: {np.allclose(hist[t], want, atol=1e-12, rtol=0)}")
sys.exit(0 if ok else 1)
PY
then pass "P(q): q and -q in mirror bins"; else fail "P(q) binning"; fi
adapt="-lattice_size 16,16 -beta_min 0.2 -beta_max 0.8 -n_temps 12 -thermalize 1000 -sweeps 20000"
pt 2 "$work/geo.h5" $adapt
pt 2 "$work/eq.h5" $adapt -pt_adapt_sweeps 20000
pt 2 "$work/fb.h5" $adapt -pt_adapt_sweeps 20000 -pt_adapt_method feedback
if "$PYTHON" - "$work/geo.h5" "$work/eq.h5" "$work/fb.h5" <<'PY'
import sys, h5py, numpy as np
def spread(path):
    with h5py.File(path) as f:
        a, b = f["tempering/swap_acceptance"][:], f["tempering/beta"][:]
        b0 = f["tempering/beta_initial"][:] if "beta_initial" in f["tempering"] else b
    return a.max() / a.min(), a, b, b0
g = spread(sys.argv[1])[0]
ok = True
for name, path in (("equal_acceptance", sys.argv[2]), ("feedback", sys.argv[3])):
    r, a, b, b0 = spread(path)
    good = r < g and np.all(np.diff(b) > 0) and b[0] == b0[0] and b[-1] == b0[-1]
    ok &= good
    print(f"  {name}: acceptance max/min {r:.2f} vs geometric {g:.2f}; ladder {np.round(b, 3)}")
sys.exit(0 if ok else 1)
PY
then pass "adaptive ladders even out the swap acceptance"; else fail "adaptive ladder"; fi
ds="-lattice_size 4,4 -couplings pm -beta_list 0.3,0.6,1.0 -pt_replica_sets 2 -thermalize 200 -sweeps 2000"
pt 2 "$work/ds.h5" $ds -disorder_samples 3 -disorder_seed 5 -seed 7
pt 2 "$work/ds1.h5" $ds -disorder_seed 6 -seed 8
same=1
for ds_path in /observables/energy /timeseries/energy /overlap/q /tempering/labels /model/bonds; do
  h5diff -q "$work/ds1.h5" "$work/ds.h5" "$ds_path" "/samples/1$ds_path" >/dev/null 2>&1 || { same=0; echo "  $ds_path differs"; }
done
if [ $same = 1 ]; then pass "disorder sample 1 equals a separate run with seeds + 1"; else fail "disorder sample 1"; fi
if "$PYTHON" - "$work/ds.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    ok = "observables" not in f and "free_energy" not in f
    for q, path in (("q2", "overlap/q2"), ("energy", "observables/energy"), ("binder_ratio", "overlap/binder_ratio")):
        v = np.array([f[f"samples/{s}/{path}"][:] for s in range(3)])
        ok &= np.allclose(f[f"disorder/{q}"][:], v.mean(axis=0), rtol=1e-14, atol=0)
        ok &= np.allclose(f[f"disorder/{q}_err"][:], v.std(axis=0, ddof=1) / np.sqrt(3), rtol=1e-12, atol=0)
        ok &= np.array_equal(f[f"disorder/{q}_samples"][:], v)
    ok &= f["disorder"].attrs["samples"] == 3
    sys.exit(0 if ok else 1)
PY
then pass "/disorder: means and sample-to-sample errors of the samples"; else fail "/disorder averages"; fi
finish
