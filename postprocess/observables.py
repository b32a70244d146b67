#!/usr/bin/python3
"""Observables vs beta for several lattice sizes, and the critical point from
the crossing of the Binder cumulant.

Reads /observables (or, in a disorder-sample file, /disorder; the overlap
quantities from /overlap) of each FILE.  Files with the same lattice size
and model are one curve (e.g. one file per temperature of a job array).
Prints each size's estimates, then the crossing of the chosen quantity
(default: the Binder cumulant U = 1 - <m^4>/(3 <m^2>^2)) between every pair
of sizes, and writes a figure.

The crossing: each size's points U(beta_k) ± err_k are fitted by a weighted
polynomial in beta (least squares, degree --degree, lowered to points - 1
where there are few points) or interpolated piecewise linearly (--fit
linear); the crossing is the root of U_L2(beta) - U_L1(beta) where the
larger lattice's curve overtakes the smaller one's.  Its error is the
standard deviation over --bootstrap parametric resamples: every point is
redrawn from a normal distribution with its error bar and the fits and the
crossing are redone (points at different beta and sizes are independent
runs, so independent draws).  The reported beta_c is the crossing of the two
largest sizes (the smallest finite-size shift); the other pairs show the
drift with size.

Printed lines that scripts may parse:
  crossing <label1> x <label2>: beta = B +- E, <quantity> = U +- UE
  beta_c = B +- E (...)
"""

import argparse
import itertools

import numpy as np

import isingio

DEFAULT_QUANTITIES = "energy,abs_magnetization,specific_heat,susceptibility,binder"
GROUP_ORDER = ("observables", "disorder", "overlap")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", metavar="FILE", help="ising output files (any mix of sizes)")
    ap.add_argument("-o", "--output", default="observables.png", help="figure file (default: %(default)s)")
    ap.add_argument("--quantities", default=DEFAULT_QUANTITIES,
                    help="comma list of per-temperature quantities to plot and print (default: %(default)s)")
    ap.add_argument("--crossing", default="binder",
                    help="quantity whose crossing between sizes estimates beta_c, e.g. binder, or binder_ratio "
                         "for spin-glass overlaps; 'none' for no crossing (default: %(default)s)")
    ap.add_argument("--group", choices=GROUP_ORDER,
                    help="read every quantity from this group (default: the first of observables, disorder, "
                         "overlap that holds it)")
    ap.add_argument("--sample", help="disorder sample to read (default: top-level groups)")
    ap.add_argument("--fit", choices=("poly", "linear"), default="poly",
                    help="curve through each size's points for the crossing (default: %(default)s)")
    ap.add_argument("--degree", type=int, default=3, help="polynomial degree of --fit poly (default: %(default)s)")
    ap.add_argument("--range", metavar="BMIN,BMAX",
                    help="look for the crossing only in this beta window (default: where the sizes overlap)")
    ap.add_argument("--bootstrap", type=int, default=2000,
                    help="parametric bootstrap resamples for the crossing's error (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the bootstrap (default: %(default)s)")
    a = ap.parse_args()
    if a.degree < 1:
        ap.error("--degree must be >= 1")
    if a.bootstrap < 10:
        ap.error("--bootstrap must be >= 10")
    if a.range:
        try:
            lo, hi = (float(v) for v in a.range.split(","))
        except ValueError:
            ap.error("--range must be BMIN,BMAX")
        if not lo < hi:
            ap.error("--range needs BMIN < BMAX")
        a.range = (lo, hi)
    return a


class Curve:
    """One lattice size: per quantity, beta, value, error and exact value,
    sorted by beta."""

    def __init__(self, label, nsites):
        self.label, self.nsites, self.files = label, nsites, []
        self.data = {}  # quantity -> dict of arrays beta, v, e, x

    def add(self, q, beta, v, e, x):
        d = self.data.setdefault(q, {"beta": [], "v": [], "e": [], "x": []})
        d["beta"].append(beta)
        d["v"].append(v)
        d["e"].append(e)
        d["x"].append(x)

    def finish(self):
        for q, d in self.data.items():
            arr = {k: np.concatenate(v) for k, v in d.items()}
            order = np.argsort(arr["beta"], kind="stable")
            self.data[q] = {k: v[order] for k, v in arr.items()}


