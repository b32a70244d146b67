#!/usr/bin/python3
"""ln Z per spin vs beta from every estimator and bound in /free_energy, with
the Kullback-Leibler gap of the mean-field bound below.

Reads the datasets of /free_energy generically (docs/output-format.md):
  lnZ, lnZ_err        the headline estimate (attribute `method` names it)
  lnZ_exact           the exact value where an exact method applies
  lnZ_lower_<name>    lower bounds (the mean-field ELBO, AIS, ...)
  lnZ_upper_<name>    upper bounds (tree-reweighted, the trivial ceiling, ...)
  lnZ_<name>          other estimators (thermodynamic integration, MBAR, ...)
  <any>_err           the error bar of <any>
  kl_gap, kl_gap_err  KL(q||p) = lnZ - ELBO
Datasets that are NaN everywhere (not computed by this run) are left out.
Everything is divided by the number of spins N.  Where both kinds of bound
exist, the sandwich between the largest lower and the smallest upper bound
is shaded and its width printed.  With a reference (lnZ_exact, else the
headline lnZ) a middle panel shows each curve minus the reference.

Prints a table (one row per beta, columns in the order of the file,
value ± error per spin) and writes a figure.
"""

import argparse

import numpy as np

import isingio


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", metavar="FILE", help="ising output file")
    ap.add_argument("-o", "--output", default="freeenergy.png", help="figure file (default: %(default)s)")
    ap.add_argument("--sample", help="disorder sample to read (a file with /samples)")
    ap.add_argument("--total", action="store_true", help="print and plot total ln Z, not per spin")
    return ap.parse_args()


class Series:
    def __init__(self, name, kind, value, err):
        self.name, self.kind, self.value, self.err = name, kind, value, err


def classify(s):
    """The /free_energy datasets as Series (exact, headline, estimators, lower
    bounds, upper bounds, KL gap, others), all-NaN ones dropped."""
    out = []
    for name in s:
        if name == "beta" or name.endswith("_err") or name == "sandwich_width":
            continue  # errors go with their values; the sandwich width is recomputed here
        if name == "lnZ":
            kind = "headline"
        elif name == "lnZ_exact":
            kind = "exact"
        elif name.startswith("lnZ_lower_"):
            kind = "lower"
        elif name.startswith("lnZ_upper_"):
            kind = "upper"
        elif name.startswith("lnZ_"):
            kind = "estimator"
        elif name == "kl_gap":
            kind = "kl"
        else:
            kind = "other"
        v = s[name]
        if not np.any(np.isfinite(v)):
            continue
        out.append(Series(name, kind, v, s.get(name + "_err")))
    rank = ["exact", "headline", "estimator", "lower", "upper", "kl", "other"]
    return sorted(out, key=lambda x: rank.index(x.kind))


def best_bounds(series):
    def pick(kind, fn):
        vals = [x.value for x in series if x.kind == kind]
        if not vals:
            return None
        with np.errstate(all="ignore"):
            stacked = np.vstack(vals)
            ok = np.isfinite(stacked).any(axis=0)
            res = np.full(stacked.shape[1], np.nan)
            res[ok] = fn(np.where(np.isfinite(stacked), stacked, np.nan)[:, ok], axis=0)
        return res

    return pick("lower", np.nanmax), pick("upper", np.nanmin)


def main():
    a = parse_args()
    with isingio.open_run(a.file) as f:
        g = isingio.group(f, "free_energy", a.sample)
        method = str(g.attrs.get("method", "")) or "not given"
        s = isingio.read_series(g)
        nsites = isingio.model(f, a.sample).nsites
    beta = s["beta"]
    series = classify(s)
    if not series:
        raise isingio.InputError(f"{a.file}: /free_energy holds no finite value (no task of this run estimated or "
                                 "bounded ln Z at its temperatures)")
    scale = 1.0 if a.total else float(nsites)
    unit = "ln Z" if a.total else "ln Z / N"
    lower, upper = best_bounds(series)
    headline = next((x for x in series if x.kind == "headline"), None)
    exact = next((x for x in series if x.kind == "exact"), None)
    # The headline duplicates one of the estimators (or the exact value): say which.
    same_as = None
    if headline is not None:
        for x in series:
            if x is not headline and x.kind in ("exact", "estimator") and np.array_equal(x.value, headline.value,
                                                                                         equal_nan=True):
                same_as = x.name
                break

    print(f"{a.file}: N = {nsites}, lnZ method: {method}" + (f" (lnZ = {same_as})" if same_as else ""))
    print(f"values are {unit}" + ("" if a.total else " (kl_gap too; other datasets as stored)"))
    cols = [x for x in series if not (x.kind == "headline" and same_as)]
    header = f"{'beta':>10}" + "".join(f"  {x.name:>26}" for x in cols)
    have_sandwich = lower is not None and upper is not None
    if have_sandwich:
        header += f"  {'sandwich_width':>16}"
    print(header)
    order = np.argsort(beta, kind="stable")
    for k in order:
        row = f"{beta[k]:10.6g}"
        for x in cols:
            sc = 1.0 if x.kind == "other" else scale
            e = x.err[k] / sc if x.err is not None else None
            row += f"  {isingio.fmt_err(x.value[k] / sc, e):>26}"
        if have_sandwich:
            row += f"  {(upper[k] - lower[k]) / scale:16.8g}"
        print(row)
    if lower is not None or upper is not None:
        for k in order:
            lo = lower[k] if lower is not None else np.nan
            hi = upper[k] if upper is not None else np.nan
            ref = exact.value[k] if exact is not None else np.nan
            viol = (np.isfinite(lo) and np.isfinite(ref) and lo > ref) or (np.isfinite(hi) and np.isfinite(ref)
                                                                         and hi < ref)
            if viol:
                isingio.warn(f"beta = {beta[k]:g}: a bound is on the wrong side of lnZ_exact")

    plot(a, beta[order], [Series(x.name, x.kind, x.value[order], None if x.err is None else x.err[order])
                          for x in series], None if lower is None else lower[order],
         None if upper is None else upper[order], scale, unit, same_as)


