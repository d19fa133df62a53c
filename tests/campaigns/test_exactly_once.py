"""SIGKILL a broadcast of 10,000 recipients part way, re-run it: nobody gets a second message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from cartwise.store import open_store

from .smtp_support import SmtpServer, make_shop, settings_for_smtp

ROOT = Path(__file__).resolve().parents[2]
N = 10_000


def _command(db: Path) -> list[str]:
    return [
        sys.executable, "-m", "cartwise", "campaigns", "send", "big", "--rule", "orders >= 0",
        "--template", "welcome", "--channel", "email", "--holdout", "0", "--db", str(db), "--json",
    ]  # fmt: skip


def test_a_killed_broadcast_resumes_without_a_second_message(tmp_path: Path, smtp: SmtpServer) -> None:
    db = tmp_path / "shop.duckdb"
    settings = settings_for_smtp(db, smtp.port)
    with open_store(db, settings=settings) as store:
        make_shop(store, N)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "CARTWISE_SMTP_PORT": str(smtp.port),
        "CARTWISE_SMTP_FROM": "shop@cartwise.test",
        "CARTWISE_MEMORY_LIMIT": "1GB",
        "CARTWISE_THREADS": "2",
    }
    process = subprocess.Popen(_command(db), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(smtp.sink.messages) < 2_500 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()[1].decode()
    process.send_signal(signal.SIGKILL)
    process.wait()
    at_kill = len(smtp.sink.messages)
    assert 2_500 <= at_kill < N

    rerun = subprocess.run(_command(db), env=env, capture_output=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr.decode()
    result = json.loads(rerun.stdout)
    assert {"campaign", "audience", "holdout", "sent", "skipped"} <= set(result)
    assert result["campaign"] == "big" and result["audience"] == N and result["sent"] == N

    ids: dict[str, set[str]] = defaultdict(set)
    for message in smtp.sink.messages:
        ids[message["To"]].add(message["Message-ID"])
    assert len(ids) == N
    assert all(len(v) == 1 for v in ids.values())  # exactly one distinct Message-ID each
    # Only the message in flight at the kill may have been delivered twice.
    assert N <= len(smtp.sink.messages) <= N + 1
