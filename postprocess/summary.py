#!/usr/bin/python3
"""A summary of any ising output file as a Markdown or CSV table.

Walks the whole file (any task, disorder samples included) and reports
  - attributes: every attribute of the root and of every group/dataset;
  - estimates: every 1-D per-temperature dataset X of a group with a `beta`
    dataset, one row per temperature, with X_err as its error and X_exact
    as its exact value where those exist (so /free_energy/lnZ comes with
    lnZ_err and lnZ_exact);
  - values: the other 1-D datasets of at most 64 entries (e.g.
    /ground_state/energy, /tempering/swap_acceptance), one row per entry,
    with X_err / X_exact likewise;
  - arrays: everything else (time series, spins, histograms), by shape.

--format md (default) prints a Markdown document: an attribute table, then
per group a table with one row per beta and one column per quantity
("value ± error", the exact value in its own column).  --format csv prints
one table with the columns
  kind,group,name,index,beta,value,error,exact
(kind: attribute, estimate, value or array; numbers in full precision,
empty where absent; arrays give their shape in `value`), for scripts.
"""

import argparse
import csv
import sys

import h5py
import numpy as np

import isingio

MAX_VALUES = 64  # other 1-D datasets longer than this are listed as arrays


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", metavar="FILE", help="ising output file")
    ap.add_argument("--format", choices=("md", "csv"), default="md", help="output format (default: %(default)s)")
    ap.add_argument("--group", help="only groups whose path starts with this, e.g. observables or samples/0")
    ap.add_argument("-o", "--output", help="write to this file instead of standard output")
    return ap.parse_args()


def attr_text(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return ",".join(attr_text(x) for x in v.tolist())
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, (np.integer,)):
        return str(int(v))
    return str(v)


def collect(f, only):
    """(attributes, groups, arrays): attributes as (path, name, text);
    groups as {path: (beta or None, estimates, values)}, each a list of
    (name, value, err, exact); arrays as (path, shape, dtype)."""
    prefix = only.strip("/") if only else ""
    inside = lambda name: not prefix or name == prefix or name.startswith(prefix + "/")  # noqa: E731
    attrs = [("/", k, attr_text(f.attrs[k])) for k in sorted(f.attrs)]
    groups, arrays = {}, []

    def visit(name, obj):
        if not inside(name):
            return
        path = "/" + name
        for k in sorted(obj.attrs):
            attrs.append((path, k, attr_text(obj.attrs[k])))
        if not isinstance(obj, h5py.Group):
            return
        beta = obj["beta"][...].astype(float) if "beta" in obj and obj["beta"].ndim == 1 else None
        est, vals = [], []
        names = set(obj.keys())
        for k in sorted(names):
            ds = obj[k]
            if not isinstance(ds, h5py.Dataset):
                continue
            numeric_1d = ds.ndim == 1 and np.issubdtype(ds.dtype, np.number)
            per_beta = numeric_1d and beta is not None and ds.shape[0] == len(beta)
            short = numeric_1d and not per_beta and ds.shape[0] <= MAX_VALUES
            if not (per_beta or short):
                arrays.append((path + "/" + k, ds.shape, str(ds.dtype)))
                continue
            if k == "beta" or (k.endswith("_err") and k[:-4] in names) or (k.endswith("_exact") and k[:-6] in names):
                continue
            v = ds[...].astype(float)
            e = obj[k + "_err"][...].astype(float) if k + "_err" in names else None
            x = obj[k + "_exact"][...].astype(float) if k + "_exact" in names else None
            e = e if e is not None and e.shape == v.shape else None
            x = x if x is not None and x.shape == v.shape else None
            (est if per_beta else vals).append((k, v, e, x))
        if est or vals:
            groups[path] = (beta, est, vals)

    f.visititems(visit)
    return attrs, groups, arrays


def num(v):
    return "" if v is None else repr(float(v))


def write_csv(out, attrs, groups, arrays):
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["kind", "group", "name", "index", "beta", "value", "error", "exact"])
    for path, k, text in attrs:
        w.writerow(["attribute", path, k, "", "", text, "", ""])
    for path, (beta, est, vals) in groups.items():
        for kind, rows in (("estimate", est), ("value", vals)):
            for k, v, e, x in rows:
                for i in range(len(v)):
                    w.writerow([kind, path, k, i, num(beta[i]) if kind == "estimate" else "", num(v[i]),
                                "" if e is None else num(e[i]), "" if x is None else num(x[i])])
    for path, shape, dtype in arrays:
        group, name = path.rsplit("/", 1)
        w.writerow(["array", group or "/", name, "", "", "x".join(str(s) for s in shape) + " " + dtype, "", ""])


def md_escape(text):
    return text.replace("|", "\\|").replace("\n", " ")


def write_md(out, fname, attrs, groups, arrays):
    p = lambda s="": print(s, file=out)  # noqa: E731
    p(f"# {fname}")
    p()
    p("## Attributes")
    p()
    p("| object | attribute | value |")
    p("|---|---|---|")
    for path, k, text in attrs:
        p(f"| `{path}` | {k} | {md_escape(text)} |")
    for path, (beta, est, vals) in groups.items():
        p()
        p(f"## `{path}`")
        if est:
            cols = []
            for k, v, e, x in est:
                cols.append((k, v, e))
                if x is not None and np.any(np.isfinite(x)):
                    cols.append((k + " (exact)", x, None))
            p()
            p("| β | " + " | ".join(c[0] for c in cols) + " |")
            p("|---" * (len(cols) + 1) + "|")
            for i in range(len(beta)):
                cells = [isingio.fmt_err(v[i], None if e is None else e[i]) for _, v, e in cols]
                p(f"| {beta[i]:.6g} | " + " | ".join(cells) + " |")
        if vals:
            p()
            p("| quantity | index | value | exact |")
            p("|---|---|---|---|")
            for k, v, e, x in vals:
                for i in range(len(v)):
                    exact = "" if x is None else isingio.fmt_err(x[i], None)
                    p(f"| {k} | {i} | {isingio.fmt_err(v[i], None if e is None else e[i])} | {exact} |")
    if arrays:
        p()
        p("## Arrays")
        p()
        p("| dataset | shape | type |")
        p("|---|---|---|")
        for path, shape, dtype in arrays:
            p(f"| `{path}` | {' x '.join(str(s) for s in shape)} | {dtype} |")


def main():
    a = parse_args()
    with isingio.open_run(a.file) as f:
        attrs, groups, arrays = collect(f, a.group)
    if a.group and not groups and not any(p.startswith("/" + a.group.strip("/")) for p, _, _ in arrays):
        raise isingio.InputError(f"no group of {a.file} starts with '{a.group}'")
    out = sys.stdout
    if a.output:
        try:
            out = open(a.output, "w", newline="")
        except OSError as err:
            raise isingio.InputError(f"cannot write {a.output}: {err}") from None
    if a.format == "csv":
        write_csv(out, attrs, groups, arrays)
    else:
        write_md(out, a.file, attrs, groups, arrays)
    if a.output:
        out.close()


if __name__ == "__main__":
    isingio.main_guard(main)
