# checkpoint_fuzz.sh: the checkpoint reader against hostile contents.
# Checkpoints of interrupted mc, tempering (two replica sets) and anneal runs
# are mutated by tests/mutate_checkpoint.py: a random element (or several)
# of a random dataset of the engine's state, or a root attribute, is set to
# an extreme or random value (0, -1, 1, 2^31, 2^62, INT64_MIN/MAX, NaN, Inf,
# +-1e300, spins 0, 2, -128, ...), and the dataset's checksum is recomputed,
# so that the checksum check passes and the reader's own range checks are
# what stands between the bytes and the engine.  Each mutant is restarted
# (one rank, 60 s limit): it must either be refused (exit 2, one
# "ising: error:" line) or run to completion (exit 0, when the mutation was
# harmless, e.g. a value that was already there), never crash, hang, or
# exit otherwise.  Labelled fuzz: the sanitizer pass of CI runs it under
# AddressSanitizer and UBSan.  MUTANTS (default 15 per task) sets the count;
# the mutations are seeded, so a failure is reproducible.  The runs are long
# (a mutant that restarts is stopped at its first checkpoint) but measure
# every 1000 sweeps: a checkpoint holds a copy of the output file, whose
# series parallel HDF5 allocates at their full length, so measuring every
# sweep had made each checkpoint of the tempering run hundreds of MB.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
per=${MUTANTS:-15}

# make NAME OPTIONS...: an interrupted run's checkpoint NAME.ckpt.h5 (one
# rank, no mpirun: the signal goes to the program itself).
make() {
  local name=$1
  shift
  "$ISING" "$@" -checkpoint_interval 0.2 -output "$name.h5" >"$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1200); do
    grep -q "^checkpoint: wrote" "$name.log" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  kill -TERM $pid 2>/dev/null
  wait $pid
  local rc=$?
  pid=""
  if [ $rc -ne 4 ] || [ ! -s "$name.ckpt.h5" ]; then
    fail "$name: no checkpoint of an interrupted run (exit $rc): $(tail -3 "$name.log")"
    return 1
  fi
  echo "$*" >"$name.opts"
}

make mc -lattice_size 16,12 -beta_list 0.3,0.5 -thermalize 100 -sweeps 20000000 -measure_interval 1000
make pt -task tempering -lattice_size 6,6 -couplings pm -beta_list 0.3,0.6,1.0 -pt_replica_sets 2 -sweeps 4000000 \
  -measure_interval 1000 -pt_adapt_sweeps 0
make an -task anneal -lattice_size 8,8 -couplings gaussian -anneal_restarts 4 -anneal_steps 200000 \
  -anneal_sweeps_per_step 10

total=0 refused=0 completed=0
for name in mc pt an; do
  [ -s "$name.ckpt.h5" ] || continue
  read -r -a opts <"$name.opts"
  for i in $(seq 1 "$per"); do
    total=$((total + 1))
    rm -f out.h5 out.h5.lock out.ckpt.h5
    what=$("$PYTHON" "$SRC/tests/mutate_checkpoint.py" "$name.ckpt.h5" mutant.h5 "$name$i") || {
      fail "$name mutant $i: could not be made: $what"
      continue
    }
    # The physics of the run, a short interval so that the restarted run
    # ends soon, and its own output and checkpoint.
    timeout 60 "$ISING" "${opts[@]}" -quiet -restart mutant.h5 -output out.h5 -checkpoint_file out.ckpt.h5 -checkpoint_interval 0.2 \
      >run.out 2>run.err &
    pid=$!
    # A mutant that restarts runs the rest of a long run: stop it once it
    # is clearly running (its own first checkpoint).
    for _ in $(seq 1 400); do
      kill -0 $pid 2>/dev/null || break
      [ -e out.ckpt.h5 ] && { kill -TERM $pid; break; }
      sleep 0.05
    done
    wait $pid
    rc=$?
    pid=""
    errors=$(grep -c "ising: error:" run.err)
    if [ $rc -eq 2 ] && [ "$errors" -eq 1 ]; then
      refused=$((refused + 1))
    elif [ $rc -eq 0 ] || [ $rc -eq 4 ]; then
      completed=$((completed + 1))
    else
      fail "$name mutant $i ($what): exit $rc (124: hang, >128: signal): $(head -c 2000 run.err)"
    fi
  done
done
if [ $total -gt 0 ]; then
  pass "$total mutated checkpoints: $refused refused with one message (exit 2), $completed accepted and running; no crash, hang or other exit"
fi
finish
