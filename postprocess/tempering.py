#!/usr/bin/python3
"""Parallel-tempering diagnostics and the spin-glass overlap distribution P(q).

Reads /tempering (and /overlap with -pt_replica_sets 2) of a -task
tempering run; in a file with disorder samples, sample --sample (default 0),
and P(q) averaged over all samples as well.

Prints, per temperature slot t: beta, the swap acceptance of pair (t, t+1),
the up-fraction f(beta) and, with overlaps, <q^2> ± err as stored and
recomputed from the time series /overlap/q.  Then the round trips: the
file's count (whole run, thermalisation included) and the count in the
stored label history (the measured sweeps only: it can differ from the
file's by the trips completed before measuring and by at most one per
replica at the ends of the history), and the mean measured sweeps per round
trip.  With overlaps, P(q) is histogrammed from the time series with the
file's bins (bin b centred at -1 + 2b/(B-1)) and compared with
/overlap/histogram.

The figure: swap acceptance per pair, the label walk (the slot of a few
replicas vs sweep over the first measurements), f(beta), and P(q) at a few
temperatures (dashed: the disorder average, in a file with samples).

Printed lines that scripts may parse:
  slot <t>: beta = B, swap_acceptance = A, up_fraction = F[, q2 = Q +- E, q2_series = Q2]
  round trips: file = N (...), file set 0 = N0, label history = M (...)
  P(q) from the time series vs /overlap/histogram: max difference D
"""

import argparse

import numpy as np

import isingio


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", metavar="FILE", help="ising output file of -task tempering")
    ap.add_argument("-o", "--output", default="tempering.png", help="figure file (default: %(default)s)")
    ap.add_argument("--sample", help="disorder sample for the diagnostics (default: 0 in a file with samples)")
    ap.add_argument("--replicas", help="comma list of replicas (set 0) whose walk to draw (default: up to 3)")
    ap.add_argument("--walk-length", type=int,
                    help="measurements of the label walk to draw (default: about 3 mean round-trip times)")
    ap.add_argument("--slots", help="comma list of temperature slots for P(q) (default: up to 4, coldest included)")
    ap.add_argument("--bins", type=int,
                    help="bins of P(q) over [-1, 1] (default: the file's histogram bins, B = min(N + 1, 201))")
    a = ap.parse_args()
    if a.bins is not None and a.bins < 2:
        ap.error("--bins must be >= 2")
    if a.walk_length is not None and a.walk_length < 1:
        ap.error("--walk-length must be >= 1")
    return a


def int_list(text, what, n):
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise isingio.InputError(f"{what} must be a comma list of integers, got '{text}'") from None
    bad = [v for v in vals if not 0 <= v < n]
    if bad:
        raise isingio.InputError(f"{what}: {bad[0]} out of range 0 to {n - 1}")
    return vals


def slot_history(labels):
    """slot[i, r]: the slot of replica r (set 0) at measurement i, from
    labels[i, t] = the replica at slot t.  Rows that were not written
    (NaN, an unfinished run) end the history."""
    finite = np.all(np.isfinite(labels), axis=1)
    n = int(np.argmin(finite)) if not finite.all() else len(labels)
    lab = labels[:n].astype(np.int64)
    K = labels.shape[1]
    if n and not np.all(np.sort(lab, axis=1) == np.arange(K)):
        raise isingio.InputError("/tempering/labels has a row that is not a permutation of the replicas")
    slot = np.empty_like(lab)
    rows = np.arange(n)[:, None]
    slot[rows, lab] = np.arange(K)[None, :]
    return slot


def round_trips(slot, K):
    """Per replica: completed trips slot 0 -> slot K-1 -> slot 0 in the
    history (the program's rule: a trip ends on reaching slot 0 after having
    been at slot K-1 since a visit to slot 0; a replica that meets slot K-1
    before it ever met slot 0 completes none by coming down)."""
    trips = np.zeros(slot.shape[1], dtype=np.int64)
    direction = np.zeros(slot.shape[1], dtype=np.int64)  # 1 after slot 0, -1 after K-1 (after 0), -2 K-1 only
    for row in slot:
        at0, atK = row == 0, row == K - 1
        trips += at0 & (direction == -1)
        direction[at0] = 1
        direction[atK] = np.where((direction[atK] == 1) | (direction[atK] == -1), -1, -2)
    return trips


def histogram(q, bins):
    """Fraction of the measurements in each of `bins` equal bins over
    [-1, 1], bin b centred at -1 + 2b/(bins-1) (the program's binning: the
    nearest centre, a q half-way between two to the one farther from 0, so
    that q and -q land in mirror bins)."""
    q = q[np.isfinite(q)]
    if (bins - 1) % 2:
        b = np.floor((q + 1.0) * 0.5 * (bins - 1) + 0.5).astype(np.int64)
    else:
        x = q * 0.5 * (bins - 1)
        b = (bins - 1) // 2 + (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)
    return np.bincount(np.clip(b, 0, bins - 1), minlength=bins) / max(len(q), 1)


