# output_lock.sh: two runs pointed at the same -output cannot both write it.
# Run A is stopped (SIGSTOP) while it holds the lock, so the check does not
# depend on timing; B (same -output) and C (same -output with -overwrite)
# must stop with exit 2 naming -output, and A, resumed, must finish a
# complete file.  A run killed by SIGKILL leaves a lock nobody holds, which
# the next run takes over.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
apid=
trap '[ -n "$apid" ] && kill -CONT $apid 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
args=(-lattice_size 32,32 -beta 0.3 -thermalize 0 -sweeps 20000 -quiet)

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

# A run killed by SIGKILL: its file and lock file stay; the lock is free.
run 2 "${args[@]}" -output k.h5 >k.out 2>&1 &
mpirun_k=$!
pid=$(lock_holder k.h5) || { fail "run K never took its lock"; finish; exit; }
kill -KILL "$pid"
wait $mpirun_k
if [ -e k.h5.lock ] && run 2 -lattice_size 8,8 -sweeps 10 -thermalize 0 -quiet -output k.h5 -overwrite >k2.out 2>&1 &&
  [ ! -e k.h5.lock ]; then
  pass "lock left by a killed run is taken over (with -overwrite for its partial file)"
else
  fail "after SIGKILL: $(cat k2.out)"
fi
finish
