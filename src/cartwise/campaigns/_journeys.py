"""Journey definitions: YAML or JSON parsed into frozen steps, each error with its line and fix.

A journey is a trigger, exit conditions and a list of steps:

    name: abandoned-cart
    trigger: {event: add_to_cart}          # or {audience: NAME}, or {date: replenishment}
    exit_on: [{event: purchase}]           # checked before every step
    steps:
      - wait: 2s                           # s, m, h, d or w; or {until: "09:00"} (customer's zone)
      - wait_for: {event: purchase, timeout: 1d, on_timeout: [...]}
      - branch: {if: "p_alive < 0.3", then: [...], else: [...]}
      - split: [{variant: a, weight: 50, steps: [...]}, {variant: b, weight: 50, steps: [...]}]
      - send: {channel: email, template: abandoned_cart}
      - exit

Steps inside `then`/`else`, a variant's `steps` and `on_timeout` rejoin the flow after their
step when they end without `exit`. A step is addressed by its path: indexes into the lists,
with the sub-list's name between (`2/then/0`, `3/a/1`, `1/on_timeout/0`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from cartwise.core.errors import ConfigError, RuleError
from cartwise.profiles import parse_rule

UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
STEP_KINDS = ("wait", "wait_for", "branch", "split", "send", "exit")
TRIGGER_KINDS = ("event", "audience", "date")
DATE_TRIGGERS = ("replenishment",)
MAX_WAIT_SECONDS = 366 * 86_400
_DURATION = re.compile(r"(\d+)([smhdw])")
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
_EVENT = re.compile(r"[A-Za-z_][A-Za-z0-9_ .:-]{0,79}")


class JourneyError(ConfigError):
    """A journey file that cannot be used: `line` (1-based) is where, `parameter` the key path
    (`steps[1].send.template`)."""

    code = "journey_error"

    def __init__(self, message: str, *, line: int, parameter: str | None = None) -> None:
        super().__init__(f"line {line}: {_printable(message)}", parameter=_printable(parameter))
        self.line = line


def _printable(text: str | None) -> Any:
    """`text` with lone surrogates (a JSON escape such as \\ud800 read as text) written as escapes."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Wait:
    line: int
    seconds: int | None = None  # a duration
    until: str | None = None  # "HH:MM", local time of the customer


@dataclass(frozen=True)
class WaitFor:
    line: int
    event: str
    timeout: int  # seconds
    on_timeout: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Branch:
    line: int
    rule: str
    then: tuple[Step, ...] = ()
    otherwise: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Variant:
    name: str
    weight: float
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Split:
    line: int
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class Send:
    line: int
    channel: str
    template: str


@dataclass(frozen=True)
class Exit:
    line: int


Step = Wait | WaitFor | Branch | Split | Send | Exit


@dataclass(frozen=True)
class Trigger:
    kind: Literal["event", "audience", "date"]
    value: str  # event type, audience name or date kind
    where: str | None = None  # a rule the customer must match to enter (event triggers)
    line: int = field(default=0, compare=False)  # where the trigger's value is written


@dataclass(frozen=True)
class Journey:
    name: str
    trigger: Trigger
    steps: tuple[Step, ...]
    exit_on: tuple[str, ...] = ()  # event types that end a run
    text: str = field(default="", compare=False)

    def step(self, path: str) -> Step:
        """The step at `path` (`2/then/0`); KeyError when there is none."""
        steps, index = _locate(self.steps, path)
        return steps[index]

    def first(self) -> str | None:
        return "0" if self.steps else None

    def next_path(self, path: str) -> str | None:
        """The step after `path`: the next in its list, else the step after the enclosing one."""
        parts = path.split("/")
        while parts:
            steps, index = _locate(self.steps, "/".join(parts))
            if index + 1 < len(steps):
                return "/".join([*parts[:-1], str(index + 1)])
            parts = parts[:-2]  # leave the sub-list: continue after the step that holds it
        return None

    def paths(self) -> list[tuple[str, Step]]:
        """Every step with its path, depth first, in file order."""
        out: list[tuple[str, Step]] = []

        def walk(steps: tuple[Step, ...], prefix: str) -> None:
            for i, step in enumerate(steps):
                path = f"{prefix}{i}"
                out.append((path, step))
                for name, sub in _children(step):
                    walk(sub, f"{path}/{name}/")

        walk(self.steps, "")
        return out


