"""Erasing a customer a message was just sent to: her address leaves the send journal at once.

The sender appends each outcome (with the recipient's address) to a journal beside the store
and folds it into the send log in batches; a kill leaves it unfolded. A real SMTP server on
127.0.0.1 holds chosen deliveries open, so each step happens at a known point, without sleeps.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.smtp import SMTP, Envelope, Session

from cartwise.core.settings import get_settings
from cartwise.store import Store, open_store

from .smtp_support import Sink, SmtpServer, make_shop, settings_for_smtp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from service_support import serve_shop

ROOT = Path(__file__).resolve().parents[2]
WAIT = 120.0  # seconds: a bound for a step that normally takes well under one


class HeldSink(Sink):
    """A sink that holds the DATA of the messages numbered in `hold` (0-based, in arrival order)
    until the test releases them; `arrived[n]` is set when message n reaches DATA."""

    def __init__(self, hold: set[int]) -> None:
        super().__init__()
        self.recipients: list[str] = []
        self.arrived = {n: threading.Event() for n in hold}
        self.release = {n: threading.Event() for n in hold}

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        number = len(self.recipients)
        self.recipients.append(str(envelope.rcpt_tos[0]))
        if number in self.arrived:
            self.arrived[number].set()
            await asyncio.get_running_loop().run_in_executor(None, self.release[number].wait, WAIT)
        return await super().handle_DATA(server, session, envelope)


def _held_smtp(hold: set[int]) -> SmtpServer:
    server = SmtpServer()
    server.sink = HeldSink(hold)
    return server.start()


def _arrived(sink: HeldSink, number: int) -> None:
    assert sink.arrived[number].wait(WAIT), f"message {number} never reached the SMTP server"


def _files_holding(folder: Path, needles: list[str], *, database: Path) -> list[str]:
    """Every file under `folder` (journal, collector's log, artefacts, anything) whose bytes hold
    one of `needles`, except DuckDB's own files (the database and its write-ahead log): the
    engine keeps deleted values in their blocks until they are reused, which no erasure in
    Cartwise can undo short of rewriting the whole database (noted in the README)."""
    found = []
    engine = {database, database.with_name(database.name + ".wal")}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path in engine:
            continue
        data = path.read_bytes()
        found += [f"{path.name}: {n}" for n in needles if n.encode() in data]
    return found


def _tables_holding(store: Store, needles: list[str]) -> list[str]:
    """`table.column` of every text or JSON value in the store holding one of `needles`."""
    found = []
    columns = store.con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main' "
        "AND data_type IN ('VARCHAR', 'JSON')"
    ).fetchall()
    for table, column in columns:
        for needle in needles:
            hits = store.con.execute(
                f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS VARCHAR) LIKE ?', [f"%{needle}%"]
            ).fetchall()[0][0]
            if hits:
                found.append(f"{table}.{column}: {needle}")
    return found


def _env(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "CARTWISE_SMTP_PORT": str(port),
        "CARTWISE_SMTP_FROM": "shop@cartwise.test",
        "CARTWISE_MEMORY_LIMIT": "512MB",
        "CARTWISE_THREADS": "1",
    }


def _cli(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "cartwise", *args, "--db", str(db), "--json"]


def test_the_cli_erasure_folds_what_a_killed_broadcast_left_in_the_journal(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    smtp = _held_smtp({1})
    sink = smtp.sink
    assert isinstance(sink, HeldSink)
    try:
        with open_store(db, settings=settings_for_smtp(db, smtp.port)) as store:
            make_shop(store, 5)
        send = _cli(db, "campaigns", "send", "hello", "--rule", "orders >= 0", "--template", "welcome")
        process = subprocess.Popen(
            [*send, "--holdout", "0"], env=_env(smtp.port), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            _arrived(sink, 1)  # the first message was delivered and journaled; the second is held
            process.send_signal(signal.SIGKILL)  # killed before any fold: the journal keeps the outcome
            process.wait(WAIT)
        finally:
            sink.release[1].set()
            if process.poll() is None:
                process.kill()
                process.wait()
    finally:
        smtp.stop()
    address = sink.recipients[0]
    who = address.split("@")[0]
    journal = tmp_path / "shop_sendlog.journal"
    assert address.encode() in journal.read_bytes()  # what an erasure must not leave behind

    done = subprocess.run(
        _cli(db, "customers", "forget", who), env=_env(smtp.port), capture_output=True, timeout=WAIT
    )
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["removed"]["send_log"] == 1

    assert _files_holding(tmp_path, [address, who], database=db) == []
    with open_store(db, settings=get_settings(db=db, memory_limit="512MB", threads=1)) as store:
        assert _tables_holding(store, [address, who]) == []
        # The other customers' messages are kept, still pending (their broadcast was killed).
        kept = store.con.execute("SELECT state, count(*) FROM send_log GROUP BY state").fetchall()
    assert kept == [("pending", 4)]


def _broadcast(url: str, key: str, out: dict[str, Any]) -> None:
    body = {"name": "hello", "rule": "orders >= 0", "template": "welcome", "holdout": 0}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=WAIT) as client:
        response = client.post("/api/v1/campaigns", json=body)
    out["status"], out["body"] = response.status_code, response.json()


def test_the_service_erasure_leaves_no_address_in_the_journal_even_mid_delivery(tmp_path: Path) -> None:
    smtp = _held_smtp({1, 2})
    sink = smtp.sink
    assert isinstance(sink, HeldSink)
    env = {"CARTWISE_SMTP_PORT": str(smtp.port), "CARTWISE_SMTP_FROM": "shop@cartwise.test"}
    result: dict[str, Any] = {}
    try:
        with serve_shop(tmp_path, lambda s: make_shop(s, 5), env=env) as run:
            sending = threading.Thread(target=_broadcast, args=(run.url, run.keys["admin"], result))
            sending.start()
            try:
                _arrived(sink, 1)
                # Ann's message was delivered and journaled, not yet folded; Bea's is in flight.
                ann, bea = sink.recipients[0], sink.recipients[1]
                journal = run.db.with_name("shop_sendlog.journal")
                assert ann.encode() in journal.read_bytes()
                with run.client("admin") as admin:
                    for address in (ann, bea):
                        response = admin.delete(f"/api/v1/customers/{address.split('@')[0]}")
                        assert response.status_code == 200, response.text
                needles = [ann, bea, ann.split("@")[0], bea.split("@")[0]]
                assert _files_holding(tmp_path, needles, database=run.db) == []
                # Bea's delivery completes after her erasure: its outcome is not journaled.
                sink.release[1].set()
                _arrived(sink, 2)
                assert _files_holding(tmp_path, needles, database=run.db) == []
            finally:
                for release in sink.release.values():
                    release.set()
                sending.join(WAIT)
        assert result["status"] == 200, result
        # Five messages went out; the result counts the send log, where the erased two are gone.
        assert len(sink.messages) == 5 and result["body"]["sent"] == 3
    finally:
        smtp.stop()
    assert _files_holding(tmp_path, needles, database=run.db) == []
    with open_store(run.db, settings=get_settings(db=run.db, memory_limit="512MB", threads=1)) as store:
        assert _tables_holding(store, needles) == []
        sent = store.con.execute("SELECT count(*) FROM send_log WHERE state = 'sent'").fetchall()[0][0]
    assert sent == 3  # the three other customers' outcomes were folded as usual
