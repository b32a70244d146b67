#!/usr/bin/python3
"""Spin configurations of an ising output file as images.

Sources (--source; default: the first present of snapshots, tempering,
state, ground_state, meanfield):
  snapshots     /snapshots/spins (Monte Carlo or tempering snapshots), with
                their beta and sweep
  state         /state/spins, the final configuration of a Monte Carlo run
  tempering     /tempering/spins, the final spins at each temperature slot
  ground_state  /ground_state/spins, the best configuration of annealing
  meanfield     /meanfield/m, the local magnetisations of the last beta
2D lattices are drawn as images (x to the right, y up), 3D lattices as
slices z = const (--slices), 1D chains as strips, one row per
configuration (a space-time picture for successive snapshots).  Spins +1 are white, -1
black; local magnetisations in a diverging colour map.

Which configurations: --index picks entries of the source's leading axis;
otherwise the last configuration at each beta (--all: every one), limited
to the betas nearest to those in --beta when it is given, and to --max.

For each configuration shown it prints the index, beta, sweep, the
magnetisation per spin m and, for spins, the energy per spin H/N computed
from the spins and the model's bonds and fields (the program's H), so a
snapshot can be checked against the time series of the same sweep.
Printed line format:
  config <index>: beta = B, sweep = S, m = M, e = E
"""

import argparse

import numpy as np

import isingio

SOURCES = {
    "snapshots": "snapshots/spins",
    "tempering": "tempering/spins",
    "state": "state/spins",
    "ground_state": "ground_state/spins",
    "meanfield": "meanfield/m",
}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", metavar="FILE", help="ising output file")
    ap.add_argument("-o", "--output", default="snapshots.png", help="figure file (default: %(default)s)")
    ap.add_argument("--source", choices=list(SOURCES), help="which configurations (default: the first present)")
    ap.add_argument("--sample", help="disorder sample to read (a file with /samples)")
    ap.add_argument("--index", help="comma list of entries of the source's leading axis (snapshots, tempering)")
    ap.add_argument("--beta", help="comma list: show the temperatures nearest to these betas")
    ap.add_argument("--all", action="store_true", help="every configuration at the chosen betas, not only the last")
    ap.add_argument("--max", type=int, default=12, help="most configurations in the figure (default: %(default)s)")
    ap.add_argument("--slices", default="4",
                    help="3D: how many evenly spaced z slices, or z=LIST for given z values, e.g. z=0,3 "
                         "(default: %(default)s)")
    a = ap.parse_args()
    if a.max < 1:
        ap.error("--max must be >= 1")
    return a


def int_list(text, what):
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise isingio.InputError(f"{what} must be a comma list of integers, got '{text}'") from None


def select(a, f, source, n):
    """Indices into the source's leading axis and their (beta, sweep)."""
    if source in ("state", "ground_state", "meanfield"):
        if a.index or a.beta:
            raise isingio.InputError(f"--index and --beta need --source snapshots or tempering, not {source}")
        if source == "meanfield":
            beta = isingio.group(f, "meanfield", a.sample)["beta"][-1]
        elif source == "state":
            obs = isingio.group(f, "observables", a.sample, required=False)
            beta = obs["beta"][-1] if obs is not None else np.nan
            sweep = isingio.run_root(f, a.sample)["state/spins"].attrs.get("sweeps_done", np.nan)
            return [None], {None: (beta, float(sweep))}
        else:
            beta = np.nan
        return [None], {None: (beta, np.nan)}
    if source == "snapshots":
        g = isingio.group(f, "snapshots", a.sample)
        betas, sweeps = g["beta"][...], g["sweep"][...]
    else:
        betas = isingio.group(f, "tempering", a.sample)["beta"][...]
        sweeps = np.full(len(betas), np.nan)
    info = {i: (betas[i], sweeps[i]) for i in range(n)}
    if a.index:
        idx = int_list(a.index, "--index")
        bad = [i for i in idx if not 0 <= i < n]
        if bad:
            raise isingio.InputError(f"--index {bad[0]} out of range: {source} has entries 0 to {n - 1}")
        chosen = idx
    else:
        pool = np.arange(n)
        if a.beta:
            try:
                targets = [float(v) for v in a.beta.split(",")]
            except ValueError:
                raise isingio.InputError(f"--beta must be a comma list of numbers, got '{a.beta}'") from None
            distinct = np.unique(betas)
            near = {distinct[np.argmin(np.abs(distinct - t))] for t in targets}
            pool = pool[np.isin(betas, list(near))]
        if a.all:
            chosen = list(pool)
        else:
            chosen = []
            for b in dict.fromkeys(betas[pool]):  # in order of first appearance
                chosen.append(int(pool[betas[pool] == b][-1]))
    if len(chosen) > a.max:
        isingio.warn(f"{len(chosen)} configurations selected; showing the first {a.max} (--max)")
        chosen = chosen[:a.max]
    return chosen, info


