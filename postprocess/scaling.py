#!/usr/bin/python3
"""Strong and weak parallel efficiency of ising from a set of runs.

Each run is an ising output file (docs/output-format.md) and, beside it,
the program's standard output with its timing table (docs/usage.md,
"Console output"): run.h5 and run.log, as jobscripts/scaling.sh writes them.
The program does not store its timers in the HDF5 file, so the log is where
the times come from; the file gives the rank count (`nranks`), the lattice
(/model `size`), the sweeps (root attribute `options`) and the status.

The time T of a run is the sum of the phases named by --phases, each the
average over ranks (default: update, halo exchange and measure, the Monte
Carlo loop; the set-up, analysis, output and exact phases stay out).  The
halo-exchange time includes waiting for slower neighbours, so load imbalance
is counted.  Several runs with the same rank count P are repeats: the
fastest is used (noise on a shared machine only ever adds time), and the
median is shown beside it.

  strong (--strong: one lattice, several P)   speedup S(P) = T(P0) / T(P) * P0
                                              efficiency E(P) = S(P) / P
  weak   (--weak: the same sites per rank)    efficiency E(P) = T(P0) / T(P)

P0 is the smallest rank count in the set (normally 1).  "updates/ns/rank"
is spin updates (sites x sweeps, thermalisation included) per nanosecond
per rank.  For a strong set the script also checks that every run gave
bit-identical energies (the program's reproducibility guarantee), so a
scaling figure never hides a wrong answer.

Prints one table per study (plain text, or Markdown with --markdown) and,
with --plot, a figure: speedup (strong) and efficiency (both) against P.
Exit status 0; 1 when the strong runs' energies differ; 2, with a one-line
message, for unusable input: a file that is not a complete ising output, a
missing log or timing table, a strong set with different lattices, a weak
set with different sites per rank, runs with different sweeps.
"""

import argparse
import math
import os
import re
import statistics
import sys

import h5py
import numpy as np


class InputError(Exception):
    """Bad input: the message says what and where."""


TIMING_HEADER = re.compile(r"^timing \(seconds over (\d+) ranks?\)")
TIMING_ROW = re.compile(r"^\s+(\S.*?)\s+([0-9.eE+-]+)\s+([0-9.eE+-]+)\s+([0-9.eE+-]+)\s*$")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strong", nargs="+", default=[], metavar="FILE", help="output files of the strong study")
    ap.add_argument("--weak", nargs="+", default=[], metavar="FILE", help="output files of the weak study")
    ap.add_argument(
        "--phases",
        default="update,halo exchange,measure",
        help="comma list of timing phases that make up T (default: %(default)s)",
    )
    ap.add_argument(
        "--log-suffix",
        default=".log",
        help="the log of X.h5 is X plus this suffix (default: %(default)s)",
    )
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    ap.add_argument("--plot", metavar="PNG", help="write the figure to this file")
    args = ap.parse_args(argv)
    if not args.strong and not args.weak:
        ap.error("give --strong FILE... and/or --weak FILE...")
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not args.phases:
        ap.error("--phases is empty")
    return args


def parse_options(text):
    """The root attribute `options` ('-name value -flag ...') as a dict."""
    tokens = text.split()
    out = {}
    i = 0
    while i < len(tokens):
        name = tokens[i]
        if re.match(r"^-[A-Za-z_]", name):
            value = None
            if i + 1 < len(tokens) and not re.match(r"^-[A-Za-z_]", tokens[i + 1]):
                value = tokens[i + 1]
                i += 1
            out[name[1:]] = value
        i += 1
    return out