def _children(step: Step) -> list[tuple[str, tuple[Step, ...]]]:
    if isinstance(step, Branch):
        return [("then", step.then), ("else", step.otherwise)]
    if isinstance(step, Split):
        return [(v.name, v.steps) for v in step.variants]
    if isinstance(step, WaitFor):
        return [("on_timeout", step.on_timeout)]
    return []


def _locate(steps: tuple[Step, ...], path: str) -> tuple[tuple[Step, ...], int]:
    parts = path.split("/")
    current = steps
    for i in range(0, len(parts) - 1, 2):
        holder = current[int(parts[i])]
        children = dict(_children(holder))
        current = children[parts[i + 1]]
    index = int(parts[-1])
    if not 0 <= index < len(current):
        raise KeyError(path)
    return current, index


def step_kind(step: Step) -> str:
    return {
        Wait: "wait",
        WaitFor: "wait_for",
        Branch: "branch",
        Split: "split",
        Send: "send",
        Exit: "exit",
    }[type(step)]


# -- parsing ------------------------------------------------------------------------------------
def parse_duration(text: str, *, line: int, parameter: str) -> int:
    """Seconds of `2s`, `10m`, `3h`, `2d`, `1w`; JourneyError naming the line otherwise."""
    match = _DURATION.fullmatch(str(text).strip())
    if not match or int(match.group(1)) <= 0:
        raise JourneyError(
            f"{str(text)!r} is not a duration; write a positive whole number and a unit (s, m, h, d, w), "
            "e.g. `2s`, `10m`, `3h`, `2d`.",
            line=line,
            parameter=parameter,
        )
    seconds = int(match.group(1)) * UNITS[match.group(2)]
    if seconds > MAX_WAIT_SECONDS:
        raise JourneyError(
            f"{text!r} is longer than a year; keep waits within 366d.", line=line, parameter=parameter
        )
    return seconds


