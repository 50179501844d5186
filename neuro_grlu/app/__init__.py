"""The application layer: command line, sweeps, reports and figure dispatch.

Layers, top to bottom (``docs/architecture.md``; enforced by ``lint-imports``)::

    app      neuro_grlu.app (cli, sweep, report, figures, runs), the old-path shims
    kinds    neuro_grlu.kinds: the registry of run kinds
    ...      the kinds' implementations (cls; spiking | rate), figures, io | data, core
"""
