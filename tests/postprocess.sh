# postprocess.sh: the scripts in postprocess/ on small outputs made here,
# checking the numbers they print (not only that a figure appears).
# - every script: --help exits 0; a missing file, a text file and a
#   checkpoint exit 2 with a one-line message; freeenergy.py on a file with
#   nothing finite in /free_energy (a quench) exits 2.
# - observables.py: beta_c of the periodic 2D ferromagnet from the Binder
#   crossing of L = 12 and 16 (L = 8 as well; L = 16 split over two files,
#   as a temperature job array writes it), 9 betas in [0.42, 0.46],
#   200000 sweeps each.  Tolerance: |beta_c - 0.4406868| <= 0.0015 + 4 sigma,
#   sigma the printed bootstrap error (required < 0.003).  The 0.0015 bounds
#   the finite-size shift of the crossing: over 10 independent runs of this
#   length the crossings lay above beta_c by +0.0015 (8 x 12), +0.0012
#   (8 x 16) and +0.0008 (12 x 16), each +-0.0003, and their scatter
#   (0.0008 for 12 x 16) matched the printed errors (~0.001).  Every pair
#   is checked with the bound 0.003.  The Binder value at the 12 x 16
#   crossing is checked against U* = 0.61069 (infinite-size value) with
#   0.006 + 4 sigma (measured shift +0.003).
# - freeenergy.py: the printed lnZ_exact/N, ELBO/N and KL gap/N equal the
#   file's (4x4 enumeration); on a copy with added estimator and bound
#   datasets (the names of the free-energy issue) the sandwich width is
#   min(upper) - max(lower) per spin, and a bound on the wrong side of the
#   exact value is reported.
# - snapshots.py: the energy and magnetisation it computes from each
#   configuration equal the time-series entry of the same sweep (2D random
#   field on 2 ranks, 1D open chain in a field, 3D +-J tempering snapshots),
#   the ground state's equals /ground_state/energy_per_spin.
# - tempering.py: swap acceptance and f(beta) equal the file's; P(q)
#   histogrammed from /overlap/q equals /overlap/histogram; <q^2> of the
#   series equals an independent mean and lies within 4 sigma of the file's
#   binned <q^2>; round trips from the label history differ from the file's
#   by at most one per replica (no thermalisation, so the history covers the
#   whole walk but the last swap).
# - summary.py: every number of the CSV table equals the h5py-read value,
#   every dataset of the file is accounted for; the Markdown table has a row
#   per beta.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MPLCONFIGDIR="$work/mpl"
PP="$SRC/postprocess"
py() { "$PYTHON" "$PP/$1" "${@:2}"; }
is_png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }

# a quench output (no finite /free_energy), a text file and a checkpoint (an output with content = checkpoint)
run 1 -task quench -lattice_size 16,16 -quench_sweeps 20 -quench_histories 2 -quiet -output "$work/qu.h5" ||
  fail "quench run"
echo "not HDF5" >"$work/text.h5"
cp "$work/qu.h5" "$work/fake.ckpt.h5"
"$PYTHON" -c 'import sys, h5py; h5py.File(sys.argv[1], "a").attrs["content"] = "checkpoint"' "$work/fake.ckpt.h5"
for s in observables freeenergy snapshots tempering summary quench; do
  if py $s.py --help >"$work/help" 2>&1 && grep -q "usage:" "$work/help"; then pass "$s.py --help"; else fail "$s.py --help"; fi
  for bad in missing.h5 text.h5 fake.ckpt.h5; do
    py $s.py "$work/$bad" >/dev/null 2>"$work/err"
    rc=$?
    if [ $rc = 2 ] && [ "$(wc -l <"$work/err")" = 1 ] && grep -q "$bad" "$work/err"; then
      pass "$s.py: $bad, exit 2 with one line"
    else fail "$s.py: $bad gave exit $rc: $(cat "$work/err")"; fi
  done
done
py freeenergy.py "$work/qu.h5" >/dev/null 2>"$work/err"
rc=$?
if [ $rc = 2 ] && grep -q "holds no finite value" "$work/err"; then pass "freeenergy.py: nothing finite, exit 2"; else
  fail "freeenergy.py on a quench output gave exit $rc: $(cat "$work/err")"
fi

