"""The audience rule language: a tokenizer and a recursive-descent parser (never `eval`).

Grammar (keywords are lower case; every error carries the 1-based column it is about):

    rule       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" rule ")" | condition
    condition  := FIELD op value | FIELD ["not"] "in" "[" value ("," value)* "]"
                | "did" "(" event options ")"
                | "count" "(" event options ")" op NUMBER
                | "dropped" "(" event (">" event)+ options ")"
    options    := ("," ("within" "=" DURATION | "category" "=" TEXT | "item" "=" TEXT))*
    op         := "<" | "<=" | ">" | ">=" | "==" | "!="
    value      := NUMBER | TEXT | "true" | "false" | "null"
    DURATION   := a positive whole number and a unit, one of s, m, h, d, w (`90m`, `3d`, `2w`)

An event is a bare name (`add_to_cart`) or a quoted text (`"newsletter signup"`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cartwise.core.errors import RuleError

UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
OPS = ("<=", ">=", "==", "!=", "<", ">")
BEHAVIOURS = ("did", "count", "dropped")
OPTIONS = ("within", "category", "item")
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_LITERALS = {"true": True, "false": False, "null": None}
MAX_RULE_CHARS = 4_000
MAX_DEPTH = 50
MAX_WINDOW_SECONDS = 36_525 * 86_400

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      |(?P<duration>\d+(?![eE][-+]?\d)[A-Za-z_]\w*)
      |(?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
      |(?P<text>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      |(?P<name>[A-Za-z_]\w*)
      |(?P<op><=|>=|==|!=|<|>|=)
      |(?P<punct>[()\[\],])""",
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str  # duration, number, text, name, op, punct, end
    text: str
    column: int  # 1-based
    value: object = None


@dataclass(frozen=True)
class Field:
    """A profile field compared with a value: `p_alive < 0.3`, `country in ["DE", "AT"]`."""

    name: str
    op: str  # one of OPS, or "in" / "not in"
    values: tuple[object, ...]
    column: int
    value_column: int


@dataclass(frozen=True)
class Behaviour:
    """`did(...)`, `count(...) op n` or `dropped(a > b > ...)` over the events in a window."""

    kind: str  # did, count, dropped
    events: tuple[str, ...]
    event_columns: tuple[int, ...]
    within: int | None  # seconds; None: all history up to `now`
    category: str | None = None
    item: str | None = None
    op: str | None = None  # count only
    number: float | None = None  # count only
    column: int = 0


@dataclass(frozen=True)
class Not:
    part: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # and, or
    parts: tuple[Node, ...] = field(default_factory=tuple)


Node = Field | Behaviour | Not | BoolOp


def _fail(rule: str, column: int, message: str) -> RuleError:
    pointer = " " * (column - 1) + "^"
    return RuleError(f"Rule at column {column}: {message}\n  {rule}\n  {pointer}", column=column)


def tokenize(rule: str) -> list[Token]:
    """The rule's tokens, ending with an `end` token; RuleError at the first character that fits none."""
    tokens: list[Token] = []
    position = 0
    while position < len(rule):
        match = _TOKEN.match(rule, position)
        if match is None:
            char = rule[position]
            hint = " Quote texts with double quotes." if char in "`" else ""
            raise _fail(rule, position + 1, f"unexpected character {char!r}.{hint}")
        kind = match.lastgroup or ""
        text = match.group()
        column = position + 1
        position = match.end()
        if kind == "space":
            continue
        if kind == "duration":
            number, unit = re.match(r"(\d+)(\w+)", text).groups()  # type: ignore[union-attr]
            if unit not in UNITS:
                raise _fail(
                    rule,
                    column,
                    f"`{text}` is not a duration; write a whole number and one of the units s, m, h, d, w, e.g. `3d` or `12h`.",
                )
            seconds = int(number) * UNITS[unit]
            if seconds > MAX_WINDOW_SECONDS:
                raise _fail(
                    rule, column, f"`{text}` is longer than 100 years; leave `within` out for all history."
                )
            tokens.append(Token(kind, text, column, seconds))
        elif kind == "number":
            value: float | int = float(text) if re.search(r"[.eE]", text) else int(text)
            if isinstance(value, int) and abs(value) >= 2**63:
                raise _fail(
                    rule, column, f"`{text}` is too large a whole number; write it as `{float(value):.3g}`."
                )
            tokens.append(Token(kind, text, column, value))
        elif kind == "text":
            body = text[1:-1]
            tokens.append(Token(kind, text, column, re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL)))
        else:
            tokens.append(Token(kind, text, column))
    tokens.append(Token("end", "", len(rule) + 1))
    return tokens


