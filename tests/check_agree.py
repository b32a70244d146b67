"""check_agree.py: two ising output files agree within their error bars.

usage: check_agree.py A B QUANTITY[,QUANTITY...] [--sigma S]
|Q_A - Q_B| < S sqrt(err_A^2 + err_B^2) at every temperature (default S = 4).
"""
import argparse
import sys

import h5py
import numpy as np

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("a")
ap.add_argument("b")
ap.add_argument("quantities")
ap.add_argument("--sigma", type=float, default=4.0)
args = ap.parse_args()

bad = 0
with h5py.File(args.a, "r") as fa, h5py.File(args.b, "r") as fb:
    beta = fa["observables/beta"][:]
    for q in args.quantities.split(","):
        va, ea = fa["observables"][q][:], fa["observables"][q + "_err"][:]
        vb, eb = fb["observables"][q][:], fb["observables"][q + "_err"][:]
        for b, x, ex, y, ey in zip(beta, va, ea, vb, eb):
            dev = (x - y) / np.hypot(ex, ey)
            ok = np.isfinite(dev) and abs(dev) < args.sigma
            bad += not ok
            print(f"{'ok    ' if ok else 'FAILED'} beta={b:g} {q}: {x:.6f} +- {ex:.6f} vs {y:.6f} +- {ey:.6f}, "
                  f"{dev:+.2f} sigma (tolerance {args.sigma:g})")
sys.exit(1 if bad else 0)
