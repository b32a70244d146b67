# docs_options.sh: docs/usage.md documents every option that -help lists,
# and docs/output-format.md every dataset an output file holds.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for opt in $(run 1 -help | awk '/^  -/ {print $1}'); do
  if grep -qF -- "\`$opt\`" "$SRC/docs/usage.md"; then pass "usage.md documents $opt"; else fail "usage.md lacks $opt"; fi
done
run 2 -lattice_size 4,4 -couplings pm -field_sigma 0.2 -sweeps 20 -thermalize 0 -snapshot_interval 10 -quiet -task mc,meanfield \
  -output "$work/x.h5" || fail "run"
run 2 -lattice_size 4,4 -task tempering -pt_replica_sets 2 -beta_list 0.2,0.4 -sweeps 20 -thermalize 0 -quiet -output "$work/t.h5" ||
  fail "tempering run"
run 2 -lattice_size 4,4 -task anneal -anneal_restarts 2 -anneal_steps 3 -quiet -output "$work/a.h5" || fail "anneal run"
run 2 -lattice_size 4,4 -task freeenergy -beta_list 0.2,0.4 -ais_chains 2 -ais_steps 5 -quiet -output "$work/f.h5" ||
  fail "freeenergy run"
run 2 -lattice_size 8,8 -task quench -quench_sweeps 10 -quench_histories 2 -quiet -output "$work/q.h5" || fail "quench run"
run 2 -lattice_size 4,4 -task tempering -pt_replica_sets 2 -disorder_samples 2 -beta_list 0.2,0.4 -sweeps 20 \
  -thermalize 0 -quiet -output "$work/s.h5" || fail "disorder samples run"
for path in $("$PYTHON" -c '
import h5py, sys
def walk(name, obj):
    print(name.split("/")[-1])
for file in sys.argv[1:]:
    with h5py.File(file) as f:
        f.visititems(walk)
' "$work/x.h5" "$work/t.h5" "$work/s.h5" "$work/a.h5" "$work/q.h5" "$work/f.h5" | sed 's/^[0-9]*$/<s>/' | sort -u); do
  if grep -qF -- "$path" "$SRC/docs/output-format.md"; then pass "output-format.md documents $path"; else
    fail "output-format.md lacks $path"
  fi
done
finish
