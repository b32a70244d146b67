"""isingio: reading the HDF5 files that the ising program writes.

Shared by the scripts in postprocess/ (they import it from their own
directory).  The file layout is docs/output-format.md; this module only
reads, never writes.

  open_run(path)              the file, read-only, after checking that it is
                              an ising output and not a checkpoint (a
                              warning if its status is not `complete`)
  samples(f)                  the disorder-sample names under /samples
                              (empty for a single-sample run)
  run_root(f, sample)         the file, or its group /samples/<sample>
  group(f, name, sample)      /name, or /samples/<sample>/name
  model(f, sample)            lattice, couplings and fields as a Model
  read_series(g)              the per-temperature datasets of a group as
                              float arrays (those as long as its `beta`)
  spins_energy(model, s)      H/N of a configuration (the program's H)
  fmt_err(v, e)               "v ± e" rounded to the error's two digits
  matplotlib_pyplot()         pyplot on the Agg backend (no display)
  main_guard(main)            runs main(); an InputError or an unreadable
                              file ends the script with a one-line message
                              and exit status 2
"""

import math
import os
import sys

import h5py
import numpy as np


class InputError(Exception):
    """Bad input to a script: the message says what and where."""


def script_name():
    return os.path.basename(sys.argv[0]) or "postprocess"


def warn(msg):
    print(f"{script_name()}: warning: {msg}", file=sys.stderr)


def open_run(path):
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise InputError(f"cannot open {path} as HDF5: {err}") from None
    if f.attrs.get("program") != "ising":
        f.close()
        raise InputError(f"{path} is not an ising output file (no root attribute program = ising)")
    if f.attrs.get("content") == "checkpoint":
        f.close()
        raise InputError(f"{path} is a checkpoint, not an output file: continue the run with -restart {path}, "
                         "then read its -output")
    status = f.attrs.get("status", "")
    if status == "interrupted":
        warn(f"{path} is the output of an interrupted run: it holds only what was finished (continue the run "
             "with -restart <its checkpoint>); NaN entries and missing groups are results it did not produce")
    elif status != "complete":
        warn(f"{path} has status '{status}': NaN entries are results the run did not produce")
    return f


def samples(f):
    if "samples" not in f:
        return []
    return sorted(f["samples"].keys(), key=int)


def group(f, name, sample=None, required=True):
    """The group /name of the run, or of disorder sample `sample`.

    In a multi-sample file the per-sample groups live only under
    /samples/<s>; without `sample` they are looked up at the top level and,
    if absent there, the error says which samples exist."""
    path = name if sample is None else f"samples/{sample}/{name}"
    if path in f:
        return f[path]
    if not required:
        return None
    hint = ""
    if sample is None and samples(f) and f"samples/{samples(f)[0]}/{name}" in f:
        hint = f" (this file holds disorder samples {', '.join(samples(f))}: choose one with --sample)"
    elif sample is not None and sample not in samples(f):
        hint = f" (samples in the file: {', '.join(samples(f)) or 'none'})"
    raise InputError(f"{f.filename} has no /{path}{hint}")


def run_root(f, sample=None):
    """The file itself, or the group /samples/<sample> of a disorder sample."""
    if sample is None:
        return f
    if sample not in samples(f):
        raise InputError(f"{f.filename} has no disorder sample {sample} (samples: {', '.join(samples(f)) or 'none'})")
    return f[f"samples/{sample}"]


