"""check_output.py: the structure of an ising output file.

usage: check_output.py FILE NBETA NMEAS NSNAP DIMS [--disorder] [--random-field] [--exact]
DIMS is the lattice as written (slowest axis first), e.g. 10,12.
Checks the provenance attributes of the root, /model, the per-temperature
datasets of /observables (one finite entry per temperature), the time
series shape [measurement, temperature], the snapshots and the final state
(int8 spins of +-1 with the lattice's shape), the disorder datasets when
present, and the exact datasets when expected.  Exits 1 on any failure.
"""
import argparse
import sys

import h5py
import numpy as np

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("file")
ap.add_argument("nbeta", type=int)
ap.add_argument("nmeas", type=int)
ap.add_argument("nsnap", type=int)
ap.add_argument("dims")
ap.add_argument("--disorder", action="store_true")
ap.add_argument("--random-field", action="store_true")
ap.add_argument("--exact", action="store_true")
a = ap.parse_args()
dims = tuple(int(x) for x in a.dims.split(","))
bad = []


def expect(cond, what):
    print(("ok      " if cond else "FAILED  ") + what)
    if not cond:
        bad.append(what)


with h5py.File(a.file, "r") as f:
    for key in ["program", "version", "git_revision", "command_line", "options", "seed", "disorder_seed",
                "nranks", "process_grid", "hostname", "start_time", "finish_time", "status"]:
        expect(key in f.attrs, f"root attribute {key}")
    expect(f.attrs.get("status") == "complete", "status is complete")
    expect(f.attrs.get("program") == "ising", "program is ising")
    expect("-lattice_size" in f.attrs.get("options", ""), "options attribute holds the database")
    expect(np.prod(np.atleast_1d(f.attrs["process_grid"])) == f.attrs["nranks"], "process grid matches nranks")
    m = f["model"]
    expect(m.attrs["dim"] == len(dims), "/model dim")
    expect(tuple(np.atleast_1d(m.attrs["size"])[::-1]) == dims, "/model size (x first)")
    for key in ["bc", "couplings", "field", "field_sigma"]:
        expect(key in m.attrs, f"/model attribute {key}")
    o = f["observables"]
    for name in ["beta", "energy", "energy_err", "magnetization", "magnetization_err", "abs_magnetization",
                 "abs_magnetization_err", "m2", "m2_err", "m4", "m4_err", "binder", "binder_err", "specific_heat",
                 "specific_heat_err", "susceptibility", "susceptibility_err", "tau_int_energy",
                 "tau_int_abs_magnetization", "acceptance", "measurements", "bins"]:
        expect(name in o and o[name].shape == (a.nbeta,) and np.all(np.isfinite(o[name][:])),
               f"/observables/{name}: {a.nbeta} finite entries")
    expect(np.all(o["measurements"][:] == a.nmeas), "measurements per temperature")
    for name in ["energy", "magnetization"]:
        ts = f["timeseries"][name]
        expect(ts.shape == (a.nmeas, a.nbeta) and np.all(np.isfinite(ts[:])), f"/timeseries/{name} shape")
    e = f["timeseries/energy"][:]
    expect(np.allclose(e.mean(axis=0), o["energy"][:], rtol=0, atol=3 * np.max(o["energy_err"][:]) + 1e-12),
           "time-series mean matches the energy estimate")
    st = f["state/spins"]
    expect(st.dtype == np.int8 and st.shape == dims and set(np.unique(st[:])) <= {-1, 1}, "/state/spins")
    if a.nsnap:
        sp = f["snapshots/spins"]
        expect(sp.dtype == np.int8 and sp.shape == (a.nsnap,) + dims, "/snapshots/spins shape and type")
        expect(set(np.unique(sp[:])) <= {-1, 1}, "snapshots hold +-1 only")
        expect(f["snapshots/sweep"].shape == (a.nsnap,) and f["snapshots/beta"].shape == (a.nsnap,),
               "/snapshots/sweep and /snapshots/beta")
        expect(np.array_equal(sp[-1], st[:]), "the last snapshot is the final state")
    else:
        expect("snapshots" not in f, "no snapshots group")
    expect(("bonds" in m) == a.disorder, "/model/bonds present iff disordered")
    if a.disorder:
        expect(m["bonds"].shape == (len(dims),) + dims, "/model/bonds shape [dim, ...]")
    expect(("fields" in m) == a.random_field, "/model/fields present iff random field")
    expect(("energy_exact" in o) == a.exact, "exact values present iff expected")
    if a.exact:
        expect(np.all(np.isfinite(f["free_energy/lnZ_exact"][:])), "/free_energy/lnZ_exact finite")
        expect(np.array_equal(f["free_energy/beta"][:], o["beta"][:]), "/free_energy/beta")
print(f"{len(bad)} failure(s)")
sys.exit(1 if bad else 0)
