"""The send path every message takes: send log first, guards, render, deliver, record.

Exactly once, and the bound: a message's row is in the `send_log` (state `pending`) before any
delivery is tried. Each outcome is appended at once to a journal file beside the store (one
`write` to a file opened for appending: it survives SIGKILL of the process, as the kernel holds
it; `send_journal`) and folded into the send log in batches. A resumed run folds the journal first, then
delivers only rows still pending. So after a kill, only the one message whose delivery had
been handed to the server but whose outcome was not yet journaled can be delivered again, and
it carries the same `Message-ID` (derived from its identity), so a receiver can drop it.

`Sender.send` is the one function a journey step calls (identity, customer, channel, template,
context); broadcasts write their rows up front and call `Sender.deliver_pending`.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from cartwise.campaigns import (
    Channel,
    Customer,
    Decision,
    Message,
    MessageIdentity,
    Outcome,
    TemplateFailed,
    Templates,
    decide,
    make_channel,
    parse_cap,
    parse_quiet_hours,
    sign,
)
from cartwise.core.errors import ConfigError
from cartwise.core.ids import random_token
from cartwise.core.settings import Settings
from cartwise.pipelines.send_journal import append_outcome, fold_journal, journal_path
from cartwise.store import Store

# Channel -> (consent column of `users`, how the address is read).
CONSENT = {"email": "email_consent", "webhook": "sms_consent"}
ADDRESS = {"email": "u.email", "webhook": "coalesce(json_extract_string(u.attributes, '$.phone'), u.user_id)"}
_BATCH = 500
# Outcomes journaled between folds into the send log during a broadcast. A fold is one DuckDB
# transaction (tens of ms of commit on the delivering thread, about the same for 500 outcomes as
# for 2,000); the journal keeps every outcome meanwhile, so this only sets how far the send log's
# counts may lag the deliveries.
_FOLD_EVERY = 2000
_RETRY_DELAYS = (0.5, 1.0, 2.0)  # seconds between attempts on a temporary failure (SMTP 4xx, HTTP 5xx)
_MAX_PAUSE = 30.0  # longest wait between tries while the server is down

ContextFor = Callable[[list[str]], Mapping[str, Mapping[str, Any]]]
"""Extra template context per customer (cart items, recommendations), by user id."""


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def link_secret(store: Store) -> str:
    """The store's key for signing unsubscribe, open and click links (made on first use)."""
    row = store.con.execute("SELECT secret FROM link_secret LIMIT 1").fetchall()
    if row:
        return str(row[0][0])
    secret = random_token(32)
    store.con.execute("INSERT INTO link_secret VALUES (?)", [secret])
    return secret


_STATES = {"sent": "sent", "temporary": "failed_temporary", "permanent": "failed_permanent"}


@dataclass
class _Prepared:
    row: dict[str, Any]
    decision: Decision | None = None
    message: Message | None = None
    failure: str | None = None