class _Parser:
    def __init__(self, rule: str):
        self.rule = rule
        self.tokens = tokenize(rule)
        self.at = 0
        self.depth = 0

    # -- helpers -----------------------------------------------------------------------------
    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def is_(self, kind: str, text: str | None = None) -> bool:
        return self.token.kind == kind and (text is None or self.token.text == text)

    def expect(self, kind: str, text: str, what: str) -> Token:
        if not self.is_(kind, text):
            raise self.error(f"expected {what}, found {self.describe(self.token)}.")
        return self.take()

    def error(self, message: str, token: Token | None = None) -> RuleError:
        return _fail(self.rule, (token or self.token).column, message)

    @staticmethod
    def describe(token: Token) -> str:
        return "the end of the rule" if token.kind == "end" else f"`{token.text}`"

    # -- grammar -----------------------------------------------------------------------------
    def parse(self) -> Node:
        node = self.or_()
        if not self.is_("end"):
            token = self.token
            hint = " Join conditions with `and` or `or`." if token.kind in ("name", "punct") else ""
            raise self.error(f"unexpected {self.describe(token)} after a complete condition.{hint}")
        return node

    def or_(self) -> Node:
        parts = [self.and_()]
        while self.is_("name", "or"):
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def and_(self) -> Node:
        parts = [self.not_()]
        while self.is_("name", "and"):
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def not_(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the rule nests deeper than {MAX_DEPTH} levels; simplify it.")
        try:
            if self.is_("name", "not"):
                self.take()
                return Not(self.not_())
            if self.is_("punct", "("):
                self.take()
                node = self.or_()
                self.expect("punct", ")", "`)` closing the parenthesis")
                return node
            return self.condition()
        finally:
            self.depth -= 1

    def condition(self) -> Node:
        token = self.token
        if token.kind != "name" or token.text in _KEYWORDS:
            raise self.error(
                f"expected a condition (a profile field such as `p_alive < 0.3`, or did(...), count(...), "
                f"dropped(...)), found {self.describe(token)}."
            )
        self.take()
        if token.text in BEHAVIOURS and self.is_("punct", "("):
            return self.behaviour(token)
        return self.field(token)

    def value(self) -> tuple[object, int]:
        token = self.token
        if token.kind in ("number", "text"):
            self.take()
            return token.value, token.column
        if token.kind == "name" and token.text in _LITERALS:
            self.take()
            return _LITERALS[token.text], token.column
        if token.kind == "duration":
            raise self.error(
                f"`{token.text}` is a duration; durations go in `within=` of did(), count() or dropped()."
            )
        hint = f' Quote texts: "{token.text}".' if token.kind == "name" else ""
        raise self.error(
            f"expected a number, a quoted text, true, false or null, found {self.describe(token)}.{hint}"
        )

    def field(self, name: Token) -> Field:
        if self.is_("name", "in") or self.is_("name", "not"):
            negated = self.take().text == "not"
            if negated:
                self.expect("name", "in", "`in` after `not`")
            self.expect("punct", "[", '`[` starting a list, e.g. country in ["DE", "AT"]')
            values: list[object] = []
            first = self.token.column
            while True:
                value, _ = self.value()
                values.append(value)
                if self.is_("punct", "]"):
                    self.take()
                    break
                self.expect("punct", ",", "`,` or `]` in the list")
            return Field(name.text, "not in" if negated else "in", tuple(values), name.column, first)
        if not self.is_("op"):
            if name.text in BEHAVIOURS:
                raise self.error(f"`{name.text}` needs parentheses, e.g. {name.text}(purchase, within=30d).")
            raise self.error(
                f"expected a comparison (<, <=, >, >=, ==, !=, in) after the field `{name.text}`, found {self.describe(self.token)}."
            )
        if self.token.text == "=":
            raise self.error("`=` is not a comparison; compare with `==`.")
        op = self.take().text
        value, column = self.value()
        return Field(name.text, op, (value,), name.column, column)

    def event(self) -> tuple[str, int]:
        token = self.token
        if (token.kind == "name" and token.text not in _KEYWORDS) or token.kind == "text":
            self.take()
            name = token.text if token.kind == "name" else str(token.value)
            if not name.strip():
                raise self.error("the event type is empty; name one such as `purchase`.", token)
            return name, token.column
        raise self.error(
            f"expected an event type such as `purchase` or `add_to_cart`, found {self.describe(token)}."
        )

    def behaviour(self, head: Token) -> Behaviour:
        self.expect("punct", "(", "`(`")
        events = [self.event()]
        while head.text == "dropped" and self.is_("op", ">"):
            self.take()
            events.append(self.event())
        if head.text == "dropped" and len(events) < 2:
            raise self.error(
                "dropped() needs at least two steps joined by `>`, e.g. dropped(view > add_to_cart > purchase, within=7d).",
            )
        if head.text != "dropped" and self.is_("op", ">"):
            raise self.error(f"`>` joins funnel steps only in dropped(); {head.text}() takes one event type.")
        options: dict[str, object] = {}
        while self.is_("punct", ","):
            self.take()
            key = self.token
            if key.kind != "name" or key.text not in OPTIONS:
                raise self.error(
                    f'unknown option {self.describe(key)} of {head.text}(); use within=7d, category="Home" or item="SKU-1".'
                )
            self.take()
            if key.text in options:
                raise self.error(f"`{key.text}` is given twice.", key)
            self.expect("op", "=", f"`=` after `{key.text}`")
            options[key.text] = self.option_value(key.text)
        self.expect("punct", ")", f"`,` or `)` closing {head.text}()")
        op: str | None = None
        number: float | None = None
        if head.text == "count":
            if not self.is_("op") or self.token.text == "=":
                raise self.error(
                    f"count() must be compared with a number, e.g. count(view, within=7d) >= 3; found {self.describe(self.token)}."
                )
            op = self.take().text
            token = self.token
            if token.kind != "number":
                raise self.error(f"count() is compared with a number, found {self.describe(token)}.")
            self.take()
            number = float(token.value)  # type: ignore[arg-type]
        return Behaviour(
            kind=head.text,
            events=tuple(e for e, _ in events),
            event_columns=tuple(c for _, c in events),
            within=options.get("within"),  # type: ignore[arg-type]
            category=options.get("category"),  # type: ignore[arg-type]
            item=options.get("item"),  # type: ignore[arg-type]
            op=op,
            number=number,
            column=head.column,
        )

    def option_value(self, key: str) -> object:
        token = self.token
        if key == "within":
            if token.kind == "duration":
                self.take()
                if not token.value:
                    raise self.error("`within` must be longer than zero, e.g. within=3d.", token)
                return token.value
            raise self.error(
                f"`within` takes a duration such as 3d, 12h, 30m or 2w, found {self.describe(token)}."
            )
        if token.kind == "text":
            self.take()
            if not str(token.value).strip():
                raise self.error(f'`{key}` is empty; give a value such as {key}="Home".', token)
            return token.value
        raise self.error(f'`{key}` takes a quoted text, e.g. {key}="Home", found {self.describe(token)}.')


def parse_rule(rule: str) -> Node:
    """The syntax tree of `rule`; RuleError (with `.column`) when it does not parse."""
    if not rule or not rule.strip():
        raise RuleError(
            "An audience rule is empty; write one such as "
            "`did(add_to_cart, within=3d) and not did(purchase, within=3d)`.",
            column=1,
        )
    if len(rule) > MAX_RULE_CHARS:
        raise RuleError(f"The rule has {len(rule):,} characters; keep it under {MAX_RULE_CHARS:,}.", column=1)
    lone = next((i for i, ch in enumerate(rule) if "\ud800" <= ch <= "\udfff"), None)
    if lone is not None:
        # A lone surrogate (a JSON escape such as \ud800 decoded on its own) is not text: DuckDB
        # and every page refuse to encode it. The rule is shown with it written as an escape.
        shown = rule.encode("utf-8", "backslashreplace").decode("utf-8")
        raise _fail(
            shown,
            len(rule[:lone].encode("utf-8", "backslashreplace").decode("utf-8")) + 1,
            "this character is not valid Unicode text (a lone surrogate such as the JSON escape "
            "\\ud800); write the character itself.",
        )
    return _Parser(rule).parse()
