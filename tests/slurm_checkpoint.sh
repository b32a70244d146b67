# slurm_checkpoint.sh: jobscripts/checkpointed.sh under a real SLURM on
# localhost (tests/slurm_cluster.sh).  Two jobs, one continued by requeue
# (launched by srun), one by a follow-up sbatch (launched by mpirun), each get
# the warning signal SLURM sends before a time limit (scancel --batch
# --signal=USR1 delivers exactly what --signal=B:USR1@... delivers, without
# waiting for the limit).  Each must checkpoint, exit 4, be continued in a
# new allocation with -restart, and complete; the final output must be
# bit-identical to an uninterrupted run of the same options (issue 7).
# Skipped (77) while the program has no -restart option, and when SLURM
# cannot be installed.
source "$(dirname "$0")/common.sh"
if ! run 1 -help 2>/dev/null | grep -q -- "^ *-restart"; then
  echo "skipped: $ISING -help lists no -restart option (checkpoint/restart not implemented in this build)"
  exit 77
fi
source "$(dirname "$0")/slurm_cluster.sh"
slurm_require
slurm_start

work=$SLURM_DIR/work
mkdir -p "$work"
cd "$work" || exit 1
export ISING DECK=$SRC/input/default.opts
# Each run must last long enough to be interrupted mid-run, the second job about 3 s after it started,
# however fast the kernels are on this machine (a fixed count went stale twice as they got faster):
# about 12 s on one rank.
opts=(-lattice_size 64,64 -thermalize 1000 -measure_interval 10 -snapshot_interval 0 -quiet)
read -r sweeps took < <(sweeps_lasting 12 1000000 -options_file "$DECK" "${opts[@]}") || fail "calibration runs"
echo "1000000 sweeps take $took s here: the runs make $sweeps"
opts+=(-sweeps "$sweeps")
submit() { sbatch --parsable --chdir="$work" --ntasks=1 "$@"; }
requeue=$(LAUNCHER=srun OUTPUT=requeue.h5 CONTINUE=requeue submit "$SRC/jobscripts/checkpointed.sh" "${opts[@]}")
follow=$(LAUNCHER=mpirun OUTPUT=follow.h5 CONTINUE=sbatch submit "$SRC/jobscripts/checkpointed.sh" "${opts[@]}")
echo "submitted: $requeue (CONTINUE=requeue, srun), $follow (CONTINUE=sbatch, mpirun)"

# The warning signal, once the program has created its output (set-up done).
for pair in "$requeue requeue.h5" "$follow follow.h5"; do
  read -r id out <<<"$pair"
  t0=$SECONDS
  until [ -e "$out" ] || [ $((SECONDS - t0)) -ge 60 ]; do sleep 0.2; done
  sleep 1
  if [ "$(squeue -h -j "$id" -o %T)" = RUNNING ]; then
    scancel --batch --signal=USR1 "$id" && pass "job $id running, sent SIGUSR1 to its batch shell"
  else
    fail "job $id is not running 1 s after $out appeared: $(squeue -h -j "$id" -o %T)"
  fi
done

run 1 -options_file "$DECK" "${opts[@]}" -output reference.h5 || fail "uninterrupted reference run"

# Requeue: the same job id comes back once and completes.
states=$(slurm_wait "$requeue" 120) || fail "job $requeue did not finish"
restarts=$(scontrol -o show job "$requeue" | sed -n 's/.* Restarts=\([0-9]*\) .*/\1/p')
[ "$states" = COMPLETED ] && [ "$restarts" = 1 ] && pass "job $requeue requeued once and completed" ||
  fail "job $requeue: state $states, restarts $restarts"
cat "$work"/ising-ckpt-"$requeue".out
grep -q "requeued" "$work"/ising-ckpt-"$requeue".out && grep -q "restarting from requeue.ckpt.h5" \
  "$work"/ising-ckpt-"$requeue".out && pass "job $requeue log: requeued, then restarted from its checkpoint" ||
  fail "job $requeue log"

# sbatch: the first job ends COMPLETED after submitting a follow-up job,
# which restarts and completes.
states=$(slurm_wait "$follow" 60) || fail "job $follow did not finish"
[ "$states" = COMPLETED ] && pass "job $follow ended after submitting its follow-up" || fail "job $follow: $states"
cat "$work"/ising-ckpt-"$follow".out
next=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' "$work"/ising-ckpt-"$follow".out)
if [ -n "$next" ]; then
  states=$(slurm_wait "$next" 120) || fail "follow-up job $next did not finish"
  cat "$work"/ising-ckpt-"$next".out
  [ "$states" = COMPLETED ] && grep -q "restarting from follow.ckpt.h5" "$work"/ising-ckpt-"$next".out &&
    pass "follow-up job $next restarted from the checkpoint and completed" || fail "follow-up job $next: $states"
else
  fail "job $follow submitted no follow-up job"
fi

# Interrupted and continued = uninterrupted, bit for bit.
for out in requeue.h5 follow.h5; do
  "$PYTHON" - "$out" <<'EOF' && pass "$out complete and bit-identical to the uninterrupted run" || fail "$out"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File("reference.h5", "r")
bad = [] if a.attrs["status"] == "complete" else [f"status {a.attrs['status']}"]
for d in ("observables/energy", "observables/energy_err", "observables/abs_magnetization", "timeseries/energy",
          "timeseries/magnetization", "state/spins"):
    if d not in a or not np.array_equal(a[d][:], b[d][:]):
        bad.append(f"{d} differs from the uninterrupted run")
for line in bad:
    print(line)
sys.exit(1 if bad else 0)
EOF
done
finish
