# fuzz_params.sh: libFuzzer over the options deck -> ising_params_load path
# (tests/fuzz/fuzz_params.c), with AddressSanitizer and UBSan, for
# FUZZ_SECONDS (default 25) from the corpus in tests/fuzz/corpus, then every
# corpus entry once more with leak checking.  Fails on any crash, hang
# (> 10 s for one input), sanitizer report or leak.  Skipped (77) when
# clang cannot build a libFuzzer program.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
CLANG=${CLANG:-clang}
MPICC=${MPICC:-mpicc}
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' >probe.c
if ! command -v "$CLANG" >/dev/null || ! "$CLANG" -fsanitize=fuzzer probe.c -o probe 2>probe.err; then
  echo "skipped: '$CLANG -fsanitize=fuzzer' cannot build a fuzzer (Debian: apt-get install clang): $(cat probe.err 2>/dev/null)"
  exit 77
fi
# shellcheck disable=SC2046
if ! "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_POSIX_C_SOURCE=200809L \
  -I"$SRC/include" $(pkg-config --cflags PETSc) $("$MPICC" --showme:compile) "$SRC/src/params.c" "$SRC/src/error.c" \
  "$SRC/tests/fuzz/fuzz_params.c" $(pkg-config --libs PETSc) $("$MPICC" --showme:link) -lm -o fuzz_params; then
  fail "building the harness"
  finish
  exit
fi
mkdir corpus
cp "$SRC"/tests/fuzz/corpus/* corpus/
# The option names, for libFuzzer's mutations.
grep -o '{"-[a-z_A-Z]*"' "$SRC/src/params.c" | sed 's/^{//' >options.dict
export TMPDIR=$work
supp="suppressions=$SRC/tests/sanitizers/lsan.supp:print_suppressions=0"
secs=${FUZZ_SECONDS:-25}
ASAN_OPTIONS=detect_leaks=0 ./fuzz_params -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 \
  -dict=options.dict -artifact_prefix="$work/" corpus >fuzz.log 2>&1
rc=$?
runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 inputs in \2 s/p' fuzz.log)
if [ $rc -eq 0 ] && [ -n "$runs" ] && ! ls crash-* leak-* timeout-* oom-* >/dev/null 2>&1; then
  pass "fuzzing: $runs, no crash, hang or sanitizer report; corpus $(ls corpus | wc -l) entries"
else
  fail "fuzzing (exit $rc): $(grep -v "^#\|Uses:" fuzz.log | tail -60)"
  for a in crash-* leak-* timeout-* oom-*; do [ -e "$a" ] && echo "$a: $(base64 -w0 "$a")"; done
fi
ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 LSAN_OPTIONS=$supp ./fuzz_params -runs=0 -timeout=10 \
  -close_fd_mask=3 -artifact_prefix="$work/" corpus >leaks.log 2>&1
rc=$?
if [ $rc -eq 0 ]; then pass "every corpus entry again with leak checking"; else
  fail "leak check (exit $rc): $(grep -v '^#' leaks.log | tail -40)"
fi
finish
