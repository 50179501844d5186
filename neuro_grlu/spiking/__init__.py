"""Spiking learner on Brian2: neuron models, STDP, eligibility traces and a dopamine-like
global modulator (reward-modulated STDP, Izhikevich 2007).

Modules: :mod:`.config` (TOML definitions), :mod:`.neurons` (equations),
:mod:`.plasticity` (STDP / three-factor synapse), :mod:`.build` (explicit
``brian2.Network``), :mod:`.simulate` (chunked runs, run files), :mod:`.recording`,
:mod:`.experiments` (distal reward, STDP window). Importing this package
does not import Brian2.
"""


def import_brian2():
    """Import and return ``brian2`` without importing matplotlib.

    Brian2's ``__init__`` runs ``from pylab import *`` (importing matplotlib and its
    pyplot, about a second of a warm start that never plots); with ``pylab`` marked as
    missing during that import it falls back to its NumPy-only imports (its documented
    path without matplotlib). Nothing in this package uses Brian2's matplotlib names.
    A no-op when Brian2 (or pylab) is already imported.
    """
    import sys

    if "brian2" in sys.modules:
        return sys.modules["brian2"]
    block = "pylab" not in sys.modules
    if block:
        sys.modules["pylab"] = None  # `import pylab` raises ImportError
    try:
        import brian2
    finally:
        if block and sys.modules.get("pylab", 0) is None:
            del sys.modules["pylab"]
    return brian2
