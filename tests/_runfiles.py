"""Reading run files in tests: every dataset of one group, by path."""

import h5py


def datasets(path, group):
    """``{name: array}`` of every dataset under ``group`` of the run file at ``path`` ({} if absent)."""
    out = {}
    with h5py.File(path, "r") as f:
        if group in f:
            f[group].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out
