"""The README's API examples run as written against a demo shop (issue 24.1).

Every `curl` line in the README's `sh` blocks is parsed (method, headers, body, URL) and sent
to a real `cartwise serve` over a small simulated shop. The simulator names customers
`u000042` and items `SKU-00007` whatever the shop's size, so ids that work here work on
`make demo`'s shop. `$READ_KEY` and `$ADMIN_KEY` become keys of those scopes.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_support import Running, serve_shop

from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.train import train_recommender
from cartwise.simulate import ShopConfig
from cartwise.store import Store

README = Path(__file__).resolve().parents[2] / "README.md"
README_URL = "http://127.0.0.1:8000"


def readme_commands(prefix: str) -> list[str]:
    """Commands starting with `prefix` in the README's sh blocks, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith(prefix):
                commands.append(line)
    return commands


def parse_curl(command: str, keys: dict[str, str]) -> tuple[str, str, dict[str, str], str | None]:
    """(method, URL path, headers, body) of a README curl line."""
    for scope in ("read", "admin", "collect"):
        command = command.replace(f"${scope.upper()}_KEY", keys[scope])
    words = shlex.split(command, comments=True)[1:]
    method, headers, body, url = "GET", {}, None, None
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-X":
            method, i = words[i + 1], i + 2
        elif word == "-H":
            name, _, value = words[i + 1].partition(":")
            headers[name.strip()] = value.strip()
            i += 2
        elif word in ("-d", "--data"):
            body, i = words[i + 1], i + 2
            method = "POST" if method == "GET" else method
        else:
            assert word.startswith(README_URL), f"unexpected curl argument {word!r} in {command!r}"
            url, i = word, i + 1
    assert url is not None, command
    return method, url.removeprefix(README_URL), headers, body


def test_the_readme_has_api_examples_with_demo_ids() -> None:
    curls = readme_commands("curl ")
    assert len(curls) >= 6
    text = " ".join(curls)
    assert "SKU-" in text and "u000042" in text


def _shop(store: Store) -> None:
    build_demo(store, ShopConfig(seed=11, users=500, items=90, days=60))
    train_recommender(store)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    env = {"CARTWISE_RECS_OPTIONS": json.dumps({"offline_models": ["itemknn"]}), "OPENBLAS_NUM_THREADS": "1"}
    with serve_shop(tmp_path_factory.mktemp("readme"), _shop, env=env) as run:
        yield run


def test_every_readme_curl_example_answers_without_error(shop: Running) -> None:
    failures = []
    with httpx.Client(base_url=shop.url, timeout=60) as client:
        for command in readme_commands("curl "):
            method, path, headers, body = parse_curl(command, shop.keys)
            if body is not None:
                headers.setdefault("Content-Type", "application/json")
            answer = client.request(method, path, headers=headers, content=body)
            if answer.status_code >= 400:
                failures.append(f"{command}\n  -> {answer.status_code} {answer.text[:300]}")
    assert not failures, "\n".join(failures)
