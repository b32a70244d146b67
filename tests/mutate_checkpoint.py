"""mutate_checkpoint.py IN OUT SEED: a copy of checkpoint IN with one hostile change.

Picks (from SEED, reproducibly) one dataset of the engine's state group, or
a root attribute, and sets one element, a few elements or all
of it to extreme or random values; then recomputes the checksum attribute
of the dataset (tests/check_checkpoint.py), so that the program's checksum
test passes and its range checks are exercised.  Prints what it changed."""
import shutil
import sys
import zlib

import h5py
import numpy as np

from check_checkpoint import checksum

INT_VALUES = [0, -1, 1, 2, 3, -2, 2**31 - 1, 2**31, -(2**31), 2**32, 2**62, -(2**62), 2**63 - 1, -(2**63)]
REAL_VALUES = [0.0, -0.0, -1.0, 1.0, 0.5, 1e300, -1e300, 1e-310, float("nan"), float("inf"), float("-inf"), 1e6, -1e6]
SPIN_VALUES = [0, 2, -2, 127, -128, 3]


def main(src, dst, seed):
    rng = np.random.default_rng(zlib.crc32(seed.encode()))
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        task = str(f.attrs["task"])
        names = []
        f[task].visititems(lambda n, o: names.append(f"{task}/{n}") if isinstance(o, h5py.Dataset) else None)
        if rng.random() < 0.15:  # a root attribute of the identity instead
            key = str(rng.choice(["restarts", "format_version", "tasks_done", "task"]))
            old = f.attrs[key]
            if isinstance(old, (str, bytes)):
                new = str(rng.choice(["", "mc", "tempering,anneal", "x" * 300, "quench"]))
            else:
                new = np.int64(rng.choice(INT_VALUES))
            f.attrs[key] = new
            print(f"root attribute {key}: {old!r} -> {new!r}")
            return 0
        name = names[rng.integers(len(names))]
        d = f[name]
        data = d[()]
        flat = data.reshape(-1)
        if flat.size == 0:
            print(f"/{name}: empty, unchanged")
            return 0
        mode = rng.choice(["one", "few", "all"], p=[0.6, 0.25, 0.15])
        count = 1 if mode == "one" else min(flat.size, int(rng.integers(2, 8))) if mode == "few" else flat.size
        where = rng.choice(flat.size, size=count, replace=False)
        if data.dtype == np.int8:
            pool = SPIN_VALUES
        elif data.dtype.kind in "iu":
            pool = INT_VALUES
        else:
            pool = REAL_VALUES
        values = [pool[rng.integers(len(pool))] for _ in where]
        if data.dtype.kind in "iu":
            info = np.iinfo(data.dtype)
            values = [min(max(v, info.min), info.max) for v in values]
        flat[where] = np.array(values, dtype=data.dtype)
        d[...] = data
        d.attrs["checksum"] = np.uint64(checksum(data))
        shown = ", ".join(f"[{w}]={v}" for w, v in list(zip(where, values))[:4])
        print(f"/{name} ({data.dtype}{list(data.shape)}), {mode}: {shown}{' ...' if count > 4 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