# --- Binder crossing of the 2D Ising model -------------------------------
mc="-thermalize 5000 -sweeps 200000 -quiet"
run 1 -lattice_size 8,8 -beta_list 0.42,0.425,0.43,0.435,0.44,0.445,0.45,0.455,0.46 $mc -output "$work/L8.h5" &
run 1 -lattice_size 12,12 -beta_list 0.42,0.425,0.43,0.435,0.44,0.445,0.45,0.455,0.46 $mc -output "$work/L12.h5" &
run 1 -lattice_size 16,16 -beta_list 0.42,0.425,0.43,0.435,0.44 $mc -output "$work/L16a.h5" -seed 2 &
run 1 -lattice_size 16,16 -beta_list 0.445,0.45,0.455,0.46 $mc -output "$work/L16b.h5" -seed 3 &
# small runs meanwhile
run 2 -lattice_size 4,4 -task mc,meanfield -beta_list 0.2,0.44,0.8 -sweeps 2000 -quiet -output "$work/mf.h5" ||
  fail "meanfield run"
run 2 -lattice_size 8,8 -field_sigma 0.5 -beta_list 0.3,0.5 -thermalize 100 -sweeps 200 -measure_interval 5 \
  -snapshot_interval 50 -quiet -output "$work/rf.h5" || fail "random-field run"
run 1 -lattice_size 12 -lattice_bc open -field 0.3 -beta 0.7 -thermalize 10 -sweeps 100 -snapshot_interval 25 -quiet \
  -output "$work/chain.h5" || fail "chain run"
run 2 -task tempering -lattice_size 4,4,4 -couplings pm -beta_list 0.3,0.5,0.8,1.2 -pt_replica_sets 2 -thermalize 0 \
  -sweeps 4000 -snapshot_interval 1000 -quiet -output "$work/sg.h5" || fail "tempering run"
run 2 -task anneal -lattice_size 4,4 -couplings pm -anneal_restarts 4 -anneal_steps 20 -quiet -output "$work/gs.h5" ||
  fail "anneal run"
run 2 -task tempering -lattice_size 4,4 -couplings pm -beta_list 0.3,0.8 -pt_replica_sets 2 -disorder_samples 2 \
  -thermalize 100 -sweeps 500 -quiet -output "$work/ds.h5" || fail "disorder-samples run"
wait

py observables.py "$work"/L8.h5 "$work"/L12.h5 "$work"/L16a.h5 "$work"/L16b.h5 -o "$work/obs.png" >"$work/obs.txt" ||
  fail "observables.py"
cat "$work/obs.txt" | sed -n '/crossings/,$p'
if "$PYTHON" - "$work/obs.txt" <<'PY'; then pass "Binder crossing: beta_c, every pair, U*"; else fail "Binder crossing"; fi
import re, sys
text = open(sys.argv[1]).read()
ok = True
m = re.search(r"^beta_c = ([0-9.]+) \+- ([0-9.]+) \(crossing of the two largest sizes, L=12 and L=16\)", text, re.M)
if not m:
    sys.exit("no beta_c line")
b, s = float(m.group(1)), float(m.group(2))
tol = 0.0015 + 4 * s
print(f"  beta_c = {b} +- {s}: deviation {b - 0.4406868:+.5f}, tolerance {tol:.5f}")
ok &= abs(b - 0.4406868) <= tol and 0 < s < 0.003
num = r"([0-9.]+) \+- ([0-9.]+)"
pairs = re.findall(rf"crossing L=(\d+) x L=(\d+): beta = {num}, binder = {num}", text)
ok &= len(pairs) == 3
for l1, l2, x, e, u, ue in pairs:
    x, e, u, ue = float(x), float(e), float(u), float(ue)
    ok &= abs(x - 0.4406868) <= 0.003 + 4 * e
    if (l1, l2) == ("12", "16"):
        print(f"  U at the 12 x 16 crossing {u} +- {ue}: deviation from 0.61069 {u - 0.61069:+.4f}, "
              f"tolerance {0.006 + 4 * ue:.4f}")
        ok &= abs(u - 0.61069) <= 0.006 + 4 * ue
ok &= "L=16 (N = 256, 2 files)" in text
sys.exit(0 if ok else 1)
PY
if is_png "$work/obs.png"; then pass "observables figure"; else fail "observables figure"; fi

