# meanfield.sh: the mean-field task end to end.
# - damped sweeps and SNES Newton (assembled Jacobian, and -mf_snes_mf)
#   agree to 1e-10 on the ELBO and on every m_i where both must reach the
#   same fixed point: the unique solution of the high-temperature regime
#   (beta sum_j |J_ij| < 1: 2D +-J with a random field, 3D Gaussian), and
#   from the ferro start on a mostly ferromagnetic +-J lattice below T_c and
#   an antiferromagnetic chain from the antiferro start.  (A spin glass
#   below T_c has many stationary points; which one a solver reaches
#   depends on the solver.)
# - sweeps give bit-identical results on 1, 2, 3 and 4 ranks; SNES agrees
#   across rank counts to 1e-12 relative (its Krylov sums are not
#   order-independent);
# - /free_energy holds the bound and, where lnZ is exact, kl_gap = lnZ - ELBO
#   >= 0;
# - a start that does not converge (the random start on 64^2 at beta = 0.3
#   keeps domain walls for all -mf_max_iter sweeps) prints progress lines,
#   and so does the TRW bound's search, on rank 0 only, and none with -quiet.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mf() { # np file options...
  local np=$1 out=$2
  shift 2
  run "$np" -task meanfield -quiet -output "$out" "$@" || fail "run $np $*"
}
agree() { # label a b tolerance
  if "$PYTHON" - "$2" "$3" "$4" <<'PY'
import sys, h5py, numpy as np
a, b, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
with h5py.File(a) as fa, h5py.File(b) as fb:
    ea, eb = fa["meanfield/elbo"][:], fb["meanfield/elbo"][:]
    ma, mb = fa["meanfield/m"][:], fb["meanfield/m"][:]
    de = np.max(np.abs(ea - eb) / np.abs(ea))
    dm = np.max(np.abs(ma - mb))
    ok = de <= tol and dm <= tol and np.all(fa["meanfield/converged"][:] == 1) and np.all(fb["meanfield/converged"][:] == 1)
    print(f"  ELBO rel. dev {de:.1e}, max |dm| {dm:.1e} (tol {tol:g}), all converged: {ok}")
    sys.exit(0 if ok else 1)
PY
  then pass "$1"; else fail "$1"; fi
}

hot="-lattice_size 12,10 -couplings pm -field_sigma 0.3 -beta_list 0.1,0.2"
mf 2 "$work/hot_sweeps.h5" $hot
mf 2 "$work/hot_snes.h5" $hot -mf_solver snes
mf 2 "$work/hot_mffd.h5" $hot -mf_solver snes -mf_snes_mf
agree "2D +-J + random field, high T: sweeps vs SNES" "$work/hot_sweeps.h5" "$work/hot_snes.h5" 1e-10
agree "2D +-J + random field, high T: sweeps vs matrix-free SNES" "$work/hot_sweeps.h5" "$work/hot_mffd.h5" 1e-10
sg="-lattice_size 12,10 -couplings pm -pm_p 0.1 -field_sigma 0.2 -beta_list 0.5,0.8 -mf_init ferro"
mf 2 "$work/sg_sweeps.h5" $sg
mf 2 "$work/sg_snes.h5" $sg -mf_solver snes
agree "2D mostly ferromagnetic +-J below T_c from ferro: sweeps vs SNES" "$work/sg_sweeps.h5" "$work/sg_snes.h5" 1e-10
g3="-lattice_size 6,4,4 -couplings gaussian -gaussian_mean 0.3 -field 0.1 -beta_list 0.1,0.15 -lattice_bc periodic,open,periodic"
mf 3 "$work/g3_sweeps.h5" $g3
mf 3 "$work/g3_snes.h5" $g3 -mf_solver snes
agree "3D Gaussian: sweeps vs SNES" "$work/g3_sweeps.h5" "$work/g3_snes.h5" 1e-10
c1="-lattice_size 30 -lattice_bc open -field 0.2 -J -0.5 -beta_list 0.5,2"
mf 2 "$work/c1_sweeps.h5" $c1 -mf_init antiferro,random
mf 2 "$work/c1_snes.h5" $c1 -mf_init antiferro,random -mf_solver snes
agree "1D open antiferromagnetic chain: sweeps vs SNES" "$work/c1_sweeps.h5" "$work/c1_snes.h5" 1e-10