class _Parser:
    def __init__(self, templates: Collection[str] | None, channels: Collection[str] | None) -> None:
        self.templates = templates
        self.channels = channels

    # Nodes --------------------------------------------------------------------------------------
    @staticmethod
    def line(node: yaml.Node) -> int:
        return int(node.start_mark.line) + 1

    def mapping(self, node: yaml.Node, where: str, example: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise JourneyError(
                f"expected a mapping here, e.g. {example}.", line=self.line(node), parameter=where
            )
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            name = str(key.value)
            if not _is_text(name):
                raise JourneyError(
                    "a key is not valid Unicode text (a lone surrogate escape); write it in plain text.",
                    line=self.line(key),
                    parameter=where,
                )
            if name in out:
                raise JourneyError(
                    f"`{name}` is given twice; keep one.", line=self.line(key), parameter=f"{where}.{name}"
                )
            out[name] = (key, value)
        return out

    def scalar(self, node: yaml.Node, where: str, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.value == "":
            raise JourneyError(f"expected {what}.", line=self.line(node), parameter=where)
        if not _is_text(str(node.value)):
            raise JourneyError(
                f"expected {what} in valid Unicode text (found a lone surrogate escape).",
                line=self.line(node),
                parameter=where,
            )
        return str(node.value)

    def only(self, keys: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for name, (key, _) in keys.items():
            if name not in allowed:
                raise JourneyError(
                    f"unknown key `{name}`; use {', '.join(allowed)}.",
                    line=self.line(key),
                    parameter=f"{where}.{name}",
                )

    def need(
        self, keys: Mapping[str, Any], name: str, node: yaml.Node, where: str, example: str
    ) -> yaml.Node:
        if name not in keys:
            raise JourneyError(
                f"`{name}` is missing; add it, e.g. {example}.", line=self.line(node), parameter=where
            )
        return keys[name][1]

    # The journey --------------------------------------------------------------------------------
    def journey(self, root: yaml.Node, text: str) -> Journey:
        keys = self.mapping(root, "journey", "`name: abandoned-cart`")
        self.only(keys, ("name", "trigger", "exit_on", "steps", "description"), "journey")
        name = self.scalar(self.need(keys, "name", root, "name", "`name: abandoned-cart`"), "name", "a name")
        if not _NAME.fullmatch(name):
            raise JourneyError(
                f"name {name!r} must be letters, digits, -, _ and . (up to 80), e.g. `abandoned-cart`.",
                line=self.line(keys["name"][1]),
                parameter="name",
            )
        trigger = self.trigger(self.need(keys, "trigger", root, "trigger", "`trigger: {event: add_to_cart}`"))
        exit_on: tuple[str, ...] = ()
        if "exit_on" in keys:
            exit_on = self.exit_on(keys["exit_on"][1])
        steps_node = self.need(keys, "steps", root, "steps", "`steps: [{wait: 1h}, {send: ...}]`")
        steps = self.steps(steps_node, "steps")
        return Journey(name=name, trigger=trigger, steps=steps, exit_on=exit_on, text=text)

    def trigger(self, node: yaml.Node) -> Trigger:
        keys = self.mapping(node, "trigger", "`{event: add_to_cart}`")
        self.only(keys, (*TRIGGER_KINDS, "where"), "trigger")
        kinds = [k for k in TRIGGER_KINDS if k in keys]
        if len(kinds) != 1:
            raise JourneyError(
                "give exactly one of `event`, `audience` or `date`, e.g. `{event: add_to_cart}`.",
                line=self.line(node),
                parameter="trigger",
            )
        kind = kinds[0]
        what = {"event": "an event type", "audience": "an audience name", "date": "a date trigger"}[kind]
        value = self.scalar(keys[kind][1], f"trigger.{kind}", what)
        if kind == "date" and value not in DATE_TRIGGERS:
            raise JourneyError(
                f"unknown date trigger {value!r}; use {', '.join(DATE_TRIGGERS)}.",
                line=self.line(keys[kind][1]),
                parameter="trigger.date",
            )
        if kind == "event" and not _EVENT.fullmatch(value):
            raise JourneyError(
                f"{value!r} is not an event type; write one such as `add_to_cart`.",
                line=self.line(keys[kind][1]),
                parameter="trigger.event",
            )
        where = None
        if "where" in keys:
            where = self.rule(keys["where"][1], "trigger.where")
        return Trigger(kind=kind, value=value, where=where, line=self.line(keys[kind][1]))  # type: ignore[arg-type]

    def exit_on(self, node: yaml.Node) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise JourneyError(
                "expected a list, e.g. `exit_on: [{event: purchase}]`.",
                line=self.line(node),
                parameter="exit_on",
            )
        events = []
        for i, item in enumerate(node.value):
            where = f"exit_on[{i}]"
            keys = self.mapping(item, where, "`{event: purchase}`")
            self.only(keys, ("event",), where)
            events.append(
                self.scalar(
                    self.need(keys, "event", item, where, "`{event: purchase}`"), where, "an event type"
                )
            )
        return tuple(events)

    def rule(self, node: yaml.Node, where: str) -> str:
        rule = self.scalar(node, where, 'a rule, e.g. "p_alive < 0.3"')
        try:
            parse_rule(rule)
        except RuleError as exc:
            raise JourneyError(f"{exc.message}", line=self.line(node), parameter=where) from None
        return rule

    def steps(self, node: yaml.Node, where: str) -> tuple[Step, ...]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise JourneyError(
                "expected a non-empty list of steps, e.g. `- wait: 1h`.",
                line=self.line(node),
                parameter=where,
            )
        out: list[Step] = []
        ended: Step | None = None
        for i, item in enumerate(node.value):
            step = self.step(item, f"{where}[{i}]")
            if ended is not None:
                raise JourneyError(
                    f"this `{step_kind(step)}` step can never be reached: every path ends at an `exit` by the "
                    f"step on line {_end_line(ended)}; remove it or move it before that `exit`.",
                    line=self.line(item),
                    parameter=f"{where}[{i}]",
                )
            out.append(step)
            if _ends(step):
                ended = step
        return tuple(out)

    def step(self, node: yaml.Node, where: str) -> Step:
        line = self.line(node)
        if isinstance(node, yaml.ScalarNode):
            if node.value == "exit":
                return Exit(line)
            raise JourneyError(
                f"unknown step {node.value!r}; use one of {', '.join(STEP_KINDS)}.",
                line=line,
                parameter=where,
            )
        keys = self.mapping(node, where, "`- wait: 1h`")
        if len(keys) != 1:
            raise JourneyError(
                f"a step has one key, its kind ({', '.join(STEP_KINDS)}); found {', '.join(keys)}. "
                "Indent the step's options under it.",
                line=line,
                parameter=where,
            )
        kind, (key, body) = next(iter(keys.items()))
        where = f"{where}.{kind}"
        if kind not in STEP_KINDS:
            raise JourneyError(
                f"unknown step `{kind}`; use one of {', '.join(STEP_KINDS)}.",
                line=self.line(key),
                parameter=where,
            )
        if kind == "wait":
            return self.wait(body, where, line)
        if kind == "wait_for":
            return self.wait_for(body, where, line)
        if kind == "branch":
            return self.branch(body, where, line)
        if kind == "split":
            return self.split(body, where, line)
        if kind == "send":
            return self.send(body, where, line)
        if not (isinstance(body, yaml.ScalarNode) and body.value in ("", "null", "~", "true")):
            raise JourneyError("`exit` takes no options; write `- exit`.", line=line, parameter=where)
        return Exit(line)

    def wait(self, body: yaml.Node, where: str, line: int) -> Wait:
        if isinstance(body, yaml.MappingNode):
            keys = self.mapping(body, where, '`{until: "09:00"}`')
            self.only(keys, ("until",), where)
            clock = self.scalar(self.need(keys, "until", body, where, '`{until: "09:00"}`'), where, "a time")
            if not _CLOCK.fullmatch(clock):
                raise JourneyError(
                    f'{clock!r} is not a time of day; write HH:MM in quotes, e.g. `until: "09:00"`.',
                    line=self.line(keys["until"][1]),
                    parameter=f"{where}.until",
                )
            return Wait(line, until=clock)
        text = self.scalar(body, where, "a duration such as `2d`")
        return Wait(line, seconds=parse_duration(text, line=self.line(body), parameter=where))

    def wait_for(self, body: yaml.Node, where: str, line: int) -> WaitFor:
        example = "`{event: purchase, timeout: 1d}`"
        keys = self.mapping(body, where, example)
        self.only(keys, ("event", "timeout", "on_timeout"), where)
        event = self.scalar(self.need(keys, "event", body, where, example), f"{where}.event", "an event type")
        timeout_node = self.need(keys, "timeout", body, where, example)
        timeout = parse_duration(
            self.scalar(timeout_node, f"{where}.timeout", "a duration"),
            line=self.line(timeout_node),
            parameter=f"{where}.timeout",
        )
        on_timeout: tuple[Step, ...] = ()
        if "on_timeout" in keys:
            on_timeout = self.steps(keys["on_timeout"][1], f"{where}.on_timeout")
        return WaitFor(line, event=event, timeout=timeout, on_timeout=on_timeout)

    def branch(self, body: yaml.Node, where: str, line: int) -> Branch:
        example = '`{if: "p_alive < 0.3", then: [...], else: [...]}`'
        keys = self.mapping(body, where, example)
        self.only(keys, ("if", "then", "else"), where)
        rule = self.rule(self.need(keys, "if", body, where, example), f"{where}.if")
        if "then" not in keys and "else" not in keys:
            raise JourneyError(
                f"a branch needs `then` or `else`, e.g. {example}.", line=line, parameter=where
            )
        then = self.steps(keys["then"][1], f"{where}.then") if "then" in keys else ()
        otherwise = self.steps(keys["else"][1], f"{where}.else") if "else" in keys else ()
        return Branch(line, rule=rule, then=then, otherwise=otherwise)

    def split(self, body: yaml.Node, where: str, line: int) -> Split:
        example = "`[{variant: a, weight: 50, steps: [...]}, {variant: b, weight: 50, steps: [...]}]`"
        if not isinstance(body, yaml.SequenceNode) or len(body.value) < 2:
            raise JourneyError(
                f"a split is a list of two or more variants, e.g. {example}.", line=line, parameter=where
            )
        variants: list[Variant] = []
        for i, item in enumerate(body.value):
            at = f"{where}[{i}]"
            keys = self.mapping(item, at, example)
            self.only(keys, ("variant", "weight", "steps"), at)
            name = self.scalar(
                self.need(keys, "variant", item, at, example), f"{at}.variant", "a variant name"
            )
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,39}", name) or name in (
                "then",
                "else",
                "on_timeout",
            ):
                raise JourneyError(
                    f"variant name {name!r} must start with a letter (letters, digits, - and _), e.g. `a`.",
                    line=self.line(keys["variant"][1]),
                    parameter=f"{at}.variant",
                )
            if name in {v.name for v in variants}:
                raise JourneyError(
                    f"variant {name!r} is named twice; give each its own name.",
                    line=self.line(keys["variant"][1]),
                    parameter=f"{at}.variant",
                )
            weight_text = self.scalar(
                self.need(keys, "weight", item, at, example), f"{at}.weight", "a weight"
            )
            try:
                weight = float(weight_text)
            except ValueError:
                weight = -1.0
            if not weight > 0 or weight != weight or weight == float("inf"):
                raise JourneyError(
                    f"weight {weight_text!r} must be a positive number, e.g. `50`.",
                    line=self.line(keys["weight"][1]),
                    parameter=f"{at}.weight",
                )
            steps = self.steps(self.need(keys, "steps", item, at, example), f"{at}.steps")
            variants.append(Variant(name, weight, steps))
        return Split(line, tuple(variants))

    def send(self, body: yaml.Node, where: str, line: int) -> Send:
        example = "`{channel: email, template: abandoned_cart}`"
        keys = self.mapping(body, where, example)
        self.only(keys, ("channel", "template"), where)
        channel = self.scalar(
            self.need(keys, "channel", body, where, example), f"{where}.channel", "a channel"
        )
        if self.channels is not None and channel not in self.channels:
            raise JourneyError(
                f"unknown channel {channel!r}; use one of {', '.join(sorted(self.channels or ()))}.",
                line=self.line(keys["channel"][1]),
                parameter=f"{where}.channel",
            )
        template = self.scalar(
            self.need(keys, "template", body, where, example), f"{where}.template", "a template"
        )
        if self.templates is not None and template not in self.templates:
            raise JourneyError(
                f"unknown template {template!r}; use one of {', '.join(sorted(self.templates or ()))} or add "
                "NAME.subject, NAME.html and NAME.txt to the `templates_dir` folder.",
                line=self.line(keys["template"][1]),
                parameter=f"{where}.template",
            )
        return Send(line, channel=channel, template=template)


def _ends(step: Step) -> bool:
    """Whether every path through `step` reaches an `exit`."""
    if isinstance(step, Exit):
        return True
    if isinstance(step, Branch):
        return _list_ends(step.then) and _list_ends(step.otherwise)
    if isinstance(step, Split):
        return all(_list_ends(v.steps) for v in step.variants)
    return False  # a wait_for's event path goes on after it


def _list_ends(steps: tuple[Step, ...]) -> bool:
    return any(_ends(s) for s in steps)


def _end_line(step: Step) -> int:
    return step.line


def parse_journey(
    text: str, *, templates: Collection[str] | None, channels: Collection[str] | None
) -> Journey:
    """The journey in `text` (YAML, or JSON, which YAML reads too), checked against the known
    `templates` and `channels` (None: not checked, for a saved version read back); JourneyError
    with the line, the key path and the fix otherwise."""
    if not text.strip():
        raise JourneyError("the file is empty; start with `name: ...`.", line=1, parameter="journey")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        raise JourneyError(
            f"not valid YAML or JSON ({exc.problem or exc.context}); check the indentation and brackets there.",
            line=line,
            parameter="journey",
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML parse error is marked
        raise JourneyError(f"not valid YAML or JSON ({exc}).", line=1, parameter="journey") from None
    except RecursionError:
        raise _too_deep() from None
    if root is None:
        raise JourneyError("the file is empty; start with `name: ...`.", line=1, parameter="journey")
    try:
        return _Parser(templates, channels).journey(root, text)
    except RecursionError:
        raise _too_deep() from None


def _too_deep() -> JourneyError:
    return JourneyError(
        "the file nests too deeply; keep branches and splits a few levels deep.", line=1, parameter="journey"
    )


def choose_variant(journey: str, user_id: str, split: Split) -> Variant:
    """The customer's variant of `split`: experiments' hash `uniform(salt=journey name, user)`
    against the cumulative shares of the weights, so a customer gets the same one every time."""
    from cartwise.experiments import uniform  # the statistics package: only when a split runs

    u = uniform(journey, user_id)
    total = sum(v.weight for v in split.variants)
    edge = 0.0
    for variant in split.variants:
        edge += variant.weight / total
        if u < edge:
            return variant
    return split.variants[-1]


def journey_dict(journey: Journey) -> dict[str, Any]:
    """The definition as plain data (for JSON twins): trigger, exit_on and the steps with paths."""

    def one(step: Step, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {"path": path, "kind": step_kind(step), "line": step.line}
        if isinstance(step, Wait):
            out.update({"seconds": step.seconds, "until": step.until})
        elif isinstance(step, WaitFor):
            out.update(
                {
                    "event": step.event,
                    "timeout": step.timeout,
                    "on_timeout": many(step.on_timeout, f"{path}/on_timeout/"),
                }
            )
        elif isinstance(step, Branch):
            out.update(
                {
                    "if": step.rule,
                    "then": many(step.then, f"{path}/then/"),
                    "else": many(step.otherwise, f"{path}/else/"),
                }
            )
        elif isinstance(step, Split):
            out["variants"] = [
                {"variant": v.name, "weight": v.weight, "steps": many(v.steps, f"{path}/{v.name}/")}
                for v in step.variants
            ]
        elif isinstance(step, Send):
            out.update({"channel": step.channel, "template": step.template})
        return out

    def many(steps: tuple[Step, ...], prefix: str) -> list[dict[str, Any]]:
        return [one(s, f"{prefix}{i}") for i, s in enumerate(steps)]

    return {
        "name": journey.name,
        "trigger": {
            "kind": journey.trigger.kind,
            "value": journey.trigger.value,
            "where": journey.trigger.where,
        },
        "exit_on": list(journey.exit_on),
        "steps": many(journey.steps, ""),
    }


def canonical_text(text: str) -> str:
    """`text` with line endings and trailing blanks normalised, so re-applying a file saved by
    another editor is recognised as the same version."""
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip() + "\n"


__all__ = [
    "Branch",
    "Exit",
    "Journey",
    "JourneyError",
    "Send",
    "Split",
    "Step",
    "Trigger",
    "Variant",
    "Wait",
    "WaitFor",
    "canonical_text",
    "choose_variant",
    "journey_dict",
    "parse_duration",
    "parse_journey",
    "step_kind",
]