# --- free energy ---------------------------------------------------------
py freeenergy.py "$work/mf.h5" -o "$work/fe.png" >"$work/fe.txt" || fail "freeenergy.py"
cp "$work/mf.h5" "$work/syn.h5"
"$PYTHON" - "$work/syn.h5" <<'PY' || fail "making the synthetic free-energy file"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    g = f["free_energy"]
    ex, b = g["lnZ_exact"][:], g["beta"][:]
    for name in ("lnZ_ti", "lnZ_ti_err", "lnZ_lower_ais", "lnZ_lower_ais_err", "lnZ_upper_trw", "lnZ_upper_trivial"):
        if name in g:  # the program writes these (NaN where not computed); replace them with made-up values
            del g[name]
    g["lnZ_ti"], g["lnZ_ti_err"] = ex + 0.01, np.full(len(b), 0.02)
    g["lnZ_lower_ais"], g["lnZ_lower_ais_err"] = ex - 0.05, np.full(len(b), 0.01)
    g["lnZ_upper_trw"] = ex + 0.3 * b
    g["lnZ_upper_trivial"] = 16 * np.log(2) + 32 * b
PY
py freeenergy.py "$work/syn.h5" -o "$work/syn.png" >"$work/syn.txt" 2>"$work/syn.err" || fail "freeenergy.py synthetic"
if "$PYTHON" - "$work/mf.h5" "$work/fe.txt" "$work/syn.h5" "$work/syn.txt" <<'PY'; then pass "freeenergy: printed values, sandwich"; else fail "freeenergy values"; fi
import sys, h5py, numpy as np
def table(path):
    lines = open(path).read().splitlines()
    i = next(k for k, l in enumerate(lines) if l.split()[:1] == ["beta"])
    head = lines[i].split()
    rows = []
    for l in lines[i + 1:]:
        if l.startswith("figure:"):
            break
        cells = [c for c in l.replace(" ± ", "±").split()]
        rows.append({h: float(c.split("±")[0]) for h, c in zip(head, cells)})
    return head, rows
ok = True
for h5, txt, expect in ((sys.argv[1], sys.argv[2], ["lnZ_exact", "lnZ_lower_meanfield", "kl_gap"]),
                        (sys.argv[3], sys.argv[4], ["lnZ_exact", "lnZ_ti", "lnZ_lower_ais", "lnZ_lower_meanfield",
                                                    "lnZ_upper_trivial", "lnZ_upper_trw", "kl_gap"])):
    head, rows = table(txt)
    ok &= all(name in head for name in expect)
    with h5py.File(h5) as f:
        g = f["free_energy"]
        for k, r in zip(np.argsort(g["beta"][:]), rows):
            ok &= r["beta"] == g["beta"][k]
            for name in expect:
                v = g[name][k] / 16
                e = g[name + "_err"][k] / 16 if name + "_err" in g else 0.0
                # printed as value ± error rounded to the error's 2 digits, else with 10 digits
                tol = 0.5 * 10 ** (np.floor(np.log10(e)) - 1) if e > 0 else 1e-9 * max(1.0, abs(v))
                ok &= abs(r[name] - v) <= tol
            if "sandwich_width" in head:
                lo = np.nanmax([g["lnZ_lower_ais"][k], g["lnZ_lower_meanfield"][k]])
                hi = np.nanmin([g["lnZ_upper_trw"][k], g["lnZ_upper_trivial"][k]])
                ok &= abs(r["sandwich_width"] - (hi - lo) / 16) <= 1e-7 * abs(hi - lo) / 16
    print(f"  {txt.split('/')[-1]}: columns {head}, {len(rows)} rows")
sys.exit(0 if ok else 1)
PY
if ! grep -q "wrong side" "$work/syn.err"; then pass "freeenergy: no bound on the wrong side"; else fail "freeenergy: spurious violation"; fi
"$PYTHON" -c 'import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    f["free_energy/lnZ_upper_bad"] = f["free_energy/lnZ_exact"][:] - 1' "$work/syn.h5"
py freeenergy.py "$work/syn.h5" -o "$work/syn2.png" >/dev/null 2>"$work/syn.err"
if grep -q "wrong side" "$work/syn.err"; then pass "freeenergy: an upper bound below lnZ_exact is reported"; else
  fail "freeenergy: bound violation not reported"
fi
if is_png "$work/fe.png" && is_png "$work/syn.png"; then pass "freeenergy figures"; else fail "freeenergy figures"; fi

