# mpi_identical.sh: the same input gives bit-identical spins, time series
# and estimates on 1, 2, 3 and 4 ranks and on different process grids, in
# 1D, 2D and 3D, with uniform, +-J and Gaussian couplings (with a random
# field), Metropolis and heat bath.  Uneven splits are exercised (12x10 over
# 3 and 4 ranks, 6x6x4 over 4), and so are blocks sized by -balance
# (a layout "np[:grid]/speeds": uneven blocks on one and on two axes, down
# to one-site blocks), and so are blocks that -rebalance moves during the
# run.  Compared with h5diff, which without a
# tolerance demands exact equality: final spins, snapshots, time series,
# estimates, the generated disorder, and the MBAR estimates with their
# bootstrap error bars (the resamples are shared out over the ranks).
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

compare() { # name reference candidate
  local ds extra=""
  h5ls "$2/model/bonds" >/dev/null 2>&1 && extra="$extra /model/bonds"
  h5ls "$2/model/fields" >/dev/null 2>&1 && extra="$extra /model/fields"
  for ds in /free_energy/lnZ_mbar /free_energy/lnZ_mbar_err /free_energy/reweighted/lnZ_err \
    /free_energy/reweighted/specific_heat_err; do
    h5ls "$2$ds" >/dev/null 2>&1 || { fail "$1: $ds missing"; return; }
    extra="$extra $ds"
  done
  for ds in /state/spins /snapshots/spins /timeseries/energy /timeseries/magnetization /observables/energy \
    /observables/specific_heat /observables/binder /observables/acceptance $extra; do
    if ! h5diff -q "$2" "$3" "$ds" "$ds" >/dev/null 2>&1; then
      fail "$1: $ds differs"
      return
    fi
  done
  pass "$1: identical"
}

case_run() { # name "common options" layout...  (layout: np[:grid][/balance])
  local name=$1 opts=$2
  shift 2
  run 1 $opts -quiet -output "$work/$name.ref.h5" || { fail "$name: 1-rank run"; return; }
  local layout np grid bal
  for layout in "$@"; do
    bal=""
    case $layout in */*) bal="-balance ${layout#*/}" layout=${layout%%/*} ;; esac
    np=${layout%%:*}
    grid=${layout#*:}
    local gopt="" out="$work/$name.$np.$grid.${bal#-balance }.h5"
    [ "$grid" != "$layout" ] && gopt="-process_grid $grid"
    if run "$np" $opts $gopt $bal -quiet -output "$out"; then
      compare "$name on $np ranks ${gopt:-(default grid)} $bal" "$work/$name.ref.h5" "$out"
    else
      fail "$name: run on $np ranks $gopt $bal"
    fi
  done
}

base="-thermalize 20 -sweeps 100 -measure_interval 2 -snapshot_interval 25 -beta_list 0.3,0.45"
case_run 2d_uniform "-lattice_size 12,10 $base" 2 3 4 "4:4,1" "4:1,4" "4:2,2" "3/5,1,2" "4:2,2/1,2,3,4" "2/measure"
case_run 2d_pm "-lattice_size 12,10 -couplings pm -lattice_bc periodic,open $base" 2 3 4 "4:4,1" "4:2,2"
case_run 2d_gauss_hb "-lattice_size 12,10 -couplings gaussian -field_sigma 0.5 -algorithm heatbath $base" 2 3 "4:1,4" \
  "3/1,4,1"
case_run 3d_uniform "-lattice_size 6,6,4 $base" 2 3 4 "4:1,2,2" "4:4,1,1"
case_run 3d_pm "-lattice_size 6,6,4 -couplings pm -lattice_bc open $base -algorithm heatbath" 2 4 "4:2,2,1" \
  "4:2,2,1/4,1,1,1" "4:1,2,2/1,1,1,3"
case_run 1d_field "-lattice_size 30 -field 0.2 $base" 2 3 4 "4/1,1,1,1000"
# -balance reaches the blocks: 1, 1, 1 and 27 of the 30 sites; measured speeds are stored
blocks() { # file balance cuts_x
  "$PYTHON" - "$@" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    a = f.attrs
    ok = a["balance"] == sys.argv[2] and ",".join(map(str, a["process_cuts_x"])) == sys.argv[3]
    if sys.argv[2] != "even":
        s = a["rank_speeds"]
        ok = ok and len(s) == a["nranks"] and max(s) == 1.0 and min(s) > 0
    sys.exit(0 if ok else 1)
PY
}
if blocks "$work/1d_field.4.4.1,1,1,1000.h5" given 0,1,2,3,30; then pass "-balance 1,1,1,1000: blocks 1, 1, 1, 27 in the file"; else
  fail "-balance 1,1,1,1000: blocks in the file"
fi
if blocks "$work/2d_uniform.2.2.measure.h5" measure 0,12; then pass "-balance measure: speeds in the file"; else
  fail "-balance measure: speeds in the file"
fi
# -rebalance moves the blocks during the run, on one axis and on two, from
# even and from uneven blocks.  ISING_REBALANCE_TEST replaces the measured
# speeds by speeds that change at every check (rebalance.h), so the blocks
# move at every check (gain 0) whatever this machine's timing; the file
# counts the moves.
export ISING_REBALANCE_TEST=1
rb="-rebalance 3 -rebalance_gain 0"
case_run 2d_rebalance "-lattice_size 12,40 -couplings pm $base $rb" 3 "3/1,5,2" "4:2,2/1,1,1,8"
case_run 3d_rebalance "-lattice_size 6,8,10 -couplings gaussian -field_sigma 0.5 -algorithm heatbath $base $rb" \
  "4:1,2,2/1,1,1,8" "4:1,1,4"
unset ISING_REBALANCE_TEST
moves() { "$PYTHON" -c 'import sys, h5py; print(int(h5py.File(sys.argv[1]).attrs["rebalances"]))' "$1"; }
for f in "$work"/2d_rebalance.[0-9]*.h5 "$work"/3d_rebalance.[0-9]*.h5; do
  n=$(moves "$f" 2>/dev/null) || n=""
  if [ -n "$n" ] && [ "$n" -ge 20 ]; then pass "-rebalance: $n moves in $(basename "$f")"; else
    fail "-rebalance: fewer than 20 moves recorded in $(basename "$f") ('$n')"
  fi
done
case_run 2d_odd_open "-lattice_size 7,5 -lattice_bc open -field 0.1 $base" 2 3 4 "4:4,1"
case_run 1d_open_hb "-lattice_size 9 -lattice_bc open -field 0.3 -algorithm heatbath $base" 4 8
case_run 3d_short "-lattice_size 2,2,6 $base" "4:2,2,1" 3
finish
