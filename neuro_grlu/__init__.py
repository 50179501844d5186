"""neuro_grlu: learning without backpropagation, side by side on the same data and records.

The reader in two lines::

    from neuro_grlu import read_run
    run = read_run("runs/grlu-mnist-pairs1-seed42.h5"); run.plot(); run.summary(); run.table()

and for many runs ``neuro_grlu.report(["a.h5", "b.h5"])`` or ``report("runs/*.h5")`` (a list
of dicts). These names are imported on first use, so ``import neuro_grlu`` stays light.
"""

__version__ = "0.1.0"

_LAZY = {"read_run": ("app.runs", "read_run"), "Run": ("app.runs", "Run"), "report": ("app.report", "report"),
         "summary": ("app.report", "summary")}
__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