@dataclass
class SendReport:
    sent: int = 0
    held: int = 0
    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Sender:
    """Delivers messages for one store. `access()` yields the store for a short database step
    (the service passes its gate, so the writer and readers take turns); delivery runs outside it."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        access: Callable[[], AbstractContextManager[Store]] | None = None,
        context_for: ContextFor | None = None,
        on_pause: Callable[[str, float], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.store = store
        self.settings = settings
        self.access = access or (lambda: nullcontext(store))
        self.context_for = context_for
        self.on_pause = on_pause
        self.sleep = sleep
        self.templates = Templates(settings.templates_dir)
        self.cap = parse_cap(settings.frequency_cap)
        self.quiet = parse_quiet_hours(settings.quiet_hours)
        self.base = settings.public_url.rstrip("/")
        self._channels: dict[str, Channel] = {}
        self._channels_lock = threading.Lock()
        self._lock = threading.RLock()  # the delivery thread and the preparing thread share the store
        with self._db() as s:
            self.secret = link_secret(s)
            fold_journal(s)
        self._journal_file = journal_path(store)
        self._journal = os.open(self._journal_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    @contextmanager
    def _db(self) -> Iterator[Store]:
        with self._lock, self.access() as store:
            yield store

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        os.close(self._journal)
        with self._db() as s:
            fold_journal(s)

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def channel(self, name: str) -> Channel:
        with self._channels_lock:  # the preparing thread encodes with the channel that delivers
            if name not in self._channels:
                self._channels[name] = make_channel(name, self.settings)
            return self._channels[name]

    # -- links -----------------------------------------------------------------------------
    def unsubscribe_url(self, key: str, user_id: str, channel: str) -> str:
        return f"{self.base}/api/v1/campaigns/unsubscribe/{sign(self.secret, 'u', key)}"

    def pixel_url(self, key: str) -> str:
        return f"{self.base}/api/v1/campaigns/open/{sign(self.secret, 'o', key)}.gif"

    def click_url(self, key: str, url: str) -> str:
        return f"{self.base}/api/v1/campaigns/click/{sign(self.secret, 'c', key, url)}"

    # -- one message -------------------------------------------------------------------------
    def send(
        self,
        identity: MessageIdentity,
        user_id: str,
        channel: str,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        transactional: bool = False,
    ) -> str:
        """Send one message at most once (the journey step's entry point); returns its state.
        A second call with the same identity sends nothing and returns the recorded state."""
        with self._db() as s:
            existing = s.con.execute(
                "SELECT state FROM send_log WHERE message_key = ?", [identity.key]
            ).fetchall()
            if not existing:
                _insert_pending(s, [identity], channel, template, transactional, self.settings.smtp_from)
        if existing and existing[0][0] != "pending" and existing[0][0] != "failed_temporary":
            return str(existing[0][0])
        report = SendReport()
        self._deliver_rows(self._load([identity.key]), report, {user_id: dict(context or {})})
        with self._db() as s:
            fold_journal(s)
            return str(
                s.con.execute("SELECT state FROM send_log WHERE message_key = ?", [identity.key]).fetchall()[
                    0
                ][0]
            )

    def send_many(
        self, messages: Sequence[tuple[MessageIdentity, str, str, Mapping[str, Any] | None]]
    ) -> dict[str, str]:
        """`send` for many messages at once, (identity, channel, template, context) each: one
        outbox write, one read of the guards' inputs, one fold of the journal, so a round of
        journey sends costs a few statements instead of a few per message. Each identity is
        sent at most once; returns each message's state by its key."""
        keys = [m[0].key for m in messages]
        with self._db() as s:
            s.con.register("_asked", pa.table({"message_key": keys}))
            try:
                existing = dict(
                    s.con.execute(
                        "SELECT message_key, state FROM send_log JOIN _asked USING (message_key)"
                    ).fetchall()
                )
            finally:
                s.con.unregister("_asked")
            new: dict[tuple[str, str], list[MessageIdentity]] = defaultdict(list)
            for identity, channel, template, _context in messages:
                if identity.key not in existing:
                    new[(channel, template)].append(identity)
            for (channel, template), identities in new.items():
                _insert_pending(s, identities, channel, template, False, self.settings.smtp_from)
        contexts = {m[0].key: dict(m[3] or {}) for m in messages}
        todo = [k for k in dict.fromkeys(keys) if existing.get(k) in (None, "pending", "failed_temporary")]
        report = SendReport()
        for row in self._load(todo) if todo else []:
            self._finish(self._prepare(row, contexts[row["message_key"]]), report)
        with self._db() as s:
            fold_journal(s)
            s.con.register("_asked", pa.table({"message_key": keys}))
            try:
                return dict(
                    s.con.execute(
                        "SELECT message_key, state FROM send_log JOIN _asked USING (message_key)"
                    ).fetchall()
                )
            finally:
                s.con.unregister("_asked")

    # -- many messages -----------------------------------------------------------------------
    def deliver_pending(self, source: str, report: SendReport | None = None) -> SendReport:
        """Deliver every due pending (or temporarily failed) row of `source`.

        A second thread reads the rows in batches, applies the guards and renders; this thread
        delivers one message at a time and journals each outcome, so rendering overlaps the SMTP
        round trips while at most one message is ever in flight."""
        report = report or SendReport()
        prepared: queue.Queue[_Prepared | BaseException | None] = queue.Queue(maxsize=256)
        stop = threading.Event()

        def due(after: str) -> list[str]:
            """The next page of `source`'s due keys above `after`, in key order."""
            with self._db() as s:
                return [
                    r[0]
                    for r in s.con.execute(
                        """SELECT message_key FROM send_log WHERE source = ?
                        AND state IN ('pending', 'failed_temporary')
                        AND (not_before IS NULL OR not_before <= ?) AND message_key > ?
                        ORDER BY message_key LIMIT ?""",
                        [source, now_utc(), after, _BATCH],
                    ).fetchall()
                ]

        def produce() -> None:
            # Passes over the due rows in key order, a page at a time from the last key of the
            # page before (reading every due key for each page made a broadcast quadratic), until
            # a pass finds nothing new: a row that falls due meanwhile (a hold ending) is taken
            # by the next pass, and `done` (rows prepared but not yet folded into the send log
            # still read as pending) keeps any row from being prepared twice.
            done: set[str] = set()
            try:
                fresh = True
                while fresh and not stop.is_set():
                    fresh, after = False, ""
                    while not stop.is_set() and (page := due(after)):
                        after = page[-1]
                        keys = [k for k in page if k not in done]
                        if not keys:
                            continue
                        fresh = True
                        done.update(keys)
                        rows = self._load(keys)
                        with self._db():
                            extra = self.context_for([r["user_id"] for r in rows]) if self.context_for else {}
                        for row in rows:
                            if stop.is_set():
                                return
                            prepared.put(self._prepare(row, extra.get(row["user_id"], {})))
            except BaseException as exc:  # handed to the delivering thread, which raises it
                prepared.put(exc)
            finally:
                prepared.put(None)

        producer = threading.Thread(target=produce, name="cartwise-prepare", daemon=True)
        producer.start()
        try:
            since_fold = 0
            while (item := prepared.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                self._finish(item, report)
                since_fold += 1
                if since_fold >= _FOLD_EVERY:
                    with self._db() as s:
                        fold_journal(s)
                    since_fold = 0
        finally:
            stop.set()
            while producer.is_alive():
                with suppress(queue.Empty):
                    prepared.get(timeout=0.05)
        with self._db() as s:
            fold_journal(s)
            report.held = int(
                s.con.execute(
                    "SELECT count(*) FROM send_log WHERE source = ? AND state = 'pending' AND not_before > ?",
                    [source, now_utc()],
                ).fetchall()[0][0]
            )
        return report

    def _load(self, keys: list[str]) -> list[dict[str, Any]]:
        """The send-log rows of `keys` with each customer's address, consent, zone, suppression
        and recent sends on the row's channel."""
        with self._db() as s:
            s.con.register("_keys", pa.table({"message_key": keys}))
            try:
                rows = []
                for channel in CONSENT:
                    rows += s.arrow(
                        f"""SELECT l.message_key, l.source, l.step, l.user_id, l.channel, l.template,
                            l.message_id, l.attempts, l.transactional, {ADDRESS[channel]} AS to_address,
                            coalesce(u.{CONSENT[channel]}, false) AS consent, u.country,
                            json_extract_string(u.attributes, '$.time_zone') AS time_zone,
                            ({ADDRESS[channel]}) IN (SELECT address FROM suppressions) AS suppressed,
                            (SELECT list(r.sent_at) FROM send_log r WHERE r.user_id = l.user_id
                               AND r.channel = l.channel AND r.state = 'sent' AND NOT r.transactional
                               AND r.sent_at > ?) AS recent
                        FROM send_log l JOIN _keys k USING (message_key)
                        LEFT JOIN users u ON u.user_id = l.user_id
                        WHERE l.channel = ? ORDER BY l.message_key""",
                        [now_utc() - self.cap.window, channel],
                    ).to_pylist()
            finally:
                s.con.unregister("_keys")
        return rows

    def _journal_write(
        self,
        key: str,
        state: str,
        reason: str,
        attempts: int,
        address: str | None,
        not_before: datetime | None = None,
    ) -> None:
        record = {
            "message_key": key,
            "state": state,
            "reason": reason,
            "attempts": attempts,
            "at": now_utc().isoformat(),
            "not_before": not_before.isoformat() if not_before else None,
            "address": address,
        }
        append_outcome(self._journal, self._journal_file, record)

    def _deliver_rows(
        self, rows: list[dict[str, Any]], report: SendReport, extra: Mapping[str, Mapping[str, Any]]
    ) -> None:
        for row in rows:
            self._finish(self._prepare(row, extra.get(row["user_id"], {})), report)

    def _prepare(self, row: dict[str, Any], extra: Mapping[str, Any]) -> _Prepared:
        """Guards, then rendering: what to do with one send-log row."""
        recent = [t.replace(tzinfo=UTC) for t in (row["recent"] or [])]
        decision = decide(
            Customer(
                row["user_id"], row["to_address"], bool(row["consent"]), row["time_zone"], row["country"]
            ),
            datetime.now(UTC),
            recent_sends=recent,
            cap=self.cap,
            quiet=self.quiet,
            suppressed=bool(row["suppressed"]),
            transactional=bool(row["transactional"]),
        )
        if decision.action != "send":
            return _Prepared(row, decision=decision)
        try:
            message = self._render(row, extra)
        except TemplateFailed as exc:
            return _Prepared(row, failure=str(exc))
        encode = getattr(self.channel(row["channel"]), "encode", None)
        return _Prepared(row, message=encode(message) if encode is not None else message)

    def _finish(self, item: _Prepared, report: SendReport) -> None:
        """Journal a skip, hold or failure, or deliver the message and journal its outcome."""
        row = item.row
        key, address, attempts = row["message_key"], row["to_address"], row["attempts"]
        decision = item.decision
        if decision is not None and decision.action == "skip":
            self._journal_write(key, decision.state, "", attempts, address)
            report.skipped[decision.reason] += 1
        elif decision is not None:  # held for quiet hours
            until = decision.until.astimezone(UTC).replace(tzinfo=None) if decision.until else None
            self._journal_write(key, "pending", "quiet_hours", attempts, address, until)
            report.held += 1
        elif item.failure is not None:
            self._journal_write(key, "failed_permanent", item.failure, attempts + 1, address)
            report.failed["template"] += 1
        else:
            assert item.message is not None
            outcome, tries = self._deliver(row["channel"], item.message, attempts)
            state = _STATES[outcome.state]
            self._journal_write(key, state, outcome.reason, tries, address)
            if state == "sent":
                report.sent += 1
            else:
                report.failed[state] += 1

    def _render(self, row: dict[str, Any], extra: Mapping[str, Any]) -> Message:
        key, user_id, channel = row["message_key"], row["user_id"], row["channel"]
        unsubscribe = self.unsubscribe_url(key, user_id, channel)
        context = {
            "customer": {"user_id": user_id, "email": row["to_address"], "country": row["country"]},
            "items": [],
            "recommendations": [],
            "shop_url": self.base + "/",
            "unsubscribe_url": unsubscribe,
            **extra,
        }
        rendered = self.templates.render(row["template"], context, lambda url: self.click_url(key, url))
        html = rendered.html
        if "</body>" in html:
            pixel = f'<img src="{self.pixel_url(key)}" width="1" height="1" alt="">'
            html = html.replace("</body>", pixel + "</body>", 1)
        headers = {}
        if not row["transactional"]:
            headers = {
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        return Message(
            key=key,
            message_id=row["message_id"],
            to=row["to_address"],
            subject=rendered.subject,
            html=html,
            text=rendered.text,
            headers=headers,
            data={"user_id": user_id, "source": row["source"], "step": row["step"]},
        )

    def _deliver(self, channel_name: str, message: Message, attempts: int) -> tuple[Outcome, int]:
        """Try until sent, refused, or out of retries; a server that is down pauses sending
        (waits 1, 2, 4 ... up to 30 s between tries) and resumes when it is back."""
        channel = self.channel(channel_name)
        retries = 0
        pause = 1.0
        while True:
            attempts += 1
            outcome = channel.send(message)
            if outcome.state != "temporary":
                return outcome, attempts
            if outcome.down:
                if self.on_pause is not None:
                    self.on_pause(outcome.reason, pause)
                self.sleep(pause)
                pause = min(pause * 2, _MAX_PAUSE)
                continue
            if retries >= len(_RETRY_DELAYS):
                return outcome, attempts
            self.sleep(_RETRY_DELAYS[retries])
            retries += 1


def _insert_pending(
    store: Store,
    identities: list[MessageIdentity],
    channel: str,
    template: str,
    transactional: bool,
    sender: str,
) -> None:
    """Write `pending` rows for identities not yet in the send log (caller holds a transaction
    or accepts one statement's atomicity)."""
    if not identities:
        return
    now = now_utc()
    table = pa.table(
        {
            "message_key": [i.key for i in identities],
            "source": [i.source for i in identities],
            "step": [i.step for i in identities],
            "user_id": [i.customer for i in identities],
            "occurrence": pa.array([i.occurrence for i in identities], pa.int32()),
            "message_id": [i.message_id(sender) for i in identities],
        }
    )
    store.con.register("_pending", table)
    try:
        store.con.execute(
            """INSERT INTO send_log SELECT p.message_key, p.source, p.step, p.user_id, p.occurrence,
                ?, ?, NULL, p.message_id, 'pending', NULL, 0, ?, ?, ?, NULL, NULL
            FROM _pending p WHERE p.message_key NOT IN (SELECT message_key FROM send_log)""",
            [channel, template, transactional, now, now],
        )
    finally:
        store.con.unregister("_pending")


def insert_pending(
    store: Store,
    identities: list[MessageIdentity],
    channel: str,
    template: str,
    *,
    transactional: bool = False,
) -> None:
    """Public form of the outbox write, for broadcasts (inside their own transaction)."""
    if channel not in CONSENT:
        raise ConfigError(
            f"{channel!r} has no consent column; use one of {', '.join(CONSENT)}.", parameter="channel"
        )
    _insert_pending(store, identities, channel, template, transactional, store.settings.smtp_from)


__all__ = ["SendReport", "Sender", "fold_journal", "insert_pending", "link_secret", "timedelta"]