def read_timing(path):
    """{phase: (min, avg, max)} and the rank count from the last timing
    table in a log."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise InputError(f"cannot read the log {path}: {err.strerror}") from None
    start = None
    for i, line in enumerate(lines):
        if TIMING_HEADER.match(line):
            start = i
    if start is None:
        raise InputError(f"{path} has no timing table (was the run -quiet, or did it fail?)")
    nranks = int(TIMING_HEADER.match(lines[start]).group(1))
    phases = {}
    for line in lines[start + 1 :]:
        m = TIMING_ROW.match(line)
        if not m:
            break
        phases[m.group(1)] = tuple(float(m.group(k)) for k in (2, 3, 4))
    return phases, nranks


class Run:
    def __init__(self, path, log_suffix, phases):
        self.path = path
        try:
            f = h5py.File(path, "r")
        except OSError as err:
            raise InputError(f"cannot open {path} as HDF5: {err}") from None
        with f:
            if f.attrs.get("program") != "ising":
                raise InputError(f"{path} is not an ising output file")
            status = f.attrs.get("status", "")
            if status != "complete":
                raise InputError(f"{path} has status '{status}', not complete")
            self.nranks = int(f.attrs["nranks"])
            self.size = tuple(int(x) for x in f["model"].attrs["size"])
            self.options = parse_options(f.attrs.get("options", ""))
            self.ntemps = len(f["observables/beta"]) if "observables/beta" in f else 1
            self.energy = np.array(f["observables/energy"]) if "observables/energy" in f else None
        base = path[:-3] if path.endswith(".h5") else path
        self.log = base + log_suffix
        self.timing, log_ranks = read_timing(self.log)
        if log_ranks != self.nranks:
            raise InputError(f"{self.log} is from {log_ranks} ranks but {path} from {self.nranks}")
        missing = [p for p in phases if p not in self.timing]
        if missing:
            have = ", ".join(self.timing) or "none"
            raise InputError(f"{self.log} has no phase {missing[0]!r} (it has: {have})")
        self.time = sum(self.timing[p][1] for p in phases)
        if self.time <= 0:
            raise InputError(f"{self.log}: T = 0 at the log's millisecond resolution; run more sweeps")
        self.sites = math.prod(self.size)
        sweeps = self.options.get("sweeps")
        therm = self.options.get("thermalize")
        self.sweeps = None
        if sweeps is not None and therm is not None:
            self.sweeps = (int(sweeps) + int(therm)) * self.ntemps


class Point:
    """The runs of one rank count."""

    def __init__(self, runs):
        self.runs = sorted(runs, key=lambda r: r.time)
        self.best = self.runs[0]
        self.p = self.best.nranks
        self.t = self.best.time
        self.median = statistics.median(r.time for r in self.runs)

    def rate(self):
        b = self.best
        if b.sweeps is None or self.t <= 0:
            return math.nan
        return b.sites * b.sweeps / self.t / self.p * 1e-9


def study(runs, kind):
    if not runs:
        return []
    sweeps = {r.sweeps for r in runs}
    if len(sweeps) > 1:
        raise InputError(f"the {kind} runs did not all run the same sweeps: {sorted(map(str, sweeps))}")
    if kind == "strong":
        sizes = {r.size for r in runs}
        if len(sizes) > 1:
            raise InputError(f"the strong runs have different lattices {sorted(sizes)}; a strong study keeps one")
    else:
        per_rank = {r.sites / r.nranks for r in runs}
        if len(per_rank) > 1:
            counts = ", ".join(f"{x:g}" for x in sorted(per_rank))
            raise InputError(f"the weak runs have different sites per rank ({counts}); a weak study keeps them fixed")
    by_p = {}
    for r in runs:
        by_p.setdefault(r.nranks, []).append(r)
    points = [Point(v) for _, v in sorted(by_p.items())]
    p0, t0 = points[0].p, points[0].t
    for pt in points:
        if kind == "strong":
            pt.speedup = t0 * p0 / pt.t
            pt.efficiency = pt.speedup / pt.p
        else:
            pt.speedup = math.nan
            pt.efficiency = t0 / pt.t
    return points


def identical_energies(runs):
    ref = runs[0].energy
    return all(
        r.energy is not None and ref is not None and r.energy.shape == ref.shape and np.array_equal(r.energy, ref)
        for r in runs
    )


def table(points, kind, phases, markdown):
    lattice = "x".join(map(str, points[0].best.size))
    sweeps = points[0].best.sweeps
    sweeps_text = f"{sweeps} sweeps per run" if sweeps is not None else "sweeps unknown"
    if kind == "strong":
        title = f"strong scaling: lattice {lattice}, {sweeps_text}"
    else:
        per_rank = points[0].best.sites // points[0].p
        title = f"weak scaling: {per_rank} sites per rank, {sweeps_text}"
    head = ["P", "lattice", "runs", "T min (s)", "T median (s)"]
    if kind == "strong":
        head.append("speedup")
    head += ["efficiency"] + [f"{p} (s)" for p in phases] + ["updates/ns/rank"]
    rows = []
    for pt in points:
        row = [str(pt.p), "x".join(map(str, pt.best.size)), str(len(pt.runs)), f"{pt.t:.3f}", f"{pt.median:.3f}"]
        if kind == "strong":
            row.append(f"{pt.speedup:.2f}")
        row.append(f"{pt.efficiency:.2f}")
        row += [f"{pt.best.timing[p][1]:.3f}" for p in phases]
        rate = pt.rate()
        row.append("-" if math.isnan(rate) else f"{rate:.3f}")
        rows.append(row)
    out = [title, ""]
    if markdown:
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join("---:" for _ in head) + "|")
        out += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        out.append("  ".join(h.rjust(w) for h, w in zip(head, widths)))
        out += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def plot(path, strong, weak):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2), dpi=100)
    allp = sorted({pt.p for pt in strong + weak})
    if strong:
        ps = [pt.p for pt in strong]
        ax1.plot(ps, [pt.speedup for pt in strong], "o-", label="measured")
        ax1.plot(ps, [p for p in ps], "k--", lw=0.8, label="ideal")
        ax1.set_title("strong: " + "x".join(map(str, strong[0].best.size)), fontsize=10)
        ax1.legend(fontsize=8)
    else:
        ax1.text(0.5, 0.5, "no strong study", ha="center", va="center", transform=ax1.transAxes)
    ax1.set_xlabel("ranks P")
    ax1.set_ylabel("speedup")
    labels = {}
    if strong:
        labels["strong"] = "strong, " + "x".join(map(str, strong[0].best.size))
    if weak:
        labels["weak"] = f"weak, {weak[0].best.sites // weak[0].p} sites/rank"
    for pts, kind in ((strong, "strong"), (weak, "weak")):
        if pts:
            label = labels[kind]
            ax2.plot([pt.p for pt in pts], [pt.efficiency for pt in pts], "o-", label=label)
    ax2.axhline(1.0, color="k", ls="--", lw=0.8)
    ax2.set_ylim(0, 1.15)
    ax2.set_xlabel("ranks P")
    ax2.set_ylabel("parallel efficiency")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        if allp and allp[-1] > 2:
            ax.set_xscale("log", base=2)
        ax.set_xticks(allp)
        ax.set_xticklabels([str(p) for p in allp])
    fig.tight_layout()
    fig.savefig(path)


def main(argv):
    args = parse_args(argv)
    strong_runs = [Run(p, args.log_suffix, args.phases) for p in args.strong]
    weak_runs = [Run(p, args.log_suffix, args.phases) for p in args.weak]
    strong = study(strong_runs, "strong")
    weak = study(weak_runs, "weak")
    phases_text = " + ".join(args.phases)
    print(f"T = {phases_text} (average over ranks), fastest of the repeats")
    for points, kind in ((strong, "strong"), (weak, "weak")):
        if points:
            print()
            print(table(points, kind, args.phases, args.markdown))
    if strong_runs:
        same = identical_energies(strong_runs)
        print()
        print(f"strong runs give bit-identical energies on every rank count: {'yes' if same else 'NO'}")
    if args.plot:
        plot(args.plot, strong, weak)
        print(f"\nwrote {args.plot}")
    return 0 if not strong_runs or identical_energies(strong_runs) else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except InputError as err:
        print(f"{os.path.basename(sys.argv[0])}: error: {err}", file=sys.stderr)
        sys.exit(2)
