"""Journey files: the issue's contract parses as written; every bad input is refused with its line and fix."""

from __future__ import annotations

import json

import pytest

from cartwise.campaigns import (
    CHANNELS,
    TEMPLATE_NAMES,
    Branch,
    JourneyError,
    Send,
    Split,
    Wait,
    WaitFor,
    parse_journey,
)

CONTRACT = """\
name: abandoned-cart
trigger: {event: add_to_cart}
exit_on: [{event: purchase}]
steps:
  - wait: 2s
  - send: {channel: email, template: abandoned_cart}
"""

FULL = """\
name: win-back
trigger: {audience: lapsing}
exit_on: [{event: purchase}, {event: unsubscribe}]
steps:
  - wait: {until: "09:00"}
  - wait_for:
      event: view
      timeout: 1d
      on_timeout:
        - send: {channel: email, template: win_back}
  - branch:
      if: "p_alive < 0.3 and did(view, within=7d)"
      then:
        - send: {channel: email, template: win_back}
        - exit
      else:
        - wait: 3h
  - split:
      - variant: a
        weight: 50
        steps:
          - send: {channel: email, template: newsletter}
      - variant: b
        weight: 50
        steps:
          - wait: 10m
  - send: {channel: webhook, template: welcome}
"""


def parse(text: str):
    return parse_journey(text, templates=TEMPLATE_NAMES, channels=CHANNELS)


def test_the_contract_file_parses_as_written() -> None:
    journey = parse(CONTRACT)
    assert journey.name == "abandoned-cart"
    assert (journey.trigger.kind, journey.trigger.value) == ("event", "add_to_cart")
    assert journey.exit_on == ("purchase",)
    assert journey.steps == (Wait(5, seconds=2), Send(6, "email", "abandoned_cart"))


def test_every_step_kind_and_the_walk_through_sub_lists() -> None:
    journey = parse(FULL)
    kinds = [type(s) for s in journey.steps]
    assert kinds == [Wait, WaitFor, Branch, Split, Send]
    assert journey.steps[0] == Wait(5, until="09:00")
    assert journey.step("1/on_timeout/0") == Send(10, "email", "win_back")
    # A sub-list that ends without `exit` rejoins the flow after its step.
    assert journey.next_path("1/on_timeout/0") == "2"
    assert journey.next_path("2/else/0") == "3"
    assert journey.next_path("3/b/0") == "4"
    assert journey.next_path("4") is None
    assert [p for p, _ in journey.paths()][:4] == ["0", "1", "1/on_timeout/0", "2"]


def test_json_works_too() -> None:
    body = {
        "name": "welcome",
        "trigger": {"event": "signup"},
        "steps": [{"wait": "10m"}, {"send": {"channel": "email", "template": "welcome"}}, "exit"],
    }
    journey = parse(json.dumps(body, indent=2))
    assert [type(s).__name__ for s in journey.steps] == ["Wait", "Send", "Exit"]


BAD = [
    # (text, line, parameter, words in the message)
    (
        CONTRACT.replace("- wait: 2s", "- sleep: 2s"),
        5,
        "steps[0].sleep",
        ["unknown step `sleep`", "wait_for"],
    ),
    (
        CONTRACT.replace("wait: 2s", "wait: 2 days"),
        5,
        "steps[0].wait",
        ["'2 days' is not a duration", "`2d`"],
    ),
    (CONTRACT.replace("wait: 2s", "wait: 0s"), 5, "steps[0].wait", ["not a duration"]),
    (CONTRACT.replace("wait: 2s", "wait: {until: '25:00'}"), 5, "steps[0].wait.until", ["HH:MM"]),
    (
        CONTRACT.replace("abandoned_cart}", "abandoned_kart}"),
        6,
        "steps[1].send.template",
        ["unknown template 'abandoned_kart'", "abandoned_cart", "templates_dir"],
    ),
    (
        CONTRACT.replace("channel: email", "channel: pigeon"),
        6,
        "steps[1].send.channel",
        ["unknown channel 'pigeon'", "email"],
    ),
    (
        CONTRACT + "  - exit\n  - wait: 1h\n",
        8,
        "steps[3]",
        ["can never be reached", "line 7"],
    ),
    (
        CONTRACT.replace("trigger: {event: add_to_cart}", "trigger: {date: birthday}"),
        2,
        "trigger.date",
        ["replenishment"],
    ),
    (CONTRACT.replace("exit_on:", "exit_when:"), 3, "journey.exit_when", ["unknown key", "exit_on"]),
    ("name: x\ntrigger: {event: view}\nsteps: [\n", 4, "journey", ["not valid YAML"]),
    ("", 1, "journey", ["empty"]),
]


@pytest.mark.parametrize(("text", "line", "parameter", "words"), BAD)
def test_bad_files_are_refused_with_line_and_fix(
    text: str, line: int, parameter: str, words: list[str]
) -> None:
    with pytest.raises(JourneyError) as caught:
        parse(text)
    assert caught.value.line == line
    assert caught.value.parameter == parameter
    assert str(caught.value).startswith(f"`{parameter}`: line {line}: ")
    for word in words:
        assert word in str(caught.value)


def test_a_rule_that_does_not_parse_points_at_its_column() -> None:
    text = FULL.replace("p_alive < 0.3 and did(view, within=7d)", "p_alive < < 0.3")
    with pytest.raises(JourneyError) as caught:
        parse(text)
    assert caught.value.line == 12 and caught.value.parameter == "steps[2].branch.if"
    assert "column 11" in str(caught.value)


def test_a_branch_whose_arms_both_exit_makes_the_next_step_unreachable() -> None:
    text = """\
name: both-exit
trigger: {event: view}
steps:
  - branch:
      if: "orders > 1"
      then: [exit]
      else: [exit]
  - send: {channel: email, template: welcome}
"""
    with pytest.raises(JourneyError) as caught:
        parse(text)
    assert caught.value.line == 8 and "never be reached" in str(caught.value)
    # One arm that goes on is enough to reach it.
    assert len(parse(text.replace("else: [exit]", "else: [{wait: 1h}]")).steps) == 2
