# scaling.sh: the scaling kit without SLURM.  jobscripts/scaling.sh runs a
# small strong and weak study on 1 and 2 ranks (mpirun, two repeats);
# postprocess/scaling.py must print the speedups and efficiencies that follow
# from the timing tables in the logs (recomputed here independently: T = sum
# of the update, halo exchange and measure averages, fastest repeat), write
# the plot, and refuse bad input with exit 2 (mixed lattices in a strong set,
# mixed sites per rank in a weak set, a missing log, an unfinished run), and
# exit 1 when the strong runs disagree.  No timing is judged, only arithmetic.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
scaling=("$PYTHON" "$SRC/postprocess/scaling.py")

"${scaling[@]}" --help | grep -q "strong" && pass "scaling.py --help" || fail "scaling.py --help"

if OUTDIR=study LAUNCHER=mpirun RANKS="1 2" REPEATS=2 STRONG_SIZE=64,64 WEAK_SIZE=32,32 SWEEPS=20000 THERMALIZE=0 \
  ISING=$ISING bash "$SRC/jobscripts/scaling.sh" >study.out 2>&1; then
  pass "jobscripts/scaling.sh outside SLURM (mpirun)"
else
  cat study.out
  fail "jobscripts/scaling.sh"
fi

if "${scaling[@]}" --strong study/strong-*.h5 --weak study/weak-*.h5 --plot s.png >table.txt; then
  cat table.txt
  pass "scaling.py on the study"
else
  fail "scaling.py on the study"
fi
[ -s s.png ] && pass "plot written" || fail "no plot"

# T of each log, then the expected rows "P lattice runs Tmin ... speedup efficiency".
tlog() { awk '/^timing/ {t = 0; on = 1; next} on && /^  (update|halo exchange|measure) / {t += $(NF - 1)} END {printf "%.6f", t}' "$1"; }
tmin() { for f in "$@"; do tlog "$f"; echo; done | sort -g | head -1; }
s1=$(tmin study/strong-P1-r*.log) s2=$(tmin study/strong-P2-r*.log)
w1=$(tmin study/weak-P1-r*.log) w2=$(tmin study/weak-P2-r*.log)
expect=$(awk -v s1="$s1" -v s2="$s2" -v w1="$w1" -v w2="$w2" 'BEGIN {
  printf "strong 2 %.3f %.2f %.2f\n", s2, s1 / s2, s1 / s2 / 2
  printf "weak 2 %.3f %.2f\n", w2, w1 / w2 }')
got=$(awk '/^strong scaling/ {k = "strong"} /^weak scaling/ {k = "weak"}
  k == "strong" && $1 == 2 {print k, $1, $4, $6, $7} k == "weak" && $1 == 2 {print k, $1, $4, $6}' table.txt)
echo "expected from the logs:"; echo "$expect"; echo "printed:"; echo "$got"
# Equal to the printed digit, give or take one unit of the last: the logs and the output files round the
# phase times differently, so a value on a rounding boundary (0.625) may print either way.
if paste -d ' ' <(echo "$expect") <(echo "$got") | awk '{
  n = NF / 2
  if ($1 != $(n + 1) || $2 != $(n + 2)) bad = 1
  for (i = 3; i <= n; i++) { d = $i - $(i + n); if (d < 0) d = -d; if (d > 0.0101) bad = 1 }
} END { exit bad }'; then
  pass "speedup and efficiencies follow from the logs"
else
  fail "table differs from the logs"
fi
grep -q "bit-identical energies on every rank count: yes" table.txt && pass "strong runs identical" ||
  fail "strong runs not reported identical"
"${scaling[@]}" --markdown --strong study/strong-*.h5 | grep -q '^| 2 | 64x64 | 2 |' && pass "--markdown table" ||
  fail "--markdown table"

# Bad input: exit 2 and a message that says what is wrong.
expect_error() {
  local what=$1 pattern=$2
  shift 2
  "${scaling[@]}" "$@" >/dev/null 2>err.txt
  local rc=$?
  if [ $rc -eq 2 ] && grep -q "$pattern" err.txt; then pass "$what: exit 2, $(cat err.txt)"; else
    fail "$what: exit $rc, $(cat err.txt)"
  fi
}
expect_error "strong set of two lattices" "different lattices" --strong study/strong-P1-r1.h5 study/weak-P1-r1.h5
expect_error "weak set of two sites per rank" "different sites per rank" --weak study/weak-P1-r1.h5 study/strong-P2-r1.h5
cp study/strong-P1-r1.h5 nolog.h5
expect_error "missing log" "cannot read the log" --strong nolog.h5
cp study/strong-P1-r1.h5 running.h5
cp study/strong-P1-r1.log running.log
"$PYTHON" -c 'import h5py; h5py.File("running.h5", "r+").attrs["status"] = "running"'
expect_error "unfinished run" "status 'running'" --strong running.h5
expect_error "no study" "give --strong" --plot x.png

# Strong runs that disagree: exit 1 and NO.
cp study/strong-P2-r1.h5 wrong.h5
cp study/strong-P2-r1.log wrong.log
"$PYTHON" -c 'import h5py; f = h5py.File("wrong.h5", "r+"); f["observables/energy"][0] += 1e-12'
"${scaling[@]}" --strong study/strong-P1-r1.h5 wrong.h5 >wrong.txt
rc=$?
[ $rc -eq 1 ] && grep -q "energies on every rank count: NO" wrong.txt && pass "disagreeing strong runs: exit 1, NO" ||
  fail "disagreeing strong runs: exit $rc"
finish
