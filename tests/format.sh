# format.sh: the C sources follow .clang-format.  Skipped (not passed) when
# clang-format is not installed.
source "$(dirname "$0")/common.sh"
if ! command -v clang-format >/dev/null; then
  echo "clang-format not installed: skipped"
  exit 77
fi
for f in "$SRC"/src/*.c "$SRC"/include/ising/*.h "$SRC"/tests/*.c; do
  if clang-format --style=file "$f" | cmp -s - "$f"; then pass "$(basename "$f")"; else fail "$(basename "$f") is not formatted (clang-format -i $f)"; fi
done
finish