def plot(a, beta, series, lower, upper, scale, unit, same_as):
    plt = isingio.matplotlib_pyplot()
    ref = next((x for x in series if x.kind == "exact"), None) or next(
        (x for x in series if x.kind == "headline"), None)
    curves = [x for x in series if x.kind in ("headline", "exact", "estimator", "lower", "upper")
              and not (x.kind == "headline" and same_as)]
    kl = next((x for x in series if x.kind == "kl"), None)
    middle = ref is not None and any(x is not ref for x in curves)
    panels = 1 + middle + (kl is not None)
    fig, axes = plt.subplots(panels, 1, figsize=(7, 3.2 * panels), sharex=True, squeeze=False)
    axes = list(axes[:, 0])
    style = {"exact": dict(fmt="-", color="k", lw=1.2), "headline": dict(fmt="o", ms=4, capsize=2),
             "estimator": dict(fmt="o", ms=4, capsize=2), "lower": dict(fmt="v--", ms=4, lw=0.8),
             "upper": dict(fmt="^--", ms=4, lw=0.8)}

    def draw(ax, shift):
        for x in curves:
            y = (x.value - shift) / scale
            yerr = None if x.err is None else np.where(np.isfinite(x.err), x.err, 0) / scale
            ax.errorbar(beta, y, yerr=yerr, label=x.name, **style[x.kind])
        if lower is not None and upper is not None:
            ok = np.isfinite(lower) & np.isfinite(upper)
            ax.fill_between(beta, (lower - shift) / scale, (upper - shift) / scale, where=ok, color="C0", alpha=0.15,
                            label="sandwich (best bounds)")

    ax = axes[0]
    draw(ax, 0.0)
    ax.set_ylabel(unit)
    ax.legend(fontsize=7)
    i = 1
    if middle:
        ax = axes[i]
        draw(ax, ref.value)
        ax.axhline(0, color="k", lw=0.6)
        # Zoom on what decides the comparison: the estimators and the best
        # bounds (a loose bound such as the trivial ceiling may leave the frame).
        keep = [(x.value + sign * (0 if x.err is None else np.nan_to_num(x.err)) - ref.value) / scale
                for x in curves if x.kind in ("headline", "estimator") for sign in (-1, 1)]
        keep += [(b - ref.value) / scale for b in (lower, upper) if b is not None]
        keep = np.concatenate(keep + [np.zeros(1)])
        keep = keep[np.isfinite(keep)]
        span = max(keep.max() - keep.min(), 1e-12)
        ax.set_ylim(keep.min() - 0.15 * span, keep.max() + 0.15 * span)
        ax.set_ylabel(f"difference from {ref.name}" + ("" if a.total else " / N"))
        i += 1
    if kl is not None:
        ax = axes[i]
        y = kl.value / scale
        yerr = None if kl.err is None else np.where(np.isfinite(kl.err), kl.err, 0) / scale
        ax.errorbar(beta, y, yerr=yerr, fmt="s-", ms=4, capsize=2, color="C3", label="KL(q‖p) = lnZ − ELBO")
        pos = y[np.isfinite(y)]
        if len(pos) and np.all(pos > 0) and pos.max() / pos.min() > 100:
            ax.set_yscale("log")
        ax.set_ylabel("KL gap" + ("" if a.total else " / N"))
        ax.legend(fontsize=7)
    axes[-1].set_xlabel("β")
    fig.tight_layout()
    isingio.save_figure(fig, a.output)


if __name__ == "__main__":
    isingio.main_guard(main)
