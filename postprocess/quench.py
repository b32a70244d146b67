#!/usr/bin/python3
"""Coarsening after a quench (-task quench): the domain length L(t) on log-log
axes with the fitted growth exponent, and snapshots of the coarsening.

The exponent alpha of L ~ t^alpha is the least-squares slope of log L against
log t over the measurement times in [--tmin, --tmax]; its error is the
jackknife over the independent histories (each history left out in turn, L
recomputed from the others' records in /quench/histories, slope refitted).

Prints one line per fitted length:
  growth exponent <name>: alpha = A +- E  (t in [a, b], n points, H histories)
and writes the figure when -o (or --figure) is given.  The error is NaN, with
a warning, where leaving a history out makes L(t) infinite in the window (the
others ordered completely): narrow the window with --tmax.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import isingio  # noqa: E402


def lengths(f, which, keep):
    """L(t) from the histories in keep (a boolean mask)."""
    h = f["/quench/histories"]
    if which == "walls":
        bonds = f["/quench"].attrs["bonds"]
        return bonds / h["unsatisfied_bonds"][keep, :].mean(axis=0)
    s0, s1 = h["sk_sum"][keep, :], h["sk_first_moment"][keep, :]
    return 2 * np.pi * s0.mean(axis=0) / s1.mean(axis=0)


def fit(t, L, window):
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = np.log(t[window]), np.log(L[window])
    return np.polyfit(x, y, 1)[0]


def exponent(f, which, tmin, tmax):
    t = f["/quench/time"][:]
    done = int(f["/quench"].attrs["histories_done"])
    window = (t >= tmin) & (t <= tmax) & (t > 0)
    if window.sum() < 3:
        raise isingio.InputError("fewer than 3 measurement times in [%g, %g]" % (tmin, tmax))
    all_h = np.zeros(f["/quench/histories/energy"].shape[0], bool)
    all_h[:done] = True
    L = lengths(f, which, all_h)
    if not np.all(np.isfinite(L[window])):
        raise isingio.InputError("L(t) is not finite in [%g, %g] (the lattice ordered completely?): choose a smaller "
                                 "--tmax" % (tmin, tmax))
    alpha = fit(t, L, window)
    err = float("nan")
    if done > 1:
        jk = []
        finite = True
        for k in range(done):
            keep = all_h.copy()
            keep[k] = False
            with np.errstate(divide="ignore", invalid="ignore"):
                Lk = lengths(f, which, keep)
            finite &= bool(np.all(np.isfinite(Lk[window])))
            jk.append(fit(t, Lk, window) if finite else float("nan"))
        if finite:
            jk = np.array(jk)
            err = np.sqrt((done - 1) / done * np.sum((jk - jk.mean()) ** 2))
        else:
            isingio.warn("%s: without one of the histories L(t) is infinite in [%g, %g] (the others ordered "
                         "completely): no jackknife error; choose a smaller --tmax" % (which, tmin, tmax))
    return t, L, window, alpha, err, done


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="output file of a -task quench run")
    ap.add_argument("--tmin", type=float, default=10.0, help="first time (sweeps) of the fit window [10]")
    ap.add_argument("--tmax", type=float, default=float("inf"), help="last time of the fit window [all]")
    ap.add_argument("--length", choices=["walls", "sk", "both"], default="both",
                    help="which domain length to fit: walls (inverse density of unsatisfied bonds), sk (first "
                         "moment of the circularly averaged structure factor) or both [both]")
    ap.add_argument("-o", "--figure", help="write the figure (L(t) log-log with the fits, and snapshots) to this file")
    a = ap.parse_args()
    with isingio.open_run(a.file) as f:
        if "/quench" not in f:
            raise isingio.InputError("%s has no /quench group (not a -task quench run)" % a.file)
        if int(f["/quench"].attrs.get("histories_done", 0)) < 1:
            raise isingio.InputError("%s has no finished quench history" % a.file)
        kinds = ["walls", "sk"] if a.length == "both" else [a.length]
        if "sk" in kinds and "sk_sum" not in f["/quench/histories"]:
            if a.length == "sk":
                raise isingio.InputError("no structure factor in %s (-quench_structure_factor false)" % a.file)
            kinds.remove("sk")
        fits = {}
        for k in kinds:
            t, L, window, alpha, err, done = exponent(f, k, a.tmin, a.tmax)
            fits[k] = (t, L, window, alpha)
            print("growth exponent %s: alpha = %.4f +- %.4f  (t in [%g, %g], %d points, %d histories)"
                  % (k, alpha, err, t[window].min(), t[window].max(), window.sum(), done))
        if a.figure:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            snaps = f["/quench/snapshots"] if "snapshots" in f["/quench"] else None
            ncol = 4 if snaps is not None else 0
            fig = plt.figure(figsize=(11, 4.2))
            ax = fig.add_subplot(1, 2, 1) if ncol else fig.add_subplot(1, 1, 1)
            label = {"walls": "L from domain walls", "sk": "L from S(k) first moment"}
            for k, (t, L, window, alpha) in fits.items():
                pos = t > 0
                ax.loglog(t[pos], L[pos], "o", ms=3, label=label[k])
                c = np.polyfit(np.log(t[window]), np.log(L[window]), 1)
                tt = t[window]
                ax.loglog(tt, np.exp(np.polyval(c, np.log(tt))), "-", label="fit: t^%.3f" % alpha)
            ax.set_xlabel("t (sweeps)")
            ax.set_ylabel("L(t)")
            ax.legend(fontsize=8)
            ax.set_title("beta = %s" % f["/quench"].attrs["beta"])
            if ncol:
                t = f["/quench/time"][:]
                picks = np.unique(np.linspace(0, len(t) - 1, ncol).round().astype(int))
                for i, j in enumerate(picks):
                    sp = fig.add_subplot(2, 4, 3 + (i // 2) * 4 + i % 2)
                    img = snaps[j]
                    while img.ndim > 2:
                        img = img[img.shape[0] // 2]
                    if img.ndim == 1:
                        img = img[None, :]
                    sp.imshow(img, cmap="gray", vmin=-1, vmax=1, interpolation="nearest",
                              aspect="auto" if img.shape[0] == 1 else "equal")
                    sp.set_title("t = %d" % t[j], fontsize=8)
                    sp.set_xticks([])
                    sp.set_yticks([])
            fig.tight_layout()
            fig.savefig(a.figure, dpi=110)
            print("wrote %s" % a.figure)


if __name__ == "__main__":
    isingio.main_guard(main)
