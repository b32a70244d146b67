# slurm.sh: the jobscripts in jobscripts/ under a real SLURM on localhost
# (tests/slurm_cluster.sh): a single run started by srun --mpi=pmix and one
# by mpirun, a job array over temperatures, a job array over disorder
# samples, and the scaling study followed by postprocess/scaling.py.  Each
# output must be complete, hold what its job asked for, and agree with the
# exact values of its finite lattice (Kaufman for the 16x16 ferromagnet,
# enumeration for the 4x4 spin glass) within 4 of its own error bars.  The
# seeds are fixed, so these comparisons are deterministic: 4 sigma bounds
# an honest deviation (two-sided 6e-5 per check) and catches a broken run.
# Skipped (77) when SLURM cannot be installed.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/slurm_cluster.sh"
slurm_require
slurm_start

work=$SLURM_DIR/work
mkdir -p "$work"
cd "$work" || exit 1
export ISING DECK=$SRC/input/default.opts
small=(-lattice_size 16,16 -thermalize 500 -sweeps 4000 -snapshot_interval 0 -measure_interval 1)

submit() { sbatch --parsable --chdir="$work" "$@"; }
single_srun=$(LAUNCHER=srun OUTPUT=single-srun.h5 submit "$SRC/jobscripts/single.sh" "${small[@]}")
single_mpirun=$(LAUNCHER=mpirun OUTPUT=single-mpirun.h5 submit "$SRC/jobscripts/single.sh" "${small[@]}")
temps=$(VALUES=0.3,0.44,0.6 PREFIX=temps submit --array=0-2 "$SRC/jobscripts/array.sh" "${small[@]}")
samples=$(DECK=$SRC/input/spinglass_pm.opts PARAM=disorder_seed PREFIX=sample submit --array=1-2 \
  "$SRC/jobscripts/array.sh" -lattice_size 4,4 -beta_list 0.5 -thermalize 500 -sweeps 4000)
scaling=$(RANKS="1 2" REPEATS=1 STRONG_SIZE=64,64 WEAK_SIZE=32,32 SWEEPS=20000 OUTDIR=scaling \
  submit --ntasks=2 "$SRC/jobscripts/scaling.sh")
echo "submitted: single $single_srun (srun) $single_mpirun (mpirun), arrays $temps (beta) $samples (disorder)," \
  "scaling $scaling"

# Every job (each array task) must end COMPLETED, i.e. exit 0.
for id in $single_srun $single_mpirun $temps $samples $scaling; do
  states=$(slurm_wait "$id" 90) || {
    fail "job $id did not finish in 90 s"
    continue
  }
  if [ -n "$states" ] && ! grep -qv '^COMPLETED$' <<<"$states"; then
    pass "job $id: ${states//$'\n'/ }"
  else
    fail "job $id ended ${states//$'\n'/ }"
    for out in "$work"/*-"$id"*.out; do [ -e "$out" ] && echo "---- $out" && cat "$out"; done
  fi
done

# The single run, by either launcher: 2 ranks, complete, the datasets of one
# temperature, Kaufman's energy and specific heat; srun and mpirun give the
# same run bit for bit (same seed; results do not depend on the launcher).
for f in single-srun.h5 single-mpirun.h5; do
  "$PYTHON" "$SRC/tests/check_output.py" "$f" 1 4000 0 16,16 --exact >/dev/null && pass "$f structure" ||
    fail "$f structure"
  "$PYTHON" "$SRC/tests/check_exact.py" "$f" energy,specific_heat && pass "$f vs Kaufman" || fail "$f vs Kaufman"
done
"$PYTHON" - <<'EOF' && pass "single runs: 2 ranks, beta 0.44, srun and mpirun bit-identical" || fail "single runs"
import sys, h5py, numpy as np
a, b = h5py.File("single-srun.h5", "r"), h5py.File("single-mpirun.h5", "r")
bad = [f"{f.filename}: nranks {f.attrs['nranks']}" for f in (a, b) if f.attrs["nranks"] != 2]
bad += [f"{f.filename}: beta {f['observables/beta'][:]}" for f in (a, b) if list(f["observables/beta"][:]) != [0.44]]
for d in ("observables/energy", "observables/energy_err", "timeseries/energy", "state/spins"):
    if not np.array_equal(a[d][:], b[d][:]):
        bad.append(f"{d} differs between srun and mpirun")
for line in bad:
    print(line)
sys.exit(1 if bad else 0)
EOF

# The temperature array: task i ran beta_i into temps-i.h5.
for i in 0 1 2; do
  f=temps-$i.h5
  "$PYTHON" "$SRC/tests/check_output.py" "$f" 1 4000 0 16,16 --exact >/dev/null && pass "$f structure" ||
    fail "$f structure"
  "$PYTHON" "$SRC/tests/check_exact.py" "$f" energy,specific_heat && pass "$f vs Kaufman" || fail "$f vs Kaufman"
done
"$PYTHON" - <<'EOF' && pass "temperature array: beta 0.3, 0.44, 0.6 in tasks 0, 1, 2" || fail "temperature array betas"
import sys, h5py
got = [float(h5py.File(f"temps-{i}.h5", "r")["observables/beta"][0]) for i in range(3)]
print("betas", got)
sys.exit(0 if got == [0.3, 0.44, 0.6] else 1)
EOF

# The disorder array: sample-1.h5 and sample-2.h5 hold disorder samples 1
# and 2 (different bonds), each against exact enumeration of its 16 spins.
for s in 1 2; do
  f=sample-$s.h5
  "$PYTHON" "$SRC/tests/check_output.py" "$f" 1 4000 0 4,4 --disorder --exact >/dev/null && pass "$f structure" ||
    fail "$f structure"
  "$PYTHON" "$SRC/tests/check_exact.py" "$f" energy,abs_magnetization && pass "$f vs enumeration" ||
    fail "$f vs enumeration"
done
"$PYTHON" - <<'EOF' && pass "disorder array: samples 1 and 2 have their seeds and different bonds" || fail "disorder array"
import sys, h5py, numpy as np
f1, f2 = h5py.File("sample-1.h5", "r"), h5py.File("sample-2.h5", "r")
seeds = [int(f.attrs["disorder_seed"]) for f in (f1, f2)]
same = np.array_equal(f1["model/bonds"][:], f2["model/bonds"][:])
print("disorder seeds", seeds, "identical bonds" if same else "different bonds")
sys.exit(0 if seeds == [1, 2] and not same else 1)
EOF

# The scaling study: 1 and 2 ranks, strong and weak, then the tables.
ls scaling/strong-P1-r1.h5 scaling/strong-P2-r1.h5 scaling/weak-P1-r1.h5 scaling/weak-P2-r1.h5 >/dev/null &&
  pass "scaling study wrote its four runs" || fail "scaling study outputs"
if "$PYTHON" "$SRC/postprocess/scaling.py" --strong scaling/strong-*.h5 --weak scaling/weak-*.h5 \
  --plot scaling.png >scaling.txt; then
  cat scaling.txt
  grep -q "bit-identical energies on every rank count: yes" scaling.txt && [ -s scaling.png ] &&
    [ "$(grep -cE '^ *[12] +(64x64|32x32|32x64) ' scaling.txt)" -eq 4 ] &&
    pass "scaling.py: two tables of P = 1, 2 and the plot" || fail "scaling.py output"
else
  fail "scaling.py on the study"
fi
finish
