"""digitlab's exception types.

Every error a user can cause is a :class:`DigitlabError`. Each carries the sysexits code the CLI
exits with (see ``BAD-INPUTS.md``) and subclasses the builtin a Python caller would expect, so
``except ValueError`` or ``except FileNotFoundError`` still catch them.
"""

from __future__ import annotations

# sysexits(3) codes; 2 stays click's usage error.
EX_DATAERR = 65
EX_NOINPUT = 66
EX_UNAVAILABLE = 69
EX_SOFTWARE = 70
EX_OSERR = 71
EX_CANTCREAT = 73
EX_IOERR = 74
EX_NOPERM = 77
EX_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EX_TERMINATED = 143  # SIGTERM (128 + SIGTERM), see digitlab._signals


class DigitlabError(Exception):
    """Base class of every error digitlab reports to a user as one line."""

    exit_code = 1


class DataError(DigitlabError, ValueError):
    """A dataset, image or model file has bad content."""

    exit_code = EX_DATAERR


class ChecksumError(DataError):
    """A file's hash does not match the known one."""


class InputMissingError(DigitlabError, FileNotFoundError):
    """An input file, folder, run or model does not exist or cannot be read."""

    exit_code = EX_NOINPUT


class OfflineError(DigitlabError, ConnectionError):
    """Data is needed from the network and the network is not there."""

    exit_code = EX_UNAVAILABLE


class CannotCreateError(DigitlabError, OSError):
    """An output or cache location cannot be created or written."""

    exit_code = EX_CANTCREAT


class NoPermissionError(DigitlabError, PermissionError):
    """Permission denied on an input or output path."""

    exit_code = EX_NOPERM


class WriteError(DigitlabError, OSError):
    """I/O failed in the middle of a write (disk full, EIO); the old file is intact."""

    exit_code = EX_IOERR


class WorkerError(DigitlabError, RuntimeError):
    """A worker process died."""

    exit_code = EX_OSERR


class ModelError(DataError):
    """A model file is corrupt, untrusted or does not fit the data."""


class ParameterError(DigitlabError, ValueError):
    """An unknown or ill-typed model parameter, model name or option value (usage error)."""

    exit_code = 2