def load(a, quantities):
    curves = {}
    for path in a.files:
        with isingio.open_run(path) as f:
            mdl = isingio.model(f, a.sample)
            key = mdl.size
            c = curves.get(key)
            if c is None:
                c = curves[key] = Curve(mdl.label(), mdl.nsites)
                c.model_key = mdl.key()
            elif c.model_key != mdl.key():
                raise isingio.InputError(f"{path}: same lattice size as {c.files[0]} but a different model")
            c.files.append(path)
            series = []
            for gname in [a.group] if a.group else GROUP_ORDER:
                g = isingio.group(f, gname, a.sample, required=False)
                if g is not None and "beta" in g:
                    series.append(isingio.read_series(g))
            if not series:
                where = f"/{a.group}" if a.group else "/observables, /disorder or /overlap"
                raise isingio.InputError(f"{path} has no {where}" + (f" in sample {a.sample}" if a.sample else ""))
            for q in quantities:
                # the first group that has q; NaN where this file lacks it, so
                # every quantity of a size has the same betas
                s = next((s for s in series if q in s), series[0])
                nan = np.full(len(s["beta"]), np.nan)
                c.add(q, s["beta"], s.get(q, nan), s.get(q + "_err", nan), s.get(q + "_exact", nan))
    for c in curves.values():
        c.finish()
        for q in list(c.data):
            if not np.any(np.isfinite(c.data[q]["v"])):
                del c.data[q]
    return sorted(curves.values(), key=lambda c: c.nsites)


def merged_points(d, window):
    """Finite points inside the window; repeated betas are merged by inverse
    variance weighting."""
    ok = np.isfinite(d["v"]) & np.isfinite(d["e"]) & (d["e"] > 0)
    ok &= (d["beta"] >= window[0]) & (d["beta"] <= window[1])
    b, v, e = d["beta"][ok], d["v"][ok], d["e"][ok]
    ub = np.unique(b)
    if len(ub) == len(b):
        return b, v, e
    mv, me = [], []
    for x in ub:
        w = 1.0 / e[b == x] ** 2
        mv.append(np.sum(w * v[b == x]) / np.sum(w))
        me.append(1.0 / np.sqrt(np.sum(w)))
    return ub, np.array(mv), np.array(me)


class Fitter:
    """A curve through one size's points (beta_k, v_k ± e_k) that is linear
    in the values: on any grid, curve = matrix(grid) @ v.  Weighted least
    squares polynomial in the scaled beta, or piecewise linear interpolation."""

    def __init__(self, kind, degree, beta, err):
        self.kind, self.beta, self.err = kind, beta, err
        self.degree = min(degree, len(beta) - 1)
        if kind == "poly":
            self.centre = 0.5 * (beta[0] + beta[-1])
            self.scale = 0.5 * (beta[-1] - beta[0])
            a = np.vander((beta - self.centre) / self.scale, self.degree + 1) / err[:, None]
            self.solve = np.linalg.pinv(a) / err[None, :]  # coefficients = solve @ v

    def matrix(self, grid):
        if self.kind == "linear":
            eye = np.eye(len(self.beta))
            return np.stack([np.interp(grid, self.beta, eye[k]) for k in range(len(self.beta))], axis=1)
        return np.vander((grid - self.centre) / self.scale, self.degree + 1) @ self.solve

    def chi2(self, values):
        if self.kind == "linear":
            return 0.0, 0
        r = (self.matrix(self.beta) @ values - values) / self.err
        return float(np.sum(r**2)), len(self.beta) - self.degree - 1


