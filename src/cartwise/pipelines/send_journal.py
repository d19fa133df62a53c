"""The send journal: outcomes appended beside the store before they are folded into `send_log`.

Each outcome of a delivery is one JSON line appended to `<store>_sendlog.journal` (one `write`
to a file opened for appending, so it survives SIGKILL) and folded into the send log in
batches (`fold_journal`). A line holds the recipient's address, so an erasure must not leave
it there until the next fold: `held_for_erasure` folds the journal and keeps it held while the
customer's rows are deleted, and the message keys it is given are dropped from every later
write of this process (an outcome of a delivery that was in flight during the erasure has no
row to land in, and its address must not reach the file). Only the process that holds the
store can send or erase, so remembering those keys in memory covers every writer.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from cartwise.store import Store


def journal_path(store: Store) -> Path:
    return store.path.with_name(store.path.stem + "_sendlog.journal")


# Senders of one process (a broadcast, the resumer, the journey engine) share the journal: a fold
# reads it and then empties it, so no outcome may be appended in between (it would be lost).
_JOURNAL_LOCK = threading.Lock()

# Journal file -> message keys whose send-log rows were erased (see the module docstring).
_ERASED: dict[str, set[str]] = {}


def fold_journal(store: Store) -> int:
    """Write the journal's outcomes into the send log (idempotent), record hard bounces as
    suppressions, then empty the journal. Returns the outcomes folded."""
    with _JOURNAL_LOCK:
        return _fold_journal(store)


def append_outcome(fd: int, path: Path, record: dict[str, Any]) -> bool:
    """Append one outcome to the journal open as `fd` (the file at `path`); False, and nothing
    written, when the message's row was erased meanwhile."""
    with _JOURNAL_LOCK:
        if record["message_key"] in _ERASED.get(str(path), ()):
            return False
        os.write(fd, (json.dumps(record) + "\n").encode())
        return True


@contextmanager
def held_for_erasure(store: Store) -> Iterator[Callable[[Iterable[str]], None]]:
    """Fold the journal, then hold it (no outcome is appended) until the block ends. The block
    deletes the customer's send-log rows and passes their message keys to the function it gets,
    so outcomes of those messages still in flight are never written. Take the store's writer
    (the service's gate) before this, as every fold does."""
    path = str(journal_path(store))
    with _JOURNAL_LOCK:
        _fold_journal(store)
        yield lambda keys: _ERASED.setdefault(path, set()).update(keys)


def _fold_journal(store: Store) -> int:
    path = journal_path(store)
    if not path.exists() or path.stat().st_size == 0:
        return 0
    rows: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # a line cut by a kill: that outcome is unknown, the row stays pending
            record = json.loads(line)
            rows[record["message_key"]] = record  # a later outcome of the same message wins
    if rows:
        table = pa.table(
            {
                "message_key": [r["message_key"] for r in rows.values()],
                "state": [r["state"] for r in rows.values()],
                "reason": [r["reason"] for r in rows.values()],
                "attempts": pa.array([r["attempts"] for r in rows.values()], pa.int32()),
                "at": pa.array([datetime.fromisoformat(r["at"]) for r in rows.values()], pa.timestamp("us")),
                "not_before": pa.array(
                    [
                        datetime.fromisoformat(r["not_before"]) if r["not_before"] else None
                        for r in rows.values()
                    ],
                    pa.timestamp("us"),
                ),
                "address": [r["address"] for r in rows.values()],
            }
        )
        with store.transaction() as con:
            con.register("_journal", table)
            try:
                con.execute(
                    """UPDATE send_log SET state = j.state, reason = j.reason, attempts = j.attempts,
                        updated_at = j.at, address = coalesce(j.address, send_log.address),
                        sent_at = CASE WHEN j.state = 'sent' THEN j.at ELSE send_log.sent_at END,
                        not_before = j.not_before
                    FROM _journal j WHERE send_log.message_key = j.message_key"""
                )
                con.execute(
                    """INSERT INTO suppressions SELECT DISTINCT j.address, j.reason, j.at FROM _journal j
                    JOIN send_log s ON s.message_key = j.message_key
                    WHERE j.state = 'failed_permanent' AND s.channel = 'email' AND j.reason LIKE 'SMTP 55%'
                      AND j.address IS NOT NULL
                      AND j.address NOT IN (SELECT address FROM suppressions)"""
                )
            finally:
                con.unregister("_journal")
    os.truncate(path, 0)
    return len(rows)


__all__ = ["append_outcome", "fold_journal", "held_for_erasure", "journal_path"]