def main():
    a = parse_args()
    with isingio.open_run(a.file) as f:
        names = isingio.samples(f)
        sample = a.sample if a.sample is not None else (names[0] if names else None)
        t = isingio.group(f, "tempering", sample)
        beta = t["beta"][...]
        K = len(beta)
        acc = t["swap_acceptance"][...]
        up = t["up_fraction"][...]
        trips_file = t["round_trips_per_replica"][...]
        trips_total = float(t["round_trips"][0])
        labels = t["labels"][...]
        sets = int(t.attrs.get("replica_sets", 1))
        ts = isingio.group(f, "timeseries", sample)
        interval = int(ts.attrs.get("measure_interval", 1))
        therm = int(ts.attrs.get("thermalize", 0))
        ov = isingio.group(f, "overlap", sample, required=False)
        overlap = None
        if ov is not None:
            overlap = {k: ov[k][...] for k in ("q", "q2", "q2_err", "histogram")}
        # P(q) over all disorder samples (each sample's histogram, then the mean)
        all_q = []
        if names and ov is not None and a.sample is None:
            all_q = [f[f"samples/{s}/overlap/q"][...] for s in names]
        nsites = isingio.model(f, sample).nsites

    where = f" (sample {sample})" if sample is not None else ""
    print(f"{a.file}{where}: {K} temperatures, {sets} replica set{'s' if sets > 1 else ''}, N = {nsites}")
    q2_series = None
    if overlap is not None:
        q = overlap["q"]
        q2_series = np.nanmean(q**2, axis=0)
    for k in range(K):
        line = f"slot {k}: beta = {beta[k]:.10g}, swap_acceptance = "
        line += f"{acc[k]:.10g}" if k < K - 1 else "-"
        line += f", up_fraction = {up[k]:.10g}"
        if overlap is not None:
            line += f", q2 = {overlap['q2'][k]:.10g} +- {overlap['q2_err'][k]:.3g}, q2_series = {q2_series[k]:.10g}"
        print(line)

    slot = slot_history(labels)
    hist_trips = round_trips(slot, K)
    n_meas = slot.shape[0]
    total_hist = int(hist_trips.sum())
    per = (n_meas * interval * K / total_hist) if total_hist else float("inf")
    print(f"round trips: file = {trips_total:.0f} (all {sets * K} replicas, whole run), "
          f"file set 0 = {trips_file[:K].sum():.0f}, label history = {total_hist} "
          f"(set 0, {n_meas} measurements x {interval} sweeps)")
    print("round trips per replica (set 0): file " + " ".join(f"{v:.0f}" for v in trips_file[:K])
          + " | history " + " ".join(str(v) for v in hist_trips))
    print(f"measured sweeps per round trip per replica: {per:.4g}" + ("" if total_hist else " (no round trip)"))

    hists, hist_all = {}, None
    if overlap is not None:
        bins = a.bins or overlap["histogram"].shape[1]
        hists = np.array([histogram(overlap["q"][:, k], bins) for k in range(K)])
        if bins == overlap["histogram"].shape[1]:
            diff = float(np.max(np.abs(hists - overlap["histogram"])))
            print(f"P(q) from the time series vs /overlap/histogram: max difference {diff:.3g}")
        if all_q:
            hist_all = np.mean([[histogram(qs[:, k], bins) for k in range(K)] for qs in all_q], axis=0)
            print(f"P(q) averaged over {len(all_q)} disorder samples")
    else:
        print("no /overlap (run with -pt_replica_sets 2 for P(q))")

    walk = a.walk_length or (int(min(n_meas, max(50, 3 * per / interval))) if total_hist else n_meas)
    plot(a, beta, acc, up, slot[:walk], interval, therm, hists, hist_all)


def plot(a, beta, acc, up, slot, interval, therm, hists, hist_all):
    plt = isingio.matplotlib_pyplot()
    K = len(beta)
    panels = 4 if len(hists) else 3
    fig, axes = plt.subplots(1, panels, figsize=(4.3 * panels, 3.6))
    ax = axes[0]
    mid = 0.5 * (beta[:-1] + beta[1:])
    ax.plot(mid, acc, "o-", ms=4)
    ax.set_xlabel("β (pair midpoint)")
    ax.set_ylabel("swap acceptance")
    ax.set_ylim(0, 1.05)
    ax.set_title("swap acceptance per pair", fontsize=9)

    ax = axes[1]
    spread = lambda k: sorted(set(np.linspace(0, K - 1, min(K, k)).astype(int)))  # noqa: E731
    reps = int_list(a.replicas, "--replicas", K) if a.replicas else spread(3)
    sweeps = therm + (np.arange(slot.shape[0]) + 1) * interval
    for r in reps:
        ax.step(sweeps, slot[:, r], where="post", lw=0.7, label=f"replica {r}")
    ax.set_xlabel("sweep")
    ax.set_ylabel("slot (0 = smallest β)")
    ax.set_title("label walk", fontsize=9)
    ax.legend(fontsize=7)

    ax = axes[2]
    ax.plot(beta, up, "s-", ms=4)
    ax.set_xlabel("β")
    ax.set_ylabel("f(β) = n_up / (n_up + n_down)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("up-fraction", fontsize=9)

    if len(hists):
        ax = axes[3]
        slots = int_list(a.slots, "--slots", K) if a.slots else spread(4)
        bins = hists.shape[1]
        centres = -1 + 2 * np.arange(bins) / (bins - 1)
        width = 2.0 / (bins - 1)
        for s in slots:
            line, = ax.plot(centres, hists[s] / width, "-", lw=1, drawstyle="steps-mid", label=f"β={beta[s]:.3g}")
            if hist_all is not None:
                ax.plot(centres, hist_all[s] / width, "--", lw=1, color=line.get_color())
        ax.set_xlabel("q")
        ax.set_ylabel("P(q)")
        ax.set_title("overlap distribution" + (" (dashed: disorder average)" if hist_all is not None else ""),
                     fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    isingio.save_figure(fig, a.output)


if __name__ == "__main__":
    isingio.main_guard(main)
