"""Rendering messages: Jinja2's sandbox, HTML and plain-text parts, files overriding built-ins.

A template is three files, `NAME.subject`, `NAME.html` and `NAME.txt`, looked up first in the
`templates_dir` setting and then among the built-ins. Templates are sandboxed (no attribute of
Python internals, no imports) and strict: an undefined name fails the render. A render that
fails raises `TemplateFailed` with the reason, which fails that one send, not the campaign.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from cartwise.campaigns._builtin_templates import BUILTIN_TEMPLATES
from cartwise.core.errors import CartwiseError, ConfigError


class TemplateFailed(CartwiseError):
    """A template could not be rendered for one customer."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


class Templates:
    """The templates of one run: built-ins plus the files in `directory` (which win)."""

    def __init__(self, directory: Path | None = None):
        loaders: list[jinja2.BaseLoader] = []
        if directory is not None:
            if not Path(directory).is_dir():
                raise ConfigError(f"The `templates_dir` setting names {directory}, which is not a folder.")
            loaders.append(jinja2.FileSystemLoader(str(directory)))
        loaders.append(jinja2.DictLoader(BUILTIN_TEMPLATES))
        self.env = SandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            keep_trailing_newline=True,
        )
        self._cache: dict[str, tuple[jinja2.Template, jinja2.Template, jinja2.Template]] = {}

    def names(self) -> list[str]:
        return sorted({n.rsplit(".", 1)[0] for n in self.env.list_templates() if n.endswith(".subject")})

    def check(self, name: str) -> None:
        """ConfigError about parameter `template` unless all three parts of `name` exist and compile."""
        self._parts(name)

    def _parts(self, name: str) -> tuple[jinja2.Template, jinja2.Template, jinja2.Template]:
        if name not in self._cache:
            try:
                parts = (
                    self.env.get_template(f"{name}.subject"),
                    self.env.get_template(f"{name}.html"),
                    self.env.get_template(f"{name}.txt"),
                )
                # Jinja2 keeps a template's globals as a ChainMap over the environment's and
                # copies it into every render's context, which cost about half of a message's
                # render time; the globals are fixed once loaded, so keep one plain dict.
                for part in parts:
                    part.globals = dict(part.globals)
                self._cache[name] = parts
            except jinja2.TemplateNotFound as exc:
                raise ConfigError(
                    f"{name!r} has no part {exc.name!r}; use one of {', '.join(self.names())} "
                    "or add NAME.subject, NAME.html and NAME.txt to the `templates_dir` folder.",
                    parameter="template",
                ) from exc
            except jinja2.TemplateSyntaxError as exc:
                raise ConfigError(
                    f"Template {exc.name or name!r} line {exc.lineno}: {exc.message}; fix the file."
                ) from exc
        return self._cache[name]

    def render(
        self, name: str, context: Mapping[str, Any], link: Callable[[str], str] | None = None
    ) -> Rendered:
        subject, html, text = self._parts(name)
        values = {"link": link or (lambda url: url), **context}
        try:
            return Rendered(
                subject=" ".join(subject.render(values).split()),
                html=html.render(values),
                text=text.render(values),
            )
        except Exception as exc:  # any template error is this customer's failure, with its reason
            raise TemplateFailed(f"template {name!r}: {type(exc).__name__}: {exc}") from exc