# --- snapshots -----------------------------------------------------------
py snapshots.py "$work/rf.h5" --all -o "$work/s_rf.png" >"$work/s_rf.txt" || fail "snapshots.py rf"
py snapshots.py "$work/rf.h5" --source state -o "$work/s_st.png" >"$work/s_st.txt" || fail "snapshots.py state"
py snapshots.py "$work/chain.h5" --all -o "$work/s_ch.png" >"$work/s_ch.txt" || fail "snapshots.py chain"
py snapshots.py "$work/sg.h5" --all --max 100 --slices 2 -o "$work/s_sg.png" >"$work/s_sg.txt" || fail "snapshots.py sg"
py snapshots.py "$work/gs.h5" -o "$work/s_gs.png" >"$work/s_gs.txt" || fail "snapshots.py ground state"
py snapshots.py "$work/ds.h5" --sample 1 --source tempering -o "$work/s_ds.png" >"$work/s_ds.txt" || fail "snapshots.py sample"
if "$PYTHON" - "$work" <<'PY'; then pass "snapshots: e and m of every configuration equal the file's"; else fail "snapshots values"; fi
import re, sys, h5py, numpy as np
w = sys.argv[1]
pat = re.compile(r"config (\d+): beta = (\S+), sweep = (\S+), m = (\S+), e = (\S+)")
def configs(name):
    found = pat.findall(open(f"{w}/{name}").read())
    return [(int(i), float(b), float(s), float(m), float(e)) for i, b, s, m, e in found]
ok = True
def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))
for h5, txt, count in (("rf", "s_rf.txt", 8), ("chain", "s_ch.txt", 4), ("sg", "s_sg.txt", 16)):
    with h5py.File(f"{w}/{h5}.h5") as f:
        ts_e, ts_m = f["timeseries/energy"][:], f["timeseries/magnetization"][:]
        mi, th = f["timeseries"].attrs["measure_interval"], f["timeseries"].attrs["thermalize"]
        obs_beta = f["observables/beta"][:]
        c = configs(txt)
        ok &= len(c) == count and sorted(x[0] for x in c) == list(range(count))
        for i, b, s, m, e in c:
            ok &= b == f["snapshots/beta"][i] and s == f["snapshots/sweep"][i]
            row, col = int((s - th) / mi) - 1, int(np.argmin(np.abs(obs_beta - b)))
            ok &= close(e, ts_e[row, col]) and close(m, ts_m[row, col])
            ok &= close(m, f["snapshots/spins"][i].mean())
    print(f"  {h5}: {len(c)} snapshots checked against the time series")
with h5py.File(f"{w}/rf.h5") as f:
    (i, b, s, m, e), = configs("s_st.txt")
    ok &= close(e, f["timeseries/energy"][-1, -1]) and s == f["state/spins"].attrs["sweeps_done"]
with h5py.File(f"{w}/gs.h5") as f:
    (i, b, s, m, e), = configs("s_gs.txt")
    ok &= close(e, f["ground_state/energy_per_spin"][0])
    g = f["ground_state"]
    print(f"  ground state: e = {e}, file {g['energy_per_spin'][0]}, exact {g['energy_exact'][0] / 16}")
with h5py.File(f"{w}/ds.h5") as f:
    c = configs("s_ds.txt")
    ok &= len(c) == 2 and all(close(m, f["samples/1/tempering/spins"][i].mean()) for i, b, s, m, e in c)
sys.exit(0 if ok else 1)
PY
for p in s_rf s_st s_ch s_sg s_gs s_ds; do is_png "$work/$p.png" || fail "snapshot figure $p"; done

