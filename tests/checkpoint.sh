# checkpoint.sh: checkpoints and restarts, with real signals and kills.
# - Monte Carlo, parallel tempering (adaptive ladder, two replica sets),
#   tempering with disorder samples, and mc + mean field + annealing in one
#   run (stopped once in mc, once in annealing): a run is stopped with a
#   signal (SIGTERM, SIGINT or SIGUSR1 to its ranks, as a batch system
#   delivers it) once it has written a periodic checkpoint; it exits with
#   status 4, its output says status = interrupted; it is restarted on
#   another number of ranks (and replica layout), stopped again, restarted
#   a second time and runs to the end.  The final file equals an
#   uninterrupted run bit for bit (tests/check_same.py; h5diff on every
#   dataset as well); only the provenance attributes of the invocation
#   (command line, ranks, host, times, run_id, restarts) may differ.  The
#   finished run removes its checkpoint.
# - kill -9 loop: a run with a checkpoint every 0.2 s is killed with SIGKILL
#   (all ranks and mpirun) at 5 random moments; after each kill the latest
#   checkpoint on disk is complete and readable (tests/check_checkpoint.py
#   opens it with h5py and recomputes every dataset's checksum), and the run
#   is continued from it (afresh when none was written yet), on 1 to 3 ranks;
#   the final file equals the uninterrupted run.
# - Refusals, each with exit status 2, one message naming the problem, no
#   output file created and the checkpoint untouched: a checkpoint of other
#   physics (-seed, -lattice_size, -task), the checkpoint
#   truncated at 2 offsets, a flipped byte, a dataset of the wrong shape and
#   one of the wrong type, a file that is not a checkpoint, and an existing
#   output that is not this run's unfinished output (without -overwrite).
# - A checkpoint that cannot be written stops the run (exit 3) and keeps the
#   previous one.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
pid=""
cleanup() {
  # only the run this script started: mpirun ($pid) and its ranks
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -9 $(ps -o pid= --ppid "$pid") "$pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# start NP ARGS...: the program in the background, stdout in run.log; $pid is mpirun's.
start() {
  local np=$1
  shift
  : >run.log # now, not in the background child: no line of the previous run may be read as this one's
  "$MPIEXEC" -n "$np" --oversubscribe "$ISING" "$@" >>run.log 2>&1 &
  pid=$!
}

# wait_checkpoint [TASK]: waits until the run has written a checkpoint (of
# TASK) (a line in run.log); 1 if it ended before that or after 600 s.  (The
# limit is generous: oversubscribed ranks beside other MPI tests sweep a
# small lattice 10-25 times slower than on an idle machine; a clean-clone CI
# once needed more than the 120 s this had been.)
wait_checkpoint() {
  local i
  for i in $(seq 12000); do
    grep -q "^checkpoint: wrote .* (${1:-}" run.log && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# The ranks: mpirun's children (Open MPI puts each in its own process group).
ranks() {
  local i list
  for i in 1 2 3 4 5 6 7 8 9 10; do
    list=$(pgrep -P "$pid")
    [ -n "$list" ] && break
    sleep 0.1
  done
  [ -z "$list" ] && echo "  (no ranks found under mpirun $pid: $(ps -o pid,ppid,stat,cmd -e | grep -F "$ISING" | grep -v grep))" >&2
  echo $list
}

# stop LABEL SIGNAL OUTPUT [TASK]: once the run has checkpointed (in TASK),
# sends SIGNAL to its ranks and expects exit status 4 and an output with
# status interrupted.
stop() {
  local label=$1 sig=$2 out=$3 task=${4:-}
  if ! wait_checkpoint "$task"; then
    if kill -0 "$pid" 2>/dev/null; then
      fail "$label: no checkpoint${task:+ in $task} within 600 s"
      kill -9 $(ps -o pid= --ppid "$pid") "$pid" 2>/dev/null
    else
      wait "$pid"
      fail "$label: the run ended (status $?) before its first checkpoint${task:+ in $task}"
    fi
    cat run.log
    return 1
  fi
  local list
  list=$(ranks)
  kill -"$sig" $list
  wait "$pid"
  local rc=$?
  # Should mpirun have died (a signal while it was ending), its ranks go too.
  kill -9 $list 2>/dev/null
  local status
  status=$("$PYTHON" -c 'import h5py, sys; print(h5py.File(sys.argv[1])["/"].attrs["status"])' "$out" 2>&1)
  local in
  in=$("$PYTHON" -c 'import h5py, sys; print(h5py.File(sys.argv[1])["/"].attrs["task"])' "${out%.h5}.ckpt.h5" 2>&1)
  # (the run must still be in TASK when the signal arrives: the options make
  # that task last many times the moment the test needs to send it)
  if [ $rc -eq 4 ] && [ "$status" = interrupted ] && grep -q "interrupted by" run.log &&
    { [ -z "$task" ] || [ "$in" = "$task" ]; }; then
    pass "$label: SIG$sig stopped it (checkpoint in $in), exit status 4, output status '$status'"
  else
    fail "$label: SIG$sig gave exit status $rc, output status '$status', checkpoint in '$in'${task:+ (expected $task)}"
    cat run.log
    return 1
  fi
}

# same LABEL REFERENCE FILE: bit-identical results.
same() {
  local ds bad=0
  for ds in $(h5ls -r "$2" | awk '$2 == "Dataset" {print $1}'); do
    h5diff -q "$2" "$3" "$ds" "$ds" >/dev/null 2>&1 || bad=1
  done
  if [ $bad = 0 ] && "$PYTHON" "$SRC/tests/check_same.py" "$2" "$3"; then
    pass "$1: final file bit-identical to the uninterrupted run"
  else
    fail "$1: final file differs from the uninterrupted run"
  fi
}

# cycle LABEL "OPTIONS" LAYOUT1 SIG1 LAYOUT2 SIG2 LAYOUT3 [TASK1 TASK2]:
# reference run on 1 rank, then a run on LAYOUT1 stopped by SIG1 (once it
# has checkpointed in TASK1), restarted on LAYOUT2 and stopped by SIG2
# (TASK2), restarted on LAYOUT3 to the end.  A layout is "np",
# "np:ranks_per_replica", and either with "/balance" (-balance) appended.
layout_np() {
  local l=${1%%/*}
  echo "${l%%:*}"
}
layout_opts() {
  local l=${1%%/*}
  if [ "${l#*:}" != "$l" ]; then echo -n "-ranks_per_replica ${l#*:} "; fi
  if [ "${1#*/}" != "$1" ]; then echo -n "-balance ${1#*/}"; fi
  echo
}
cycle() {
  local label=$1 opts=$2 l1=$3 s1=$4 l2=$5 s2=$6 l3=$7 t1=${8:-} t2=${9:-}
  local name=$label
  run 1 $opts -quiet -output "$name.ref.h5" || { fail "$label: reference run"; return; }
  start "$(layout_np "$l1")" $opts $(layout_opts "$l1") -checkpoint_interval 0.2 -output "$name.h5"
  stop "$label on $l1" "$s1" "$name.h5" "$t1" || return
  start "$(layout_np "$l2")" $opts $(layout_opts "$l2") -checkpoint_interval 0.2 -output "$name.h5" -restart "$name.ckpt.h5"
  stop "$label restarted on $l2" "$s2" "$name.h5" "$t2" || return
  if run "$(layout_np "$l3")" $opts $(layout_opts "$l3") -quiet -output "$name.h5" -restart "$name.ckpt.h5"; then
    pass "$label restarted on $l3: complete"
  else
    fail "$label: final restart on $l3"
    return
  fi
  same "$label ($l1 -> $l2 -> $l3)" "$name.ref.h5" "$name.h5"
  if [ -e "$name.ckpt.h5" ] || [ -e "$name.ckpt.h5.tmp" ]; then fail "$label: checkpoint left after completion"; fi
  if [ -e "$name.h5.restore" ]; then fail "$label: the restore copy left behind"; fi
}

mc="-lattice_size 24,20 -beta_list 0.3,0.44,0.5 -thermalize 500 -sweeps 360000 -measure_interval 3 -snapshot_interval 120000"
# the restarts on blocks sized by -balance (uneven, then measured) and
# moved during the run (-rebalance, gain 0; ISING_REBALANCE_TEST replaces
# the measured speeds by ones that change at every check, rebalance.h, so
# the blocks move at every check); the file counts the moves of every
# segment
export ISING_REBALANCE_TEST=1
cycle mc "$mc -rebalance 1000 -rebalance_gain 0" 1 TERM 2/3,1 USR1 3/measure
unset ISING_REBALANCE_TEST
moves=$("$PYTHON" -c 'import sys, h5py; print(int(h5py.File(sys.argv[1]).attrs["rebalances"]))' mc.h5 2>/dev/null) ||
  moves=""
if [ -n "$moves" ] && [ "$moves" -ge 1 ]; then pass "mc: $moves moves of the blocks over the restarts"; else
  fail "mc: no moves of the blocks recorded ('$moves')"
fi

# Refusals, on the checkpoint of an interrupted run.
start 2 $mc -checkpoint_interval 0.2 -output r.h5
stop "run to refuse restarts of" INT r.h5
cp r.ckpt.h5 good.ckpt.h5
sum0=$(md5sum <r.ckpt.h5)
n=0
refuse() { # "message fragment" checkpoint options...
  local msg=$1 ck=$2
  shift 2
  n=$((n + 1))
  # one rank without mpirun (an MPI singleton): mpirun adds 2 s to every failing run
  timeout 60 "$ISING" "$@" -quiet -restart "$ck" -output "new$n.h5" >out.txt 2>err.txt
  local rc=$? lines
  lines=$(grep -c "ising: error:" err.txt)
  if [ $rc -eq 2 ] && grep -qF -- "$msg" err.txt && [ "$lines" -eq 1 ] && [ ! -e "new$n.h5" ]; then
    pass "refused: $(grep 'ising: error:' err.txt | cut -c1-200)"
  else
    fail "not refused as expected ($*): exit $rc, $(cat err.txt)"
  fi
}
refuse "other physics options: -seed is 1 there but 2 here" r.ckpt.h5 $mc -seed 2
refuse "other physics options: -lattice_size is 24,20 there but 24,22 here" r.ckpt.h5 $mc -lattice_size 24,22
refuse "other physics options: -task is mc there but mc,meanfield here" r.ckpt.h5 $mc -task mc,meanfield
size=$(stat -c %s r.ckpt.h5)
for frac in 0.01 0.9999; do
  cut=$(awk -v s="$size" -v f="$frac" 'BEGIN {printf "%d", s * f}')
  head -c "$cut" r.ckpt.h5 >trunc.h5
  refuse "cannot open checkpoint 'trunc.h5'" trunc.h5 $mc
done
"$PYTHON" - "$SRC/tests" <<'PY' | tee series.txt
import h5py, numpy as np, shutil
shutil.copy("r.ckpt.h5", "flip.h5")
with h5py.File("flip.h5", "r") as f:
    offset = f["output"].id.get_offset() + f["output"].shape[0] // 2
with open("flip.h5", "r+b") as f:
    f.seek(offset)
    b = f.read(1)
    f.seek(offset)
    f.write(bytes([b[0] ^ 0x10]))
for name, path, data in (("shape.h5", "mc/spins", np.ones((4, 4), np.int8)),
                         ("type.h5", "mc/energy", None)):
    shutil.copy("r.ckpt.h5", name)
    with h5py.File(name, "r+") as f:
        old = f[path]
        checksum = old.attrs["checksum"]
        if data is None:
            data = old[()].astype(np.float32)
        del f[path]
        f[path] = data
        f[path].attrs["checksum"] = checksum
shutil.copy("r.ckpt.h5", "v1.h5")  # written before the 16 + 16-bit random numbers
with h5py.File("v1.h5", "r+") as f:
    f.attrs["format_version"] = np.int64(1)
# The series hold the measurements made so far (-thermalize 500,
# -measure_interval 3), not their whole length (120000).
with h5py.File("r.ckpt.h5", "r") as f:
    k, n, _ = f["mc/counters"][()]
    made, have = max(0, (n - 500) // 3), f["mc/energy"].shape[0]
    ok = have == max(made, 1) and have < 120000 and f["mc/magnetization"].shape == (have,)
    print(f"{'ok     ' if ok else 'FAILED '} checkpoint series: {have} entries after {n} sweeps of beta {k} ({made} measured)")
# too short: fewer entries than measurements made (checksum recomputed)
import sys
sys.path.insert(0, sys.argv[1])
from check_checkpoint import checksum
shutil.copy("r.ckpt.h5", "short.h5")
with h5py.File("short.h5", "r+") as f:
    for name in ("mc/energy", "mc/magnetization"):
        data = f[name][: max(1, f[name].shape[0] // 2)]
        del f[name]
        f[name] = data
        f[name].attrs["checksum"] = np.uint64(checksum(data))
# format 2 wrote the whole length (zeros beyond the measurements): still read
shutil.copy("r.ckpt.h5", "v2.h5")
with h5py.File("v2.h5", "r+") as f:
    f.attrs["format_version"] = np.int64(2)
    for name in ("mc/energy", "mc/magnetization"):
        data = np.zeros(120000)
        data[: f[name].shape[0]] = f[name][()]
        del f[name]
        f[name] = data
        f[name].attrs["checksum"] = np.uint64(checksum(data))
PY
refuse "has format version 1; this program reads versions 2 to 3 (version 1 was written by a program that drew other update random numbers" v1.h5 $mc
refuse "the contents of /output do not match its checksum" flip.h5 $mc
refuse "/mc/spins is int8 [4, 4], expected int8 [20, 24]" shape.h5 $mc
refuse "/mc/energy is missing or not of type float64 [1..120000]" type.h5 $mc
refuse "is not a checkpoint of this program" mc.ref.h5 $mc
refuse "checkpoint 'short.h5' is inconsistent: the Monte Carlo state (/mc) is unreadable or out of range" short.h5 $mc
grep -q "^FAILED" series.txt && failures=$((failures + 1))
# An existing output is replaced only when it is this run's unfinished output.
cp mc.ref.h5 precious.h5
sum1=$(md5sum <precious.h5)
timeout 60 "$ISING" $mc -quiet -restart r.ckpt.h5 -output precious.h5 >out.txt 2>err.txt
rc=$?
if [ $rc -eq 2 ] && grep -qF "option -output: 'precious.h5' exists and is not the output of the run" err.txt &&
  [ "$(md5sum <precious.h5)" = "$sum1" ]; then
  pass "a restart does not replace another run's complete output"
else
  fail "another run's output (exit $rc): $(cat err.txt)"
fi
if [ "$(md5sum <r.ckpt.h5)" = "$sum0" ]; then pass "refused restarts left the checkpoint untouched"; else
  fail "a refused restart changed the checkpoint"
fi
# (from the copy of r.ckpt.h5 in format 2, whole-length series: still read)
if run 2 $mc -quiet -restart v2.h5 -checkpoint_file v2.h5 -output r.h5 &&
  "$PYTHON" "$SRC/tests/check_same.py" mc.ref.h5 r.h5 && [ ! -e v2.h5 ]; then
  pass "the interrupted output of the same run is replaced; restart (format 2) complete and identical"
else
  fail "restart into the run's own interrupted output"
fi

# A checkpoint that cannot be written (its temporary name taken by a
# directory, as a full disk would fail it) stops the run with exit status 3
# and one message; the previous checkpoint stays complete.
start 2 $mc -checkpoint_interval 0.2 -output w.h5
if wait_checkpoint; then
  mkdir w.ckpt.h5.tmp
  wait "$pid"
  rc=$?
  if [ $rc -eq 3 ] && grep -q "writing checkpoint 'w.ckpt.h5' failed" run.log &&
    "$PYTHON" "$SRC/tests/check_checkpoint.py" w.ckpt.h5; then
    pass "a checkpoint that cannot be written: exit status 3, the previous checkpoint intact"
  else
    fail "unwritable checkpoint: exit status $rc"
    cat run.log
  fi
else
  fail "unwritable checkpoint: the run ended before its first checkpoint"
fi
rm -rf w.ckpt.h5.tmp

pt="-task tempering -lattice_size 8,8 -couplings pm -beta_list 0.2,0.35,0.5,0.65,0.8,1.0,1.2,1.5 -pt_replica_sets 2
    -pt_adapt_sweeps 4000 -thermalize 500 -sweeps 120000 -pt_swap_interval 2 -snapshot_interval 40000"
# the first and last segments on blocks sized for wrong speeds and moved
# by -rebalance
export ISING_REBALANCE_TEST=1
cycle tempering "$pt -rebalance 200 -rebalance_gain 0" 2:2/1,3 INT 1 USR1 2:2/3,1
unset ISING_REBALANCE_TEST
moves=$("$PYTHON" -c 'import sys, h5py; print(int(h5py.File(sys.argv[1]).attrs["rebalances"]))' tempering.h5 \
  2>/dev/null) || moves=""
if [ -n "$moves" ] && [ "$moves" -ge 1 ]; then pass "tempering: $moves moves of the blocks over the restarts"; else
  fail "tempering: no moves of the blocks recorded ('$moves')"
fi

ds="-task tempering -lattice_size 6,6 -couplings gaussian -beta_list 0.3,0.7,1.2 -pt_replica_sets 2
    -disorder_samples 4 -thermalize 200 -sweeps 60000"
cycle samples "$ds" 2 TERM 3 USR1 1

# Three tasks: stopped in mc, then in anneal (mc and mean field finished:
# they come back from the output saved in the checkpoint).
an="-task mc,meanfield,anneal -lattice_size 10,10 -couplings pm -beta_list 0.4,0.8 -thermalize 100 -sweeps 1200000
    -measure_interval 10 -anneal_restarts 48 -anneal_steps 100 -anneal_sweeps_per_step 800"
# Blocks sized for wrong speeds in the segments on 2 and 3 ranks, moved
# by -rebalance in mc and in anneal (so the anneal checkpoint holds moved
# blocks); the count of moves goes on across the tasks and the restarts.
# The 3 oversubscribed ranks run the short first segment, the 2 ranks the
# long second one (the rest of mc, mean field, part of anneal): beside
# other MPI tests, 3 ranks on 2 cores can be 25 times slower than 2.
export ISING_REBALANCE_TEST=1
cycle tasks "$an -rebalance 5000 -rebalance_gain 0" 3/1,1,4 USR1 2/1,3 TERM 1 mc anneal
unset ISING_REBALANCE_TEST
moves=$("$PYTHON" -c 'import sys, h5py; print(int(h5py.File(sys.argv[1]).attrs["rebalances"]))' tasks.h5 2>/dev/null) ||
  moves=""
if [ -n "$moves" ] && [ "$moves" -ge 2 ]; then pass "tasks: $moves moves of the blocks over the tasks and restarts"; else
  fail "tasks: fewer than 2 moves of the blocks recorded ('$moves')"
fi

# kill -9 loop: long enough (about 8 s on one rank, sized by timing it here)
# that 5 segments of at most 1 s cannot finish it.
kl="${mc/-sweeps 360000/} -seed 5"
read -r sweeps took < <(sweeps_lasting 8 300000 $kl) || fail "kill loop: calibration runs"
echo "kill loop: 300000 sweeps per beta take $took s here: the runs make $sweeps"
kl+=" -sweeps $sweeps"
run 1 $kl -quiet -output k.ref.h5 || fail "kill loop: reference run"
kills=0
restarts=0
for np in 1 2 3 2 1; do
  resume=""
  [ -e k.ckpt.h5 ] && resume="-restart k.ckpt.h5"
  [ -z "$resume" ] && rm -f k.h5
  start "$np" $kl -checkpoint_interval 0.2 -output k.h5 $resume
  sleep "$(awk -v r="$RANDOM" 'BEGIN {printf "%.2f", 0.5 + 0.5 * r / 32768.0}')"
  if ! kill -0 "$pid" 2>/dev/null; then
    fail "kill loop: the run ended before its kill"
    cat run.log
    continue
  fi
  kill -9 $(ranks) "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  kills=$((kills + 1))
  [ -n "$resume" ] && restarts=$((restarts + 1))
  if [ -e k.ckpt.h5 ]; then
    if "$PYTHON" "$SRC/tests/check_checkpoint.py" k.ckpt.h5; then pass "kill $kills ($np ranks): latest checkpoint complete"; else
      fail "kill $kills ($np ranks): latest checkpoint damaged"
    fi
  else
    pass "kill $kills ($np ranks): no checkpoint yet (the next run starts afresh)"
  fi
done
resume=""
[ -e k.ckpt.h5 ] && resume="-restart k.ckpt.h5"
[ -z "$resume" ] && rm -f k.h5
if run 2 $kl -quiet -output k.h5 $resume; then
  same "kill -9 loop ($kills kills, $restarts of the runs restarts)" k.ref.h5 k.h5
else
  fail "kill loop: final run"
fi
finish
