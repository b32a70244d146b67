"""check_checkpoint.py FILE: FILE is a complete, readable checkpoint.

Opens it with h5py (independently of the program's own reader), checks the
root attributes that identify a checkpoint, and recomputes the checksum of
every dataset: the sum mod 2^64 over elements of
fmix(fmix(index + 0x9e3779b97f4a7c15) ^ bits), index the row-major position,
bits the element's bytes (1-byte elements zero-extended), fmix the
splitmix64 finaliser (src/checkpoint.c).  Exit status 0 when all hold."""
import sys

import h5py
import numpy as np

U = np.uint64


def fmix(z):
    z = (z ^ (z >> U(30))) * U(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> U(27))) * U(0x94D049BB133111EB)
    return z ^ (z >> U(31))


def checksum(data):
    flat = np.ascontiguousarray(data).reshape(-1)
    bits = flat.view(np.uint8 if flat.dtype.itemsize == 1 else np.uint64).astype(U)
    index = np.arange(flat.size, dtype=U)
    with np.errstate(over="ignore"):
        return int(np.sum(fmix(fmix(index + U(0x9E3779B97F4A7C15)) ^ bits), dtype=U))


def main(path):
    problems, count = [], 0
    with h5py.File(path, "r") as f:
        for key, want in (("program", "ising"), ("content", "checkpoint")):
            if f.attrs.get(key) != want:
                problems.append(f"root attribute {key} is {f.attrs.get(key)!r}, expected {want!r}")
        for key in ("format_version", "run_id", "task", "tasks_done", "restarts"):
            if key not in f.attrs:
                problems.append(f"root attribute {key} missing")
        if "output" not in f or "params" not in f or str(f.attrs.get("task")) not in f:
            problems.append("/output, /params or the task's state group missing")

        def visit(name, obj):
            nonlocal count
            if isinstance(obj, h5py.Dataset):
                count += 1
                if "checksum" not in obj.attrs:
                    problems.append(f"/{name}: no checksum")
                elif checksum(obj[()]) != int(obj.attrs["checksum"]):
                    problems.append(f"/{name}: checksum does not match")
        f.visititems(visit)
    for p in problems:
        print("  " + p)
    print(f"  {path}: {count} datasets checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
