# decks.sh: every shipped deck in input/ parses and runs (with its sweeps
# cut down), and -help prints every option with a default.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for deck in "$SRC"/input/*.opts; do
  name=$(basename "$deck" .opts)
  if run 2 -options_file "$deck" -thermalize 10 -sweeps 50 -measure_interval 1 -snapshot_interval 0 -quiet \
    -output "$work/$name.h5" -overwrite >"$work/log" 2>&1; then
    pass "deck $name runs"
  else
    fail "deck $name"
    cat "$work/log"
  fi
done
out=$(run 1 -help)
if [ "$(echo "$out" | grep -c '^  -')" -ge 20 ] && ! echo "$out" | grep -q "Petsc Release"; then
  pass "-help lists the program's options"
else
  fail "-help output: $out"
fi
finish