# --- tempering -----------------------------------------------------------
py tempering.py "$work/sg.h5" -o "$work/t.png" >"$work/t.txt" || fail "tempering.py"
py tempering.py "$work/ds.h5" -o "$work/t_ds.png" >"$work/t_ds.txt" || fail "tempering.py samples"
cat "$work/t.txt"
if "$PYTHON" - "$work/sg.h5" "$work/t.txt" "$work/t_ds.txt" <<'PY'; then pass "tempering: acceptance, f, P(q), <q^2>, round trips"; else fail "tempering values"; fi
import re, sys, h5py, numpy as np
text = open(sys.argv[2]).read()
ok = True
def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))
with h5py.File(sys.argv[1]) as f:
    t, o = f["tempering"], f["overlap"]
    K = len(t["beta"])
    rows = re.findall(r"slot (\d+): beta = (\S+), swap_acceptance = (\S+), up_fraction = (\S+), "
                      r"q2 = (\S+) \+- (\S+), q2_series = (\S+)", text)
    ok &= len(rows) == K
    q = o["q"][:]
    for k, b, a, up, q2, q2e, q2s in rows:
        k = int(k)
        ok &= close(float(b), t["beta"][k]) and close(float(up), t["up_fraction"][k])
        ok &= a == "-" if k == K - 1 else close(float(a), t["swap_acceptance"][k])
        ok &= close(float(q2s), np.mean(q[:, k] ** 2)) and close(float(q2), o["q2"][k])
        ok &= abs(float(q2s) - o["q2"][k]) <= 4 * o["q2_err"][k]
    m = re.search(r"max difference (\S+)", text)
    ok &= m is not None and float(m.group(1)) <= 1e-12
    m = re.search(r"round trips: file = (\d+)", text)
    ok &= m is not None and int(m.group(1)) == t["round_trips"][0]
    m = re.search(r"per replica \(set 0\): file ([\d ]+) \| history ([\d ]+)", text)
    fa, ha = np.array(m.group(1).split(), float), np.array(m.group(2).split(), float)
    ok &= np.array_equal(fa, t["round_trips_per_replica"][:K]) and np.all(np.abs(fa - ha) <= 1) and fa.sum() > 0
    print(f"  round trips per replica: file {fa}, history {ha}")
ok &= "P(q) averaged over 2 disorder samples" in open(sys.argv[3]).read()
sys.exit(0 if ok else 1)
PY
if is_png "$work/t.png" && is_png "$work/t_ds.png"; then pass "tempering figures"; else fail "tempering figures"; fi

# --- summary -------------------------------------------------------------
for x in mf rf sg gs ds; do
  py summary.py "$work/$x.h5" --format csv >"$work/$x.csv" || fail "summary.py csv $x"
done
py summary.py "$work/mf.h5" --format md -o "$work/mf.md" || fail "summary.py md"
if "$PYTHON" - "$work" <<'PY'; then pass "summary: CSV values equal the file's, every dataset listed; Markdown rows"; else fail "summary"; fi
import csv, sys, h5py, numpy as np
w = sys.argv[1]
ok = True
def same(text, ref):
    if text == "":
        return False
    v = float(text)
    return (np.isnan(v) and np.isnan(ref)) or v == ref
for x in ("mf", "rf", "sg", "gs", "ds"):
    rows = list(csv.DictReader(open(f"{w}/{x}.csv")))
    seen, n_num = set(), 0
    with h5py.File(f"{w}/{x}.h5") as f:
        for r in rows:
            g = f[r["group"]]
            if r["kind"] == "attribute":
                a = g.attrs[r["name"]]
                ok &= r["value"] == a if isinstance(a, str) else np.allclose(np.array(r["value"].split(","), float), a,
                                                                            rtol=0, atol=0)
                continue
            path = (r["group"].rstrip("/") + "/" + r["name"])
            seen.add(path)
            if r["kind"] == "array":
                continue
            i = int(r["index"])
            ok &= same(r["value"], g[r["name"]][i])
            if r["error"] != "":
                ok &= same(r["error"], g[r["name"] + "_err"][i])
                seen.add(path + "_err")
            if r["exact"] != "":
                ok &= same(r["exact"], g[r["name"] + "_exact"][i])
                seen.add(path + "_exact")
            if r["kind"] == "estimate":
                ok &= same(r["beta"], g["beta"][i])
                seen.add(r["group"].rstrip("/") + "/beta")
            n_num += 1
        every = set()
        f.visititems(lambda name, obj: every.add("/" + name) if isinstance(obj, h5py.Dataset) else None)
        missing = every - seen
        ok &= not missing
        nattr = sum(1 for r in rows if r["kind"] == "attribute")
        print(f"  {x}: {n_num} numbers and {nattr} attributes equal the file's; datasets not listed: {sorted(missing)}")
with h5py.File(f"{w}/mf.h5") as f:
    nb = len(f["observables/beta"])
md = open(f"{w}/mf.md").read().split("## `/observables`")[1].split("##")[0]
table = [l for l in md.splitlines() if l.startswith("|")]
ok &= len(table) == nb + 2 and "energy (exact)" in table[0]
sys.exit(0 if ok else 1)
PY
finish
