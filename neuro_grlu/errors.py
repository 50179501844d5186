"""User-facing errors.

Every error a user can cause (bad config, missing data, corrupt run file, impossible
parameter) is a :class:`NeuroGRLUError`. Its message is one line that says what is wrong
and how to fix it; the command line prints exactly that line and exits with status 2,
without a traceback. Programming errors stay ordinary Python exceptions.
"""


class NeuroGRLUError(Exception):
    """Base class for errors caused by user input (printed as one line by the CLI)."""


class ConfigError(NeuroGRLUError, ValueError):
    """A model/experiment definition or parameter is unknown, missing or impossible."""


class DataError(NeuroGRLUError):
    """A data file is missing, truncated, corrupt or fails its checksum."""


class RunFileError(NeuroGRLUError):
    """A run file (HDF5) is missing, unreadable, of another schema or already exists."""


class DivergenceError(NeuroGRLUError):
    """Training diverged (non-finite weights or reward, or a reward collapse); the run file is
    marked ``"diverged"`` and keeps the last good epoch."""
