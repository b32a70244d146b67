# output_file.sh: the HDF5 output file has every path and attribute of the
# contract (docs/output-format.md), in the right shapes, for several kinds
# of run; -overwrite replaces a file; the file is readable by h5dump.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
check() { # label file args...
  local label=$1
  shift
  if "$PYTHON" "$SRC/tests/check_output.py" "$@" >"$work/log" 2>&1; then pass "$label"; else
    fail "$label"
    cat "$work/log"
  fi
}

run 3 -lattice_size 12,10 -beta_list 0.3,0.4,0.5 -thermalize 10 -sweeps 60 -measure_interval 3 \
  -snapshot_interval 20 -quiet -output "$work/a.h5" || fail "2D run"
check "2D uniform, 3 temperatures, snapshots, 3 ranks" "$work/a.h5" 3 20 9 10,12 --exact

run 4 -lattice_size 6,4,4 -couplings pm -field_sigma 0.3 -beta 0.7 -thermalize 5 -sweeps 40 -quiet \
  -output "$work/b.h5" || fail "3D run"
check "3D +-J with random field, 4 ranks" "$work/b.h5" 1 40 0 4,4,6 --disorder --random-field

run 2 -lattice_size 5 -lattice_bc open -couplings gaussian -beta 0.5 -sweeps 30 -thermalize 0 -quiet \
  -snapshot_interval 10 -output "$work/c.h5" || fail "1D run"
check "1D open Gaussian chain, enumerable" "$work/c.h5" 1 30 3 5 --disorder --exact

if run 2 -lattice_size 8,8 -sweeps 10 -thermalize 0 -quiet -output "$work/a.h5" -overwrite; then
  check "-overwrite replaces an existing file" "$work/a.h5" 1 10 0 8,8 --exact
else
  fail "-overwrite run"
fi
if h5dump -H "$work/b.h5" >/dev/null; then pass "h5dump reads the file"; else fail "h5dump reads the file"; fi

# git_revision is the source tree's revision now, not that of the last CMake configure (cmake/revision.cmake
# rewrites it at every build).  The tree may be dirty while this runs, so only the hash is compared.
if head=$(git -C "$SRC" rev-parse --short=12 HEAD 2>/dev/null); then
  got=$("$PYTHON" -c 'import h5py, sys; print(h5py.File(sys.argv[1], "r").attrs["git_revision"])' \
    "$work/b.h5" 2>&1)
  if [ "${got%-dirty}" = "$head" ]; then pass "git_revision $got is HEAD"; else
    fail "git_revision: file has '$got', the source tree is at $head (version.h not rebuilt?)"
  fi
else
  echo "skip    git_revision: $SRC is not a git checkout"
fi
finish