def main():
    a = parse_args()
    with isingio.open_run(a.file) as f:
        base = isingio.run_root(f, a.sample)
        present = [s for s, p in SOURCES.items() if p in base]
        if a.source is None:
            if not present:
                raise isingio.InputError(f"{a.file} holds no configurations (none of /" + ", /".join(SOURCES.values())
                                         + (") at the top level: try --sample" if isingio.samples(f) else ")"))
            source = present[0]
        else:
            source = a.source
            if source not in present:
                hint = f" (present: {', '.join(present)})" if present else ""
                if not present and isingio.samples(f) and a.sample is None:
                    hint = " at the top level: try --sample"
                raise isingio.InputError(f"{a.file} has no /{SOURCES[source]}{hint}")
        ds = base[SOURCES[source]]
        mdl = isingio.model(f, a.sample)
        lattice_shaped = ds.shape == mdl.shape
        n = 1 if lattice_shaped else ds.shape[0]
        chosen, info = select(a, f, source, n)
        configs = [ds[...] if i is None else ds[i] for i in chosen]
    is_spins = source != "meanfield"
    print(f"{a.file}: {source}, lattice {'x'.join(str(v) for v in mdl.size)} ({mdl.dim}D), "
          f"{len(configs)} configuration{'s' if len(configs) != 1 else ''}")
    for i, s in zip(chosen, configs):
        beta, sweep = info[i]
        line = f"config {0 if i is None else i}: beta = {beta:.10g}, sweep = {sweep:.0f}, m = {np.mean(s):.10g}"
        if is_spins:
            if not np.all(np.abs(s) == 1):
                raise isingio.InputError(f"{source} {'configuration' if i is None else f'entry {i}'} holds values "
                                         "other than +-1 (an unfinished file?)")
            line += f", e = {isingio.spins_energy(mdl, s):.12g}"
        print(line)
    plot(a, mdl, source, chosen, info, configs, is_spins)


def slice_list(a, nz):
    if a.slices.startswith("z="):
        zs = int_list(a.slices[2:], "--slices z=")
        bad = [z for z in zs if not 0 <= z < nz]
        if bad:
            raise isingio.InputError(f"--slices z={bad[0]} out of range: z runs from 0 to {nz - 1}")
        return zs
    try:
        k = int(a.slices)
    except ValueError:
        raise isingio.InputError(f"--slices must be a number or z=LIST, got '{a.slices}'") from None
    k = max(1, min(k, nz))
    return sorted(set(int(round(v)) for v in np.linspace(0, nz - 1, k)))


def plot(a, mdl, source, chosen, info, configs, is_spins):
    plt = isingio.matplotlib_pyplot()
    cmap = "gray" if is_spins else "RdBu_r"
    kw = dict(cmap=cmap, vmin=-1, vmax=1, interpolation="nearest", origin="lower")

    def title(i):
        beta, sweep = info[i]
        t = f"{source}" + ("" if i is None else f" [{i}]")
        if np.isfinite(beta):
            t += f"  β={beta:.4g}"
        if np.isfinite(sweep):
            t += f"  sweep {sweep:.0f}"
        return t

    n = len(configs)
    if mdl.dim == 1:
        # one row per configuration: a strip each, stacked like a space-time diagram
        fig, ax = plt.subplots(figsize=(8, 0.8 + 0.3 * n))
        ax.imshow(np.asarray(configs, float), aspect="auto", **dict(kw, origin="upper"))
        ax.set_yticks(range(n))
        ax.set_yticklabels([title(i) for i in chosen], fontsize=7)
        ax.set_xlabel("x")
    elif mdl.dim == 2:
        ncol = min(n, 4)
        nrow = (n + ncol - 1) // ncol
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 3.2 * nrow), squeeze=False)
        for ax, i, s in zip(axes.flat, chosen, configs):
            im = ax.imshow(s, **kw)
            ax.set_title(title(i), fontsize=8)
            ax.set_xlabel("x")
            ax.set_ylabel("y")
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
    else:
        zs = slice_list(a, mdl.shape[0])
        fig, axes = plt.subplots(n, len(zs), figsize=(2.8 * len(zs), 2.9 * n), squeeze=False)
        for row, i, s in zip(axes, chosen, configs):
            for ax, z in zip(row, zs):
                im = ax.imshow(s[z], **kw)
                ax.set_title(f"{title(i)}\nz = {z}", fontsize=7)
                ax.set_xticks([])
                ax.set_yticks([])
    if is_spins or mdl.dim == 1:
        fig.tight_layout()
    else:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="m_i")
    isingio.save_figure(fig, a.output)


if __name__ == "__main__":
    isingio.main_guard(main)
