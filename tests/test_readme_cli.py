"""Every `cartwise ...` example in the README runs as written (issue 24.1).

The README's `sh`/`bash` blocks are parsed (continuation lines joined, comments dropped) and
each command runs in README order, through the CLI's own entry point, in one folder holding
the files the examples name (`readme_files`) and a demo shop built by the README's own
`cartwise demo --no-serve --db shop.duckdb` line with a small size (`DEMO_SIZE`; `make demo`'s
20,000 customers take minutes). The simulator names customers `u000042` and items
`SKU-00007` whatever the shop's size, so ids that run here run on `make demo`'s shop.

As a shell would: words with `*` are expanded, `> FILE` writes the output to FILE, and `cat
FILE` shows a file. Placeholders a reader replaces are filled in: `KEY_ID` with the id that
the `keys create` line before printed, and the password `users-admin add` asks for. E-mail
goes to a real SMTP server on 127.0.0.1 (aiosmtpd). Lines that prepare the machine (`make`,
activating the virtual environment) are not commands of the tour.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from cartwise.cli import cli
from cartwise.core.errors import CartwiseError
from readme_files import write_readme_files

README = Path(__file__).resolve().parents[1] / "README.md"
DEMO_SIZE = ["--users", "1000", "--items", "80", "--days", "120", "--seed", "11"]
SETUP = ("make ", ". ")
"""Lines that set up the machine, not commands of the tour."""
NEEDS_TRAFFIC = {"experiments analyze recs-als": "has no exposures yet; assign users"}
"""Lines whose answer needs traffic served by the running service (a recommender experiment's
exposures come from `GET /api/v1/recommendations`, tests/api/test_recs_ab_api.py): run right
after the README's `create` line, they must fail with this clear message, not a traceback."""
SLOW = ("--engine spark",)
"""Examples run by their own tests (tests/analytics/test_analytics_spark.py): a Spark session
costs more than the rest of the tour."""


def readme_shell_lines() -> list[str]:
    """Every command line of the README's sh and bash blocks, continuation lines joined."""
    lines: list[str] = []
    text = README.read_text(encoding="utf-8")
    for block in re.findall(r"```(?:sh|bash)\n(.*?)```", text, flags=re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def tour() -> list[str]:
    """The README's commands this test runs: `cartwise` and `cat` lines, in README order."""
    return [line for line in readme_shell_lines() if line.startswith(("cartwise ", "cat "))]


class _Sink:
    def __init__(self, port: int) -> None:
        self.port = port
        self.messages = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def smtp() -> Iterator[_Sink]:
    sink = _Sink(_free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
        assert sink.messages > 0  # the campaign example really sent its e-mail
    finally:
        controller.stop()


def test_the_readme_has_a_tour_of_cli_examples() -> None:
    lines = readme_shell_lines()
    commands = tour()
    assert len(commands) >= 50
    # every line of the blocks is either a command of the tour, a setup line or a curl call
    others = [line for line in lines if not line.startswith(("cartwise ", "cat ", "curl ", *SETUP))]
    assert not others, f"README shell lines this test would not run: {others}"
    # and a command reads only files the README's tour writes or `readme_files` provides
    assert any(c.startswith("cartwise demo --no-serve --db shop.duckdb") for c in commands)


def _words(line: str, root: Path) -> tuple[list[str], Path | None]:
    """The command's arguments (globs expanded, as a shell does) and its `>` target, if any."""
    words = shlex.split(line, comments=True)
    target = None
    if ">" in words:
        at = words.index(">")
        target, words = root / words[at + 1], words[:at] + words[at + 2 :]
    expanded: list[str] = []
    for word in words:
        matches = sorted(glob.glob(word, root_dir=root)) if "*" in word else []
        expanded += matches or [word]
    return expanded, target


@pytest.mark.slow
def test_every_readme_cli_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: _Sink
) -> None:
    write_readme_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CARTWISE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CARTWISE_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("CARTWISE_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("CARTWISE_THREADS", "2")
    runner = CliRunner()
    key_id = None
    failures: list[str] = []
    for line in tour():
        if any(marker in line for marker in SLOW):
            continue
        if line.startswith("cat "):
            shown = tmp_path / shlex.split(line)[1]
            if not (shown.is_file() and shown.stat().st_size):
                failures.append(f"{line}\n  -> no such file")
            continue
        args, target = _words(line, tmp_path)
        args = args[1:]
        if args[:1] == ["demo"]:
            args += DEMO_SIZE
        if key_id is not None:
            args = [key_id if a == "KEY_ID" else a for a in args]
        answer = "pw-for-readme\npw-for-readme\n" if args[:2] == ["users-admin", "add"] else None
        result = runner.invoke(cli, args, input=answer, catch_exceptions=True)
        expected = next((m for line_part, m in NEEDS_TRAFFIC.items() if line_part in line), None)
        if expected is not None:
            # `cli` raises what `main()` prints as one line (tests/cli covers that printing).
            if not isinstance(result.exception, CartwiseError) or expected not in str(result.exception):
                failures.append(
                    f"{line}\n  -> expected {expected!r}: {result.output[-600:]}{result.exception!r}"
                )
            continue
        if result.exit_code != 0:
            failures.append(
                f"{line}\n  -> exit {result.exit_code}: {(result.output or repr(result.exception))[-600:]}"
            )
            continue
        if target is not None:
            target.write_text(result.stdout)
        if args[:2] == ["keys", "create"] and "--json" in args:
            key_id = json.loads(result.stdout)["key_id"]
    assert not failures, "\n".join(failures)