# 3/...: blocks sized by -balance 1,5,2 (1, 7 and 2 of the 10 rows), which the DMDA of SNES shares
for np in 1 3 4 3/1,5,2; do
  bal=""
  case $np in */*) bal="-balance ${np#*/}" np=${np%%/*} ;; esac
  tag=$np${bal:+.balanced}
  mf "$np" "$work/sg_sweeps.$tag.h5" $sg $bal
  if h5diff -q "$work/sg_sweeps.h5" "$work/sg_sweeps.$tag.h5" /meanfield/elbo /meanfield/elbo >/dev/null &&
    h5diff -q "$work/sg_sweeps.h5" "$work/sg_sweeps.$tag.h5" /meanfield/m /meanfield/m >/dev/null; then
    pass "sweeps on $np ranks $bal bit-identical to 2 ranks"
  else
    fail "sweeps on $np ranks $bal differ from 2 ranks"
  fi
  mf "$np" "$work/sg_snes.$tag.h5" $sg -mf_solver snes $bal
  agree "SNES on $np ranks $bal vs 2 ranks" "$work/sg_snes.h5" "$work/sg_snes.$tag.h5" 1e-12
done

# SNES on a uniform 3D lattice below the transition: every m_i is the
# scalar solution of m = tanh(beta (z J m + h)) to 1e-12 (h = 1/16 is exact
# in the 2^-32 quantisation of fields).
mf 3 "$work/u3.h5" -lattice_size 4,4,6 -J 0.75 -field 0.0625 -beta_list 0.3,0.4 -mf_solver snes -mf_init ferro -mf_tol 1e-14
if "$PYTHON" - "$work/u3.h5" <<'PY'
import sys, h5py, numpy as np
from scipy.optimize import brentq
with h5py.File(sys.argv[1]) as f:
    beta = f["meanfield/beta"][:]
    m = f["meanfield/m"][:]
    mstar = [brentq(lambda x: x - np.tanh(b * (6 * 0.75 * x + 0.0625)), 1e-3, 1.0, xtol=1e-15) for b in beta]
    dev = np.max(np.abs(m - mstar[-1]))
    dmag = np.max(np.abs(f["meanfield/magnetization"][:] - mstar))
    print(f"  m* = {mstar}, max |m_i - m*| = {dev:.1e}, |<m> - m*| = {dmag:.1e} (tol 1e-12)")
    sys.exit(0 if dev < 1e-12 and dmag < 1e-12 else 1)
PY
then pass "SNES on uniform 3D: scalar self-consistent solution"; else fail "SNES uniform 3D scalar solution"; fi

mf 2 "$work/small.h5" -lattice_size 4,5 -lattice_bc open -couplings gaussian -field_sigma 0.4 -beta_list 0.2,0.8,2
if "$PYTHON" - "$work/small.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    fe = f["free_energy"]
    lower, exact, gap = fe["lnZ_lower_meanfield"][:], fe["lnZ_exact"][:], fe["kl_gap"][:]
    ok = np.all(lower <= exact) and np.allclose(gap, exact - lower, rtol=0, atol=1e-12) and np.all(gap >= 0)
    ok = ok and np.array_equal(f["meanfield/elbo"][:], lower) and np.all(fe["kl_gap_err"][:] == 0)
    print(f"  ELBO {lower}, exact lnZ {exact}, KL gap {gap}")
    sys.exit(0 if ok else 1)
PY
then pass "/free_energy: lower bound, kl_gap = lnZ_exact - ELBO >= 0"; else fail "/free_energy bound and gap"; fi

slow="-task meanfield -lattice_size 64,64 -beta_list 0.3 -mf_init random -mf_max_iter 3000 -progress_interval 0.001"
# --tag-output: every line starts with [job,rank]<stdout>:
timeout 300 "$MPIEXEC" -n 2 --oversubscribe --tag-output "$ISING" $slow -output "$work/slow.h5" > "$work/slow.txt" ||
  fail "run 2 $slow"
lines=$(grep -c '<stdout>:progress: mean field beta 1/1 = 0.3, start random, sweep [0-9]*/3000, largest change .* (tol 1e-12)$' \
  "$work/slow.txt")
trw=$(grep -c '<stdout>:progress: TRW bound at beta = 0.3, evaluation [2-9]/9, lnZ/N <= 0.86[0-9]*$' "$work/slow.txt")
others=$(grep '<stdout>:progress:' "$work/slow.txt" | grep -vc '^\[[0-9]*,0\]')
conv=$(grep -E '<stdout>: +0\.3 ' "$work/slow.txt" | awk '{print $(NF-2), $(NF-1)}')
echo "  $lines progress lines of the sweeps, $trw of the TRW bound, $others from other ranks than 0," \
  "iterations and conv: $conv"
if [ "$lines" -ge 2 ] && [ "$trw" -ge 1 ] && [ "$others" -eq 0 ] && [ "$conv" = "3000 NO" ]; then
  pass "a start that does not converge and the TRW search print progress lines (rank 0 only)"
else
  fail "mean-field progress lines"
fi
rm -f "$work/slow.h5"
run 2 $slow -quiet -output "$work/slow.h5" > "$work/quiet.txt" || fail "run 2 $slow -quiet"
if [ ! -s "$work/quiet.txt" ]; then pass "-quiet: no progress lines"; else fail "-quiet printed: $(head -2 "$work/quiet.txt")"; fi
finish
