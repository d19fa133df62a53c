"""The one tree of Cartwise exceptions and warnings.

Every error a user can cause is a `CartwiseError`; the CLI turns it into a message and
exit code 2, the API into a 4xx JSON body. Messages show what was received and say the fix.

An error about one parameter carries it in `parameter`, by its Python and API name
(`min_support`), and its message does not name it: each surface words the name in its own
terms (`render`): the CLI as the option that maps to it (`--min-support`), the API as
`min_support` (also in the body's `parameter` key). `str(error)` is the API's wording.
A hint that names other parameters writes each as `python_name` does (in backticks) and
lists them in `mentions`, so each surface words those too (the CLI: "pass `delimiter` ';'"
becomes "pass --delimiter ';'").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def python_name(parameter: str) -> str:
    """How the library and the API name a parameter in a message: in backticks."""
    return f"`{parameter}`"


def reword(text: str, mentions: Iterable[str], name: Callable[[str], str] = python_name) -> str:
    """`text` with each parameter of `mentions`, written as `python_name(p)`, named `name(p)`.

    The one place a surface renames the parameters a message declares it mentions (an error's
    or a warning's `mentions`, or the names a stored message such as a quarantine reason may
    hold); nothing else in a message is touched."""
    for parameter in mentions:
        text = text.replace(python_name(parameter), name(parameter))
    return text


class CartwiseError(Exception):
    """Base class of every error a user can act on.

    `message` says what is wrong and the fix without naming the parameter; `parameter`, when
    given, is the Python/API name of the argument it is about (e.g. `min_support`)."""

    exit_code = 2
    code = "error"
    """A stable word for the kind of error (the `error` key of the CLI's and the API's JSON)."""

    def __init__(
        self, message: str = "", *, parameter: str | None = None, mentions: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter
        self.mentions = mentions

    def render(self, name: Callable[[str], str] = python_name) -> str:
        """The message for a surface whose name for a parameter is `name(parameter)`; the
        parameters in `mentions`, written in the message as `python_name(p)`, are renamed too."""
        text = reword(self.message, self.mentions, name)
        if self.parameter is None:
            return text
        return f"{name(self.parameter)}: {text}"

    def __str__(self) -> str:
        return self.render()


class ConfigError(CartwiseError):
    """A setting, flag or option is invalid."""

    code = "config_error"


class RuleError(ConfigError):
    """An audience rule does not parse or does not fit the store; `column` (1-based) is where."""

    def __init__(self, message: str, *, column: int):
        super().__init__(message)
        self.column = column


class InputError(CartwiseError):
    """An input file or value cannot be used as given (wrong format, missing column, ...)."""

    code = "input_error"


class StoreError(CartwiseError):
    """The store cannot be opened or written (locked, wrong version, corrupt)."""

    code = "store_error"


class QueryTimeout(CartwiseError):
    """A read ran past the `read_timeout_seconds` limit and was interrupted; `parameter` names
    the request parameter that narrows it (the API answers 504)."""

    code = "query_timeout"


class NotFoundError(CartwiseError):
    """A named thing (user, item, model, key) does not exist."""

    code = "not_found"


class ModelError(CartwiseError):
    """A model cannot be fitted or used (too little data, no convergence, not fitted)."""

    code = "model_error"


class SignInBusy(CartwiseError):
    """Too many password checks are running at once; the sign-in may be retried in a moment."""


class Interrupted(CartwiseError):
    """Ctrl-C stopped a command part way through; the message says what it kept."""

    exit_code = 130
    code = "interrupted"


class CartwiseWarning(UserWarning):
    """Base class of Cartwise warnings.

    Like an error's hint, a warning that names parameters writes each as `python_name` does
    and lists them in `mentions`; `str(warning)` is the library's and the API's wording, and
    the CLI prints `render` with the options of the command that ran (`--strict`)."""

    def __init__(self, message: str = "", *, mentions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.mentions = mentions

    def render(self, name: Callable[[str], str] = python_name) -> str:
        """The message with the parameters of `mentions` named `name(parameter)`."""
        return reword(self.message, self.mentions, name)

    def __str__(self) -> str:
        return self.render()


class DataWarning(CartwiseWarning):
    """Input was accepted but looks suspicious (future timestamps, a costly conversion)."""
