# output_lock.sh: two runs pointed at the same -output cannot both write it.
# Run A is stopped (SIGSTOP) while it holds the lock, so the check does not
# depend on timing; B (same -output) and C (same -output with -overwrite)
# must stop with exit 2 naming -output, and A, resumed, must finish a
# complete file.  Two restarts of one checkpoint: the second stops at the
# lock the first took.  A run killed by SIGKILL leaves a lock nobody holds, which
# the next run takes over.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
apid=
trap '[ -n "$apid" ] && kill -CONT $apid 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
# Long enough (several seconds) that no run finishes between taking its lock
# and the signal the test sends it.
args=(-lattice_size 32,32 -beta 0.3 -thermalize 0 -sweeps 1000000 -quiet)

# lock_holder FILE: the pid recorded in FILE.lock once a run holds it.
lock_holder() {
  for _ in $(seq 1 600); do
    if [ -s "$1.lock" ]; then sed -n 's/^pid \([0-9]*\) .*/\1/p' "$1.lock" && return 0; fi
    sleep 0.1
  done
  return 1
}

run 2 "${args[@]}" -output a.h5 >a.out 2>&1 &
mpirun_a=$!
pid=$(lock_holder a.h5) || { fail "run A never took its lock"; finish; exit; }
kill -STOP "$pid" && apid=$pid
for extra in "" "-overwrite"; do
  timeout 60 "$MPIEXEC" -n 2 --oversubscribe "$ISING" "${args[@]}" -output a.h5 $extra >b.out 2>b.err
  rc=$?
  if [ $rc -eq 2 ] && grep -qF "option -output: 'a.h5' is being written by another run (pid $pid" b.err &&
    [ "$(grep -c 'ising: error:' b.err)" -eq 1 ]; then
    pass "second run ${extra:-without -overwrite} refused: $(cat b.err)"
  else
    fail "second run ${extra:-without -overwrite}: exit $rc: $(cat b.err)"
  fi
done
kill -CONT "$pid"
apid=
if wait $mpirun_a && [ ! -e a.h5.lock ] &&
  "$PYTHON" -c 'import h5py,sys; f=h5py.File("a.h5","r"); sys.exit(0 if f.attrs["status"]=="complete" and len(f["observables/energy"])==1 else 1)'; then
  pass "first run finished a complete file and removed its lock"
else
  fail "first run damaged or unfinished: $(cat a.out)"
fi

# Two restarts of one checkpoint: the first takes the output's lock before
# it restores the file, the second stops at it.
# About 3 s on one rank here, so that it is still running after its first checkpoint (0.2 s).
long=(-lattice_size 64,64 -beta 0.3 -thermalize 0)
read -r sweeps took < <(sweeps_lasting 3 400000 "${long[@]}") || fail "calibration runs"
echo "400000 sweeps take $took s here: run R makes $sweeps"
long+=(-sweeps "$sweeps" -quiet -output r.h5 -checkpoint_interval 0.2)
run 1 "${long[@]}" >r.out 2>&1 &
mpirun_r=$!
pid=$(lock_holder r.h5) || { fail "run R never took its lock"; finish; exit; }
for _ in $(seq 1 600); do [ -e r.ckpt.h5 ] && break; sleep 0.05; done
kill -USR1 "$pid" # its one rank: checkpoint and exit 4
wait $mpirun_r
rc=$?
if [ $rc -ne 4 ] || [ ! -e r.ckpt.h5 ]; then
  fail "run to restart: exit $rc, no checkpoint: $(cat r.out)"
else
  run 1 "${long[@]}" -restart r.ckpt.h5 >r1.out 2>&1 &
  mpirun_r=$!
  pid=$(lock_holder r.h5) || { fail "restart never took the output's lock"; finish; exit; }
  kill -STOP "$pid" && apid=$pid
  timeout 60 "$ISING" "${long[@]}" -restart r.ckpt.h5 >r2.out 2>r2.err
  rc=$?
  if [ $rc -eq 2 ] && grep -qF "option -output: 'r.h5' is being written by another run (pid $pid" r2.err; then
    pass "second restart of the same checkpoint refused: $(cat r2.err)"
  else
    fail "second restart: exit $rc: $(cat r2.err)"
  fi
  kill -CONT "$pid"
  apid=
  if wait $mpirun_r && [ ! -e r.h5.lock ] && [ ! -e r.ckpt.h5 ] &&
    "$PYTHON" -c 'import h5py,sys; f=h5py.File("r.h5","r"); sys.exit(0 if f.attrs["status"]=="complete" else 1)'; then
    pass "the first restart completed its run"
  else
    fail "first restart: $(cat r1.out)"
  fi
fi

# A run killed by SIGKILL: its file and lock file stay; the lock is free.
run 2 -lattice_size 32,32 -beta 0.3 -thermalize 0 -sweeps 100000000 -quiet -output k.h5 >k.out 2>&1 &
mpirun_k=$!
pid=$(lock_holder k.h5) || { fail "run K never took its lock"; finish; exit; }
kill -KILL "$pid"
wait $mpirun_k
if [ -e k.h5.lock ] && run 2 -lattice_size 8,8 -sweeps 10 -thermalize 0 -quiet -output k.h5 -overwrite >k2.out 2>&1 &&
  [ ! -e k.h5.lock ]; then
  pass "lock left by a killed run is taken over (with -overwrite for its partial file)"
else
  fail "after SIGKILL: lock file $(ls k.h5.lock 2>&1); $(cat k.out k2.out 2>&1)"
fi
finish
