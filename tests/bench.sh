# bench.sh: the benchmark program runs every case and its production kernels
# leave the same spins as the reference kernel (it exits 1 and prints
# DIFFERENT otherwise), on 1 and 3 ranks, with every instruction set this CPU
# has; -bench_weak gives each rank the one-rank block; the multi-spin-coding
# row (msc) leaves the production kernel's spins.  No timing is checked
# (speed is measured by the program, docs/performance.md, never by a test).
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
small=(-bench_sweeps 2 -bench_size2d 64 -bench_size3d 12 -bench_couplings uniform,pm,gaussian -bench_meanfield 1)
bench() {
  local np=$1
  shift
  timeout 300 "$MPIEXEC" -n "$np" --oversubscribe "$ISING_BENCH" "$@"
}
for simd in scalar avx2 avx512; do
  for np in 1 3; do
    if ISING_SIMD=$simd bench "$np" "${small[@]}" >"$work/out" 2>&1; then
      n=$(grep -c ' identical$' "$work/out")
      if [ "$n" -eq 12 ] && ! grep -q DIFFERENT "$work/out"; then
        pass "ISING_SIMD=$simd, $np rank(s): 12 cases identical to the reference"
      else
        fail "ISING_SIMD=$simd, $np rank(s): $n of 12 cases identical"
        cat "$work/out"
      fi
    else
      fail "ISING_SIMD=$simd, $np rank(s): exit status $?"
      cat "$work/out"
    fi
  done
done
bench 2 -bench_sweeps 1 -bench_size2d 64 -bench_size3d 12 -bench_weak 1 -bench_couplings uniform \
  -bench_algorithms metropolis -bench_meanfield 0 >"$work/out" 2>&1 || fail "weak run: exit status $?"
if grep -q '^2D 64 .*table .* grid 1x2, fused$' "$work/out" && grep -q '^3D 12 .*table .* grid 1x1x2, fused$' "$work/out" &&
  grep -q 'weak scaling' "$work/out"; then
  pass "-bench_weak 1 on 2 ranks: 64x128 and 12x12x24, one block per rank, fused sweeps"
else
  fail "-bench_weak 1 on 2 ranks"
  cat "$work/out"
fi
# The rows that explain a scaling run: "exchange" (the halo messages alone, all of its time in the exchange)
# after every case, and the "slowest" column (the busiest rank's time outside the exchange over the mean of all
# ranks': at least 1 by definition, exactly 1 where nothing is outside the exchange).
bench 3 -bench_sweeps 2 -bench_size2d 64 -bench_size3d 12 -bench_couplings uniform,pm -bench_meanfield 0 \
  -bench_reference 0 >"$work/out" 2>&1 || fail "exchange rows run: exit status $?"
if grep -q ' halo slowest   check$' "$work/out" &&
  [ "$(grep -cE '^[23]D .* exchange +3 .* 100\.0% +1\.00 *$' "$work/out")" -eq 8 ] &&
  awk '$6 == 3 { n++; if ($11 + 0 < 1.0) bad++ } END { exit !(n == 40 && bad == 0) }' "$work/out"; then
  pass "3 ranks: an exchange row per case (all of it in the exchange), slowest >= 1 on all 40 rows"
else
  fail "exchange rows or slowest column"
  cat "$work/out"
fi
# The multi-spin-coding experiment (the msc row: 2D, one rank, L a multiple of 128, equal bonds, no field,
# Metropolis) leaves the production kernel's spins, with the AVX-512 compares and with the portable ones; the
# other cases of the run have no msc row, and neither does a run on 2 ranks.
for simd in scalar avx512; do
  ISING_SIMD=$simd bench 1 -bench_sweeps 3 -bench_size2d 128 -bench_cases 2d -bench_couplings uniform,pm \
    -bench_meanfield 0 -bench_reference 0 >"$work/out" 2>&1 || fail "msc, ISING_SIMD=$simd: exit status $?"
  if [ "$(grep -c ' msc ' "$work/out")" -eq 1 ] &&
    grep -qE '^2D 128 +uniform +metropolis msc +1 .* identical \(to production\)$' "$work/out"; then
    pass "msc row (ISING_SIMD=$simd): 2D 128^2 uniform Metropolis only, spins identical to production"
  else
    fail "msc row (ISING_SIMD=$simd)"
    cat "$work/out"
  fi
done
bench 2 -bench_sweeps 1 -bench_size2d 128 -bench_cases 2d -bench_couplings uniform -bench_algorithms metropolis \
  -bench_meanfield 0 -bench_reference 0 >"$work/out" 2>&1 || fail "msc, 2 ranks: exit status $?"
if grep -q ' msc ' "$work/out"; then fail "an msc row on 2 ranks"; else pass "no msc row on 2 ranks"; fi
bench 1 -bench_sweeps 1 -bench_cases 2d -bench_couplings uniform -bench_algorithms metropolis -bench_meanfield 0 \
  -bench_size2d 0 >"$work/out" 2>&1; [ $? -eq 2 ] || fail "size 0: exit status 2 expected"
grep -q 'option -bench_size2d' "$work/out" && pass "size 0 refused, naming the option" || { fail "size 0 message"; cat "$work/out"; }
finish