def crossings(grid, diff, mean):
    """Per row of diff (larger lattice's curve minus the smaller one's on the
    grid): the beta where it turns from <= 0 to > 0 (the first such place;
    the first turn the other way if there is none), linearly interpolated
    between grid points, and the mean curve there.  NaN where they do not
    cross."""
    d0, d1 = diff[:, :-1], diff[:, 1:]
    up = (d0 <= 0) & (d1 > 0)
    down = (d0 >= 0) & (d1 < 0)
    has_up, has_down = up.any(axis=1), down.any(axis=1)
    idx = np.where(has_up, up.argmax(axis=1), down.argmax(axis=1))
    rows = np.arange(diff.shape[0])
    a, b = d0[rows, idx], d1[rows, idx]
    frac = -a / (b - a)
    frac = np.where(np.isfinite(frac), frac, 0.0)
    x = grid[idx] + frac * (grid[idx + 1] - grid[idx])
    u = mean[rows, idx] + frac * (mean[rows, idx + 1] - mean[rows, idx])
    none = ~(has_up | has_down)
    x[none] = np.nan
    u[none] = np.nan
    return x, u


def analyse_crossings(a, curves, q):
    """Crossings of quantity q for every pair of sizes, with bootstrap errors."""
    pts = []
    for c in curves:
        if q not in c.data:
            raise isingio.InputError(f"no '{q}' in the files of {c.label} (for the crossing)")
        window = a.range or (-np.inf, np.inf)
        b, v, e = merged_points(c.data[q], window)
        if len(b) < 2:
            raise isingio.InputError(f"{c.label}: fewer than 2 points of {q} with error bars in the window")
        pts.append((b, v, e, Fitter(a.fit, a.degree, b, e)))
    rng = np.random.default_rng(a.seed)
    draws = [v + e * rng.standard_normal((a.bootstrap, len(v))) for (b, v, e, _) in pts]
    results = []
    for i, j in itertools.combinations(range(len(curves)), 2):
        lo = max(pts[i][0][0], pts[j][0][0])
        hi = min(pts[i][0][-1], pts[j][0][-1])
        if not lo < hi:
            results.append((i, j, None))
            continue
        knots = np.concatenate([pts[i][0], pts[j][0]])
        grid = np.unique(np.concatenate([np.linspace(lo, hi, 2001), knots[(knots >= lo) & (knots <= hi)]]))
        mi, mj = pts[i][3].matrix(grid), pts[j][3].matrix(grid)
        vi = np.vstack([pts[i][1], draws[i]])  # row 0: the measured values, then the resamples
        vj = np.vstack([pts[j][1], draws[j]])
        ci, cj = vi @ mi.T, vj @ mj.T
        x, u = crossings(grid, cj - ci, 0.5 * (ci + cj))
        res = None
        if np.isfinite(x[0]):
            ok = np.isfinite(x[1:])
            res = {"beta": x[0], "beta_err": float(np.std(x[1:][ok], ddof=1)) if ok.sum() > 1 else np.nan,
                   "value": u[0], "value_err": float(np.std(u[1:][ok], ddof=1)) if ok.sum() > 1 else np.nan,
                   "found": int(ok.sum()), "window": (lo, hi)}
        results.append((i, j, res))
    return pts, results


def print_tables(curves, quantities):
    for c in curves:
        print(f"{c.label} (N = {c.nsites}, {len(c.files)} file{'s' if len(c.files) > 1 else ''}):")
        qs = [q for q in quantities if q in c.data]
        if not qs:
            print("  none of the quantities is in these files")
            continue
        betas = c.data[qs[0]]["beta"]
        print("  " + f"{'beta':>10}" + "".join(f"  {q:>24}" for q in qs))
        for k, b in enumerate(betas):
            cells = []
            for q in qs:
                d = c.data[q]
                cells.append(isingio.fmt_err(d["v"][k], d["e"][k]) if k < len(d["v"]) else "")
            print("  " + f"{b:10.6g}" + "".join(f"  {s:>24}" for s in cells))


