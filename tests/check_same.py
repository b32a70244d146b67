"""check_same.py A B: the two output files hold the same results, bit for bit.

Every group, dataset and attribute of A is in B and the other way round;
datasets have the same type, shape and bytes; attributes the same values.
Only the attributes that describe an invocation rather than its results
may differ: at the root command_line, options, nranks, process_grid,
balance, process_cuts_x/y/z, rank_speeds, rebalances, hostname, start_time, finish_time, git_revision, version, run_id, restarts;
in a /tempering group the layout, ranks_per_replica and replicas_per_group;
in a /samples/<s> group (tempering disorder samples) rebalances.
Prints each difference; exit status 0 when there is none."""
import sys

import h5py
import numpy as np

ROOT_PROVENANCE = {"command_line", "options", "nranks", "process_grid", "balance", "process_cuts_x", "process_cuts_y",
                   "process_cuts_z", "rank_speeds", "rebalances", "hostname", "start_time", "finish_time", "git_revision", "version",
                   "run_id", "restarts"}
LAYOUT = {"ranks_per_replica", "replicas_per_group"}


def ignored(path, name):
    if path == "/":
        return name in ROOT_PROVENANCE
    if name == "rebalances" and path.startswith("/samples/") and path.count("/") == 2:
        return True  # a tempering disorder sample's own count of block moves
    return path.split("/")[-1] == "tempering" and name in LAYOUT


def as_bytes(v):
    if isinstance(v, (bytes, str)):
        return v.encode() if isinstance(v, str) else v
    a = np.asarray(v)
    return a.dtype.str.encode() + str(a.shape).encode() + a.tobytes()


def objects(f):
    out = {"/": f}
    f.visititems(lambda name, obj: out.__setitem__("/" + name, obj))
    return out


def main(a_path, b_path):
    diffs = []
    with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
        oa, ob = objects(a), objects(b)
        for path in sorted(set(oa) ^ set(ob)):
            diffs.append(f"{path}: only in {'A' if path in oa else 'B'}")
        for path in sorted(set(oa) & set(ob)):
            x, y = oa[path], ob[path]
            if isinstance(x, h5py.Dataset) != isinstance(y, h5py.Dataset):
                diffs.append(f"{path}: a dataset in one file only")
                continue
            if isinstance(x, h5py.Dataset):
                if x.dtype != y.dtype or x.shape != y.shape:
                    diffs.append(f"{path}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
                elif x[()].tobytes() != y[()].tobytes():
                    diffs.append(f"{path}: contents differ")
            names = {n for n in set(x.attrs) | set(y.attrs) if not ignored(path, n)}
            for n in sorted(names):
                if n not in x.attrs or n not in y.attrs:
                    diffs.append(f"{path} attribute {n}: in one file only")
                elif as_bytes(x.attrs[n]) != as_bytes(y.attrs[n]):
                    diffs.append(f"{path} attribute {n}: {x.attrs[n]!r} vs {y.attrs[n]!r}")
    for d in diffs:
        print("  " + d)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
