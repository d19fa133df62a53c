"""The journey engine's store steps: enter customers, move each run along its steps, send.

State lives in the store, never only in memory: each customer's run (`journey_runs`) holds the
path of its step, its state and, while it waits, `due_at` (a durable timer). So a restarted
service resumes every wait where it was. Entry is idempotent on (journey, customer, run key),
the run key being the trigger's id (the event id), so a replayed event log enters nobody twice.
A run always finishes the journey version it entered. Every `send` goes through
`Sender.send` with the identity (`journey:NAME:vN`, step path, customer, occurrence), so a
step re-run after a crash finds its message in the send log and sends nothing again.

Every database step is short and taken through `access()` (the service passes its gate);
deliveries run outside it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from cartwise.campaigns import (
    Branch,
    Exit,
    Journey,
    MessageIdentity,
    Send,
    Split,
    Wait,
    WaitFor,
    choose_variant,
    time_zone_of,
)
from cartwise.campaigns._guards import COUNTRY_TIME_ZONES
from cartwise.core.errors import CartwiseError
from cartwise.core.settings import Settings
from cartwise.pipelines.journeys import journey_source, load_journey
from cartwise.pipelines.sender import ContextFor, Sender, now_utc
from cartwise.profiles import compile_rule
from cartwise.store import Store

log = logging.getLogger("cartwise.journeys")
CART_DAYS = 7
"""An abandoned cart holds the items added in the last 7 days and since the customer's last purchase."""
REPLENISH_DAYS = 7
"""A run-out date enters the replenishment journey for 7 days after it (not for older ones)."""
_MAX_STEPS = 200  # steps one run may take in a row without waiting (a guard, never reached by valid files)
EVENT_COLUMNS = ("event_id", "user_id", "type", "ts", "item_id", "price")


@dataclass
class Run:
    journey: str
    version: int
    user_id: str
    run_key: str
    occurrence: int
    step: str
    state: str
    due_at: datetime | None
    wait_event: str | None
    variant: str | None
    context: dict[str, Any] = field(default_factory=dict)


_RUN_COLUMNS = (
    "journey, version, user_id, run_key, occurrence, step, state, due_at, wait_event, variant, context"
)


def _run(row: tuple[Any, ...]) -> Run:
    return Run(
        journey=str(row[0]),
        version=int(row[1]),
        user_id=str(row[2]),
        run_key=str(row[3]),
        occurrence=int(row[4]),
        step=str(row[5]),
        state=str(row[6]),
        due_at=row[7],
        wait_event=row[8],
        variant=row[9],
        context=json.loads(row[10]) if row[10] else {},
    )