def plot(a, curves, quantities, q_cross, results, pts):
    plt = isingio.matplotlib_pyplot()
    qs = [q for q in quantities if any(q in c.data for c in curves)]
    if not qs:
        raise isingio.InputError("none of the quantities is in the files: nothing to plot")
    ncol = 2 if len(qs) > 1 else 1
    nrow = (len(qs) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(6 * ncol, 3.6 * nrow), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    best = results[-1][2] if results else None
    for ax, q in zip(axes.flat, qs):
        for ci, c in enumerate(curves):
            if q not in c.data:
                continue
            d, col = c.data[q], colors[ci % len(colors)]
            ax.errorbar(d["beta"], d["v"], yerr=np.where(np.isfinite(d["e"]), d["e"], 0), fmt="o", ms=3,
                        capsize=2, color=col, label=c.label)
            if np.any(np.isfinite(d["x"])):
                ax.plot(d["beta"], d["x"], "-", lw=0.8, color=col, alpha=0.7)
        if q == q_cross:
            for ci, (b, v, e, fitter) in enumerate(pts):
                grid = np.linspace(b[0], b[-1], 200)
                ax.plot(grid, fitter.matrix(grid) @ v, "--", lw=0.8, color=colors[ci % len(colors)])
            if best is not None:
                ax.axvspan(best["beta"] - best["beta_err"], best["beta"] + best["beta_err"], color="grey", alpha=0.25,
                           label=f"β_c = {isingio.fmt_err(best['beta'], best['beta_err'])}")
        ax.set_xlabel("β")
        ax.set_ylabel(q)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(qs):]:
        ax.set_visible(False)
    fig.suptitle("points: estimates ± error; lines: exact values where known; dashed: crossing fits", fontsize=9)
    fig.tight_layout()
    isingio.save_figure(fig, a.output)


def main():
    a = parse_args()
    quantities = [q for q in a.quantities.split(",") if q]
    q_cross = None if a.crossing == "none" else a.crossing
    wanted = quantities + ([q_cross] if q_cross and q_cross not in quantities else [])
    curves = load(a, wanted)
    print_tables(curves, quantities)
    results, pts = [], []
    if q_cross and len(curves) < 2:
        print(f"only one lattice size ({curves[0].label}): no {q_cross} crossing")
    elif q_cross:
        pts, results = analyse_crossings(a, curves, q_cross)
        fitdesc = "piecewise linear" if a.fit == "linear" else f"weighted polynomial fits (degree <= {a.degree})"
        print(f"\n{q_cross} crossings ({fitdesc}, {a.bootstrap} parametric bootstrap resamples):")
        for (b, v, e, fitter), c in zip(pts, curves):
            chi2, dof = fitter.chi2(v)
            if dof > 0:
                print(f"  fit {c.label}: {len(b)} points, chi2/dof = {chi2:.2f}/{dof}")
        for i, j, r in results:
            name = f"{curves[i].label} x {curves[j].label}"
            if r is None:
                print(f"  crossing {name}: none in the common beta range")
                continue
            print(f"  crossing {name}: beta = {r['beta']:.6f} +- {r['beta_err']:.6f}, "
                  f"{q_cross} = {r['value']:.5f} +- {r['value_err']:.5f}")
            if r["found"] < a.bootstrap:
                isingio.warn(f"{name}: {a.bootstrap - r['found']} of {a.bootstrap} resamples have no crossing in "
                             f"[{r['window'][0]:g}, {r['window'][1]:g}]: the error bar is unreliable")
        last = results[-1][2] if results else None
        # combinations() ends with the pair of the two largest sizes
        if last is None:
            print("beta_c: the two largest sizes do not cross in their common beta range")
        else:
            print(f"beta_c = {last['beta']:.6f} +- {last['beta_err']:.6f} "
                  f"(crossing of the two largest sizes, {curves[-2].label} and {curves[-1].label})")
    plot(a, curves, wanted, q_cross, results, pts)


if __name__ == "__main__":
    isingio.main_guard(main)