class Model:
    """The lattice and its couplings: size is (x, y, z)[:dim], arrays are
    in the file's [(z,) (y,) x] order; bonds[d] is the bond from each site
    to its +d neighbour (0 across an open boundary)."""

    def __init__(self, f, sample=None):
        m = f["model"]
        self.dim = int(m.attrs["dim"])
        self.size = tuple(int(v) for v in np.atleast_1d(m.attrs["size"]))
        self.shape = self.size[::-1]
        self.nsites = int(np.prod(self.size))
        self.bc = str(m.attrs["bc"]).split(",")
        if len(self.bc) == 1:
            self.bc = self.bc * self.dim
        self.couplings = str(m.attrs["couplings"])
        self.field = float(m.attrs["field"])
        self.field_sigma = float(m.attrs["field_sigma"])
        self.attrs = {k: m.attrs[k] for k in m.attrs}
        mg = group(f, "model", sample) if sample is not None else m
        self.bonds = None  # unknown: disorder without /model/bonds (a multi-sample file's top level)
        if "bonds" in mg:
            self.bonds = mg["bonds"][...]
        elif self.couplings == "uniform":
            J = np.atleast_1d(m.attrs["J"]).astype(float)
            self.bonds = np.empty((self.dim,) + self.shape)
            for d in range(self.dim):
                self.bonds[d] = J[d]
                if self.bc[d] == "open":
                    # axis d of the [(z,) (y,) x] array is dim - 1 - d
                    last = [slice(None)] * self.dim
                    last[self.dim - 1 - d] = -1
                    self.bonds[d][tuple(last)] = 0.0
        if "fields" in mg:
            self.fields = mg["fields"][...]
        elif self.field_sigma == 0:
            self.fields = np.full(self.shape, self.field)
        else:
            self.fields = None  # random fields of a sample not chosen

    def label(self):
        if len(set(self.size)) == 1:
            return f"L={self.size[0]}"
        return "x".join(str(v) for v in self.size)

    def key(self):
        """What must agree for two files to be points of one curve."""
        return tuple(sorted((k, str(np.asarray(v).tolist())) for k, v in self.attrs.items()))


def model(f, sample=None):
    return Model(f, sample)


def spins_energy(mdl, s):
    """H/N = -(sum_<ij> J_ij s_i s_j + sum_i h_i s_i)/N of spins s in the
    file's axis order, with the bonds and fields of the model."""
    s = np.asarray(s, dtype=float)
    if mdl.bonds is None or mdl.fields is None:
        raise InputError("the bonds or fields of this disordered model are not at the top level of the file "
                         "(choose a disorder sample)")
    if s.shape != mdl.shape:
        raise InputError(f"configuration of shape {s.shape} does not match the lattice {mdl.shape}")
    e = -np.sum(mdl.fields * s)
    for d in range(mdl.dim):
        e -= np.sum(mdl.bonds[d] * s * np.roll(s, -1, axis=mdl.dim - 1 - d))
    return e / mdl.nsites


def read_series(g):
    """{name: float array} of the 1-D datasets of group g that have one entry
    per temperature (the length of g/beta; every 1-D dataset if g has no beta)."""
    n = g["beta"].shape[0] if "beta" in g else None
    out = {}
    for name, ds in g.items():
        if isinstance(ds, h5py.Dataset) and ds.ndim == 1 and (n is None or ds.shape[0] == n):
            out[name] = ds[...].astype(float)
    return out


def fmt_err(v, e, digits=2):
    """v ± e with e rounded to `digits` significant digits and v to the same
    decimal place; plain %.10g when the error is 0, NaN or missing."""
    if v is None or not np.isfinite(v):
        return "nan"
    if e is None or not np.isfinite(e) or e <= 0:
        return f"{v:.10g}"
    place = digits - 1 - int(math.floor(math.log10(e)))
    place = max(place, 0)
    return f"{v:.{place}f} ± {e:.{place}f}"


def matplotlib_pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path):
    try:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    except (OSError, ValueError) as err:
        raise InputError(f"cannot write the figure {path}: {err}") from None
    print(f"figure: {path}")


def main_guard(main):
    try:
        main()
    except InputError as err:
        print(f"{script_name()}: {err}", file=sys.stderr)
        sys.exit(2)
    except (OSError, KeyError) as err:
        print(f"{script_name()}: unreadable input: {err}", file=sys.stderr)
        sys.exit(2)