class JourneyEngine:
    """Runs the store's journeys. `handle_events` takes collected events (enter, exit, wake);
    `run_due` moves every run whose timer is due; `check_triggers` enters audience and
    replenishment journeys; `next_due` says when the next timer fires."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        access: Callable[[], AbstractContextManager[Store]] | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.store = store
        self.settings = settings
        self.access = access or (lambda: nullcontext(store))
        self.clock = clock
        self._definitions: dict[tuple[str, int], Journey] = {}
        self.active: dict[str, tuple[int, Journey]] = {}
        self.sender = Sender(store, settings, access=self.access)
        self._recs: ContextFor | bool | None = False  # False: not looked up yet
        self.reload()

    def close(self) -> None:
        self.sender.close()

    # -- definitions ---------------------------------------------------------------------------
    def reload(self) -> None:
        """Read which version of each journey new customers enter (after an apply)."""
        with self.access() as s:
            rows = s.con.execute(
                """SELECT name, version FROM journeys WHERE active
                QUALIFY version = max(version) OVER (PARTITION BY name)"""
            ).fetchall()
            self.active = {str(n): (int(v), self._definition(s, str(n), int(v))) for n, v in rows}

    def _definition(self, store: Store, name: str, version: int) -> Journey:
        key = (name, version)
        if key not in self._definitions:
            self._definitions[key] = load_journey(store, self.settings, name, version)
        return self._definitions[key]

    def definition(self, name: str, version: int) -> Journey:
        with self.access() as s:
            return self._definition(s, name, version)

    # -- events --------------------------------------------------------------------------------
    def handle_events(self, events: pa.Table) -> int:
        """Exit the runs an `exit_on` event ends, wake runs waiting for an event, enter the
        event-triggered journeys; then run what is due. Returns the customers entered."""
        rows = [
            r
            for r in events.select([c for c in EVENT_COLUMNS if c in events.column_names]).to_pylist()
            if r.get("user_id")
        ]
        if not rows:
            return 0
        self._exit_on_events(rows)
        self._wake_waiting(rows)
        entered = self._enter_on_events(rows)
        self.run_due()
        return entered

    def _exit_on_events(self, rows: list[dict[str, Any]]) -> None:
        ends: dict[str, set[str]] = {}
        for name, version in self._live_versions():
            journey = self.definition(name, version)
            for event in journey.exit_on:
                ends.setdefault(event, set()).add(name)
        hits = [(r["user_id"], r["type"], name) for r in rows for name in ends.get(r["type"], ())]
        if not hits:
            return
        now = self.clock()
        with self.access() as s:
            for user_id, event, name in hits:
                runs = s.con.execute(
                    f"""SELECT {_RUN_COLUMNS} FROM journey_runs WHERE journey = ? AND user_id = ?
                    AND state IN ('active', 'waiting')""",
                    [name, user_id],
                ).fetchall()
                for row in runs:
                    run = _run(row)
                    if event in self._definition(s, run.journey, run.version).exit_on:
                        self._finish(s, run, "exited", f"event:{event}", now)

    def _live_versions(self) -> list[tuple[str, int]]:
        with self.access() as s:
            return [
                (str(n), int(v))
                for n, v in s.con.execute(
                    "SELECT DISTINCT journey, version FROM journey_runs WHERE state IN ('active', 'waiting')"
                ).fetchall()
            ]

    def _wake_waiting(self, rows: list[dict[str, Any]]) -> None:
        now = self.clock()
        by_user: dict[str, set[str]] = {}
        for r in rows:
            by_user.setdefault(r["user_id"], set()).add(r["type"])
        with self.access() as s:
            s.con.register("_woke", pa.table({"user_id": list(by_user)}))
            try:
                waiting = [
                    _run(row)
                    for row in s.con.execute(
                        f"""SELECT {_RUN_COLUMNS} FROM journey_runs JOIN _woke USING (user_id)
                        WHERE state = 'waiting' AND wait_event IS NOT NULL"""
                    ).fetchall()
                ]
            finally:
                s.con.unregister("_woke")
            for run in waiting:
                if run.wait_event in by_user[run.user_id]:
                    journey = self._definition(s, run.journey, run.version)
                    self._log(s, run, run.step, f"event:{run.wait_event}", now)
                    self._move(s, run, journey.next_path(run.step), now)

    def _enter_on_events(self, rows: list[dict[str, Any]]) -> int:
        entered = 0
        for name, (version, journey) in list(self.active.items()):
            if journey.trigger.kind != "event":
                continue
            first: dict[str, dict[str, Any]] = {}
            for r in rows:
                if r["type"] == journey.trigger.value and r["user_id"] not in first:
                    first[r["user_id"]] = r
            if not first:
                continue
            entries = [
                (
                    user,
                    str(r["event_id"]),
                    {
                        "trigger_event": r["event_id"],
                        "trigger_ts": _iso(r.get("ts")),
                        "items": [{"item_id": r["item_id"], "price": r.get("price")}]
                        if r.get("item_id")
                        else [],
                    },
                )
                for user, r in first.items()
            ]
            try:
                entered += self.enter(name, version, journey, entries)
            except CartwiseError as exc:  # e.g. a `where` rule the store no longer fits: this journey only
                log.warning("journey %s: customers not entered: %s", name, exc)
        return entered

    def enter(
        self, name: str, version: int, journey: Journey, entries: list[tuple[str, str, dict[str, Any]]]
    ) -> int:
        """Enter (user, run key, context) entries into `name` version `version`, skipping a
        customer already in the journey (any version) and a run key already entered."""
        now = self.clock()
        with self.access() as s:
            users = [e[0] for e in entries]
            if journey.trigger.where:
                compiled = compile_rule(s, journey.trigger.where, now)
                s.con.register("_cand", pa.table({"user_id": users}))
                try:
                    matching = {
                        r[0]
                        for r in s.con.execute(
                            f"SELECT user_id FROM ({compiled.sql}) WHERE user_id IN (SELECT user_id FROM _cand)",
                            list(compiled.params),
                        ).fetchall()
                    }
                finally:
                    s.con.unregister("_cand")
                entries = [e for e in entries if e[0] in matching]
            if not entries:
                return 0
            s.con.register(
                "_cand", pa.table({"user_id": [e[0] for e in entries], "run_key": [e[1] for e in entries]})
            )
            try:
                taken = s.con.execute(
                    """SELECT c.user_id, (r.run_key = c.run_key) AS same_key, r.state, count(*) OVER (PARTITION BY c.user_id)
                    FROM _cand c JOIN journey_runs r ON r.user_id = c.user_id AND r.journey = ?""",
                    [name],
                ).fetchall()
            finally:
                s.con.unregister("_cand")
            busy = {u for u, same, state, _n in taken if same or state in ("active", "waiting")}
            runs_before = {u: int(n) for u, _same, _state, n in taken}
            fresh = [e for e in entries if e[0] not in busy]
            if not fresh:
                return 0
            table = pa.table(
                {
                    "journey": [name] * len(fresh),
                    "version": pa.array([version] * len(fresh), pa.int32()),
                    "user_id": [e[0] for e in fresh],
                    "run_key": [e[1] for e in fresh],
                    "occurrence": pa.array([runs_before.get(e[0], 0) for e in fresh], pa.int32()),
                    "step": ["0"] * len(fresh),
                    "state": ["active"] * len(fresh),
                    "due_at": pa.array([now] * len(fresh), pa.timestamp("us")),
                    "wait_event": pa.array([None] * len(fresh), pa.string()),
                    "variant": pa.array([None] * len(fresh), pa.string()),
                    "context": [json.dumps(e[2], default=str) for e in fresh],
                    "entered_at": pa.array([now] * len(fresh), pa.timestamp("us")),
                    "updated_at": pa.array([now] * len(fresh), pa.timestamp("us")),
                    "exit_reason": pa.array([None] * len(fresh), pa.string()),
                }
            )
            with s.transaction():
                s.append("journey_runs", table)
                s.append(
                    "journey_steps",
                    pa.table(
                        {
                            "journey": table["journey"],
                            "version": table["version"],
                            "step": ["entry"] * len(fresh),
                            "user_id": table["user_id"],
                            "run_key": table["run_key"],
                            "outcome": ["entered"] * len(fresh),
                            "ts": table["entered_at"],
                        }
                    ),
                )
        return len(fresh)

    # -- timers --------------------------------------------------------------------------------
    def next_due(self) -> datetime | None:
        """When the earliest waiting run's timer fires (UTC, naive), or None."""
        with self.access() as s:
            row = s.con.execute(
                "SELECT min(due_at) FROM journey_runs WHERE state IN ('waiting', 'active')"
            ).fetchall()
        return row[0][0] if row and row[0][0] is not None else None

    def run_due(self) -> int:
        """Move every run that is ready (just entered, woken) or whose timer is due; returns the runs moved."""
        moved = 0
        while True:
            now = self.clock()
            with self.access() as s:
                due = [
                    _run(row)
                    for row in s.con.execute(
                        f"""SELECT {_RUN_COLUMNS} FROM journey_runs WHERE state IN ('active', 'waiting')
                        AND due_at <= ? ORDER BY due_at, journey, user_id, run_key LIMIT 500""",
                        [now],
                    ).fetchall()
                ]
            if not due:
                return moved
            for run in due:
                try:
                    self.advance(run)
                except CartwiseError as exc:  # this run's failure (a rule that no longer fits), only
                    log.warning("journey %s run of %s stopped: %s", run.journey, run.user_id, exc)
                    with self.access() as s:
                        self._finish(s, run, "exited", f"error: {exc}"[:500], self.clock())
                moved += 1

    # -- one run -------------------------------------------------------------------------------
    def advance(self, run: Run) -> None:
        """Take `run` through its steps until it waits, exits or finishes."""
        journey = self.definition(run.journey, run.version)
        now = self.clock()
        nxt: str | None
        if run.state == "waiting":
            step = journey.step(run.step)
            with self.access() as s:
                if isinstance(step, WaitFor):
                    self._log(s, run, run.step, "timeout", now)
                    nxt = f"{run.step}/on_timeout/0" if step.on_timeout else journey.next_path(run.step)
                else:
                    self._log(s, run, run.step, "waited", now)
                    nxt = journey.next_path(run.step)
                if not self._move(s, run, nxt, now):
                    return
        for _ in range(_MAX_STEPS):
            now = self.clock()
            path = run.step
            step = journey.step(path)
            with self.access() as s:
                reason = self._exit_event(s, journey, run)
                if reason is not None:
                    self._finish(s, run, "exited", reason, now)
                    return
                self._log(s, run, path, "entered", now)
                if isinstance(step, Wait | WaitFor):
                    due = (
                        now + timedelta(seconds=step.timeout)
                        if isinstance(step, WaitFor)
                        else self._wait_until(s, run, step, now)
                    )
                    event = step.event if isinstance(step, WaitFor) else None
                    s.con.execute(
                        """UPDATE journey_runs SET state = 'waiting', due_at = ?, wait_event = ?, updated_at = ?
                        WHERE journey = ? AND version = ? AND user_id = ? AND run_key = ?""",
                        [due, event, now, *_key(run)],
                    )
                    return
                if isinstance(step, Exit):
                    self._finish(s, run, "exited", "exit_step", now)
                    return
                if isinstance(step, Branch):
                    matched = self._matches(s, step.rule, run.user_id, now)
                    arm = "then" if matched else "else"
                    self._log(s, run, path, f"branch:{arm}", now)
                    arm_steps = step.then if matched else step.otherwise
                    nxt = f"{path}/{arm}/0" if arm_steps else journey.next_path(path)
                elif isinstance(step, Split):
                    variant = choose_variant(run.journey, run.user_id, step)
                    self._log(s, run, path, f"variant:{variant.name}", now)
                    run.variant = (
                        f"{run.variant},{path}:{variant.name}" if run.variant else f"{path}:{variant.name}"
                    )
                    s.con.execute(
                        """UPDATE journey_runs SET variant = ? WHERE journey = ? AND version = ? AND user_id = ?
                        AND run_key = ?""",
                        [run.variant, *_key(run)],
                    )
                    nxt = f"{path}/{variant.name}/0"
                else:
                    nxt = None
            if isinstance(step, Send):
                state = self._send(run, path, step)
                with self.access() as s:
                    self._log(s, run, path, state, self.clock())
                nxt = journey.next_path(path)
            with self.access() as s:
                if not self._move(s, run, nxt, self.clock()):
                    return
        raise CartwiseError(f"journey {run.journey!r} took {_MAX_STEPS} steps without waiting; add a wait.")

    def _send(self, run: Run, path: str, step: Send) -> str:
        identity = MessageIdentity(
            journey_source(run.journey, run.version), path, run.user_id, run.occurrence
        )
        context = self._context(run, step.template)
        return self.sender.send(identity, run.user_id, step.channel, step.template, context)

    def _exit_event(self, store: Store, journey: Journey, run: Run) -> str | None:
        """`event:TYPE` when the customer did an `exit_on` event since entering, else None."""
        if not journey.exit_on:
            return None
        since = run.context.get("trigger_ts")
        since_at = datetime.fromisoformat(since) if since else datetime(1970, 1, 1)
        placeholders = ", ".join("?" for _ in journey.exit_on)
        row = store.con.execute(
            f"""SELECT type FROM events WHERE user_id = ? AND type IN ({placeholders})
            AND ts >= ? AND event_id IS DISTINCT FROM ? LIMIT 1""",
            [run.user_id, *journey.exit_on, since_at, run.context.get("trigger_event")],
        ).fetchall()
        return f"event:{row[0][0]}" if row else None

    def _matches(self, store: Store, rule: str, user_id: str, now: datetime) -> bool:
        compiled = compile_rule(store, rule, now)
        row = store.con.execute(
            f"SELECT count(*) FROM ({compiled.sql}) WHERE user_id = ?", [*compiled.params, user_id]
        ).fetchall()
        return bool(row[0][0])

    def _zone(self, store: Store, user_id: str) -> ZoneInfo:
        row = store.con.execute(
            "SELECT json_extract_string(attributes, '$.time_zone'), country FROM users WHERE user_id = ?",
            [user_id],
        ).fetchall()
        zone_name, country = row[0] if row else (None, None)
        if not zone_name and (country or "").strip().upper() not in COUNTRY_TIME_ZONES:
            return time_zone_of(self.settings.timezone, None)  # the shop's zone
        return time_zone_of(zone_name, country)

    def _wait_until(self, store: Store, run: Run, step: Wait, now: datetime) -> datetime:
        if step.seconds is not None:
            return now + timedelta(seconds=step.seconds)
        assert step.until is not None
        return next_local_time(now, self._zone(store, run.user_id), step.until)

    def _context(self, run: Run, template: str) -> dict[str, Any]:
        """Template context: `items` (the cart for `abandoned_cart`, else the trigger's items)
        with title, price and, when the catalogue has a `url` attribute, url; and each
        customer's recommendations when a recommender is saved."""
        wanted: dict[str, float | None] = {
            i["item_id"]: i.get("price") for i in run.context.get("items", []) if i.get("item_id")
        }
        with self.access() as s:
            if template == "abandoned_cart":
                since = self.clock() - timedelta(days=CART_DAYS)
                for item_id, price in s.con.execute(
                    """SELECT item_id, any_value(price) FROM events WHERE user_id = ? AND type = 'add_to_cart'
                    AND item_id IS NOT NULL AND ts >= greatest(?, coalesce((SELECT max(ts) FROM events
                        WHERE user_id = ? AND type = 'purchase'), ?))
                    GROUP BY item_id ORDER BY min(ts)""",
                    [run.user_id, since, run.user_id, since],
                ).fetchall():
                    wanted.setdefault(item_id, price)
            items = []
            if wanted:
                s.con.register("_items", pa.table({"item_id": list(wanted)}))
                try:
                    known = {
                        r[0]: r[1:]
                        for r in s.con.execute(
                            """SELECT item_id, title, price, json_extract_string(attributes, '$.url')
                            FROM items JOIN _items USING (item_id)"""
                        ).fetchall()
                    }
                finally:
                    s.con.unregister("_items")
                for item_id, event_price in wanted.items():
                    title, price, url = known.get(item_id, (None, None, None))
                    price = price if price is not None else event_price
                    if price is None:
                        continue  # the templates show a price; an item without one is left out
                    item: dict[str, Any] = {
                        "item_id": item_id,
                        "title": title or item_id,
                        "price": float(price),
                    }
                    if url:
                        item["url"] = url
                    items.append(item)
        context: dict[str, Any] = {"items": items}
        recs = self._recommendations()
        if recs is not None:
            context.update(recs([run.user_id]).get(run.user_id, {}))
        return context

    def _recommendations(self) -> ContextFor | None:
        if self._recs is False:
            from cartwise.pipelines import recs_context

            try:
                self._recs = recs_context.for_store(self.store, self.settings, self.access)
            except Exception as exc:  # a broken artefact costs the recommendations, not the message
                log.warning("recommendations unavailable for journeys: %s", exc)
                self._recs = None
        return self._recs if self._recs is not False else None  # type: ignore[return-value]

    # -- store writes --------------------------------------------------------------------------
    def _log(self, store: Store, run: Run, step: str, outcome: str, now: datetime) -> None:
        store.con.execute(
            "INSERT INTO journey_steps VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run.journey, run.version, step, run.user_id, run.run_key, outcome, now],
        )

    def _move(self, store: Store, run: Run, nxt: str | None, now: datetime) -> bool:
        """Point the run at step `nxt` (ready now), or finish it when there is none; False when finished."""
        if nxt is None:
            self._finish(store, run, "done", None, now)
            return False
        run.step, run.state, run.due_at, run.wait_event = nxt, "active", now, None
        store.con.execute(
            """UPDATE journey_runs SET step = ?, state = 'active', due_at = ?, wait_event = NULL, updated_at = ?
            WHERE journey = ? AND version = ? AND user_id = ? AND run_key = ?""",
            [nxt, now, now, *_key(run)],
        )
        return True

    def _finish(self, store: Store, run: Run, state: str, reason: str | None, now: datetime) -> None:
        run.state = state
        store.con.execute(
            """UPDATE journey_runs SET state = ?, due_at = NULL, wait_event = NULL, updated_at = ?, exit_reason = ?
            WHERE journey = ? AND version = ? AND user_id = ? AND run_key = ?""",
            [state, now, reason, *_key(run)],
        )
        self._log(store, run, run.step, f"{state}:{reason}" if reason else state, now)

    # -- audience and date triggers -------------------------------------------------------------
    def check_triggers(self) -> int:
        """Enter the customers who are in an audience-triggered journey's audience and have never
        entered it, and those whose replenishment date has come; returns the customers entered."""
        from cartwise.pipelines.audiences import audience_members

        entered = 0
        now = self.clock()
        for name, (version, journey) in list(self.active.items()):
            kind = journey.trigger.kind
            entries: list[tuple[str, str, dict[str, Any]]]
            if kind == "audience":
                try:
                    with self.access() as s:
                        members = audience_members(s, journey.trigger.value, now)
                except CartwiseError as exc:  # the audience was deleted or no longer fits the store
                    log.warning("journey %s: audience %r unavailable: %s", name, journey.trigger.value, exc)
                    continue
                entries = [(u, "audience", {"trigger_ts": _iso(now), "items": []}) for u in members]
            elif kind == "date":
                entries = self._replenishment_entries(now)
            else:
                continue
            if entries:
                try:
                    entered += self.enter(name, version, journey, entries)
                except CartwiseError as exc:
                    log.warning("journey %s: customers not entered: %s", name, exc)
        if entered:
            self.run_due()
        return entered

    def _replenishment_entries(self, now: datetime) -> list[tuple[str, str, dict[str, Any]]]:
        """(user, run key, context) for each customer and item bought at least twice whose
        expected run-out (last purchase + the customer's own mean interval between purchases of
        it) fell within the last REPLENISH_DAYS and who has not bought it since."""
        with self.access() as s:
            rows = s.con.execute(
                """WITH buys AS (
                    SELECT user_id, item_id, ts, any_value(price) AS price
                    FROM events WHERE type = 'purchase' AND item_id IS NOT NULL AND user_id IS NOT NULL
                    GROUP BY user_id, item_id, ts),
                per AS (
                    SELECT user_id, item_id, count(*) AS n, min(ts) AS first, max(ts) AS last,
                           arg_max(price, ts) AS price
                    FROM buys GROUP BY user_id, item_id HAVING count(*) >= 2)
                SELECT user_id, item_id, last, price,
                       last + (last - first) / (n - 1) AS runs_out
                FROM per
                WHERE last + (last - first) / (n - 1) BETWEEN ? AND ?
                ORDER BY user_id, item_id""",
                [now - timedelta(days=REPLENISH_DAYS), now],
            ).fetchall()
        seen: set[str] = set()
        out = []
        for user_id, item_id, last, price, runs_out in rows:
            if user_id in seen:
                continue  # one run per customer at a time: the earliest item here
            seen.add(user_id)
            out.append(
                (
                    user_id,
                    f"replenishment:{item_id}:{_iso(last)}",
                    {"trigger_ts": _iso(runs_out), "items": [{"item_id": item_id, "price": price}]},
                )
            )
        return out

    # -- held messages -------------------------------------------------------------------------
    def resume_held(self) -> int:
        """Deliver journey messages held for quiet hours (or left pending by a crash) once due."""
        with self.access() as s:
            sources = [
                r[0]
                for r in s.con.execute(
                    """SELECT DISTINCT source FROM send_log WHERE source LIKE 'journey:%'
                    AND state IN ('pending', 'failed_temporary') AND (not_before IS NULL OR not_before <= ?)""",
                    [now_utc()],
                ).fetchall()
            ]
        return sum(self.sender.deliver_pending(source).sent for source in sources)


def _key(run: Run) -> list[Any]:
    return [run.journey, run.version, run.user_id, run.run_key]


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (None if value is None else str(value))


def next_local_time(now: datetime, zone: ZoneInfo, clock: str) -> datetime:
    """The first instant after `now` (naive UTC) when the local time in `zone` is `clock`
    (HH:MM), as naive UTC. A time skipped by a clock change falls on the hour after."""
    from datetime import UTC

    hour, minute = (int(p) for p in clock.split(":"))
    local = now.replace(tzinfo=UTC).astimezone(zone)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        candidate = (candidate + timedelta(days=1)).replace(hour=hour, minute=minute)
    return candidate.astimezone(UTC).replace(tzinfo=None)


__all__ = ["EVENT_COLUMNS", "JourneyEngine", "Run", "next_local_time"]
