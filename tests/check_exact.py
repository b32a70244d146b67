"""check_exact.py: compare Monte Carlo estimates in an ising output file
with the exact values written beside them.

usage: check_exact.py FILE QUANTITY[,QUANTITY...] [--sigma S]
Every estimate /observables/Q must lie within S (default 4) of its own error
bar /observables/Q_err from /observables/Q_exact, at every temperature.
Prints each deviation in sigma; exits 1 on any failure.
"""
import argparse
import sys

import h5py
import numpy as np

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("file")
ap.add_argument("quantities")
ap.add_argument("--sigma", type=float, default=4.0)
args = ap.parse_args()

bad = 0
with h5py.File(args.file, "r") as f:
    obs = f["observables"]
    beta = obs["beta"][:]
    if f.attrs["status"] != "complete":
        print(f"{args.file}: status {f.attrs['status']}")
        bad += 1
    for q in args.quantities.split(","):
        est, err, exact = obs[q][:], obs[q + "_err"][:], obs[q + "_exact"][:]
        for b, v, e, x in zip(beta, est, err, exact):
            dev = (v - x) / e if e > 0 else np.inf
            ok = np.isfinite(dev) and abs(dev) < args.sigma
            bad += not ok
            print(f"{'ok    ' if ok else 'FAILED'} {args.file} beta={b:g} {q}: {v:.6f} +- {e:.6f}, "
                  f"exact {x:.6f}, deviation {dev:+.2f} sigma (tolerance {args.sigma:g})")
sys.exit(1 if bad else 0)
