"""The one tree of Cartwise exceptions and warnings.

Every error a user can cause is a `CartwiseError`; the CLI turns it into a message and
exit code 2, the API into a 4xx JSON body. Messages name the argument or column, show what
was received, and say the fix.
"""

from __future__ import annotations


class CartwiseError(Exception):
    """Base class of every error a user can act on."""

    exit_code = 2


class ConfigError(CartwiseError):
    """A setting, flag or option is invalid."""


class RuleError(ConfigError):
    """An audience rule does not parse or does not fit the store; `column` (1-based) is where."""

    def __init__(self, message: str, *, column: int):
        super().__init__(message)
        self.column = column


class InputError(CartwiseError):
    """An input file or value cannot be used as given (wrong format, missing column, ...)."""


class StoreError(CartwiseError):
    """The store cannot be opened or written (locked, wrong version, corrupt)."""


class NotFoundError(CartwiseError):
    """A named thing (user, item, model, key) does not exist."""


class ModelError(CartwiseError):
    """A model cannot be fitted or used (too little data, no convergence, not fitted)."""


class SignInBusy(CartwiseError):
    """Too many password checks are running at once; the sign-in may be retried in a moment."""


class Interrupted(CartwiseError):
    """Ctrl-C stopped a command part way through; the message says what it kept."""

    exit_code = 130


class CartwiseWarning(UserWarning):
    """Base class of Cartwise warnings."""


class DataWarning(CartwiseWarning):
    """Input was accepted but looks suspicious (future timestamps, a costly conversion)."""
