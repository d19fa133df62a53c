"""The journey engine's store steps: enter customers, move each run along its steps, send.

State lives in the store, never only in memory: each customer's run (`journey_runs`) holds the
path of its step, its state and, while it waits, `due_at` (a durable timer). So a restarted
service resumes every wait where it was (a duration's wait lasts `journey_time_scale` times less
in demos; see `journey_dates`). Entry is idempotent on (journey, customer, run key),
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
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

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
from cartwise.pipelines.journey_dates import next_local_time, replenishment_entries, wait_end
from cartwise.pipelines.journeys import journey_source, load_journey
from cartwise.pipelines.sender import ContextFor, Sender, now_utc
from cartwise.profiles import compile_rule
from cartwise.store import Store

log = logging.getLogger("cartwise.journeys")
CART_DAYS = 7
"""An abandoned cart holds the items added in the last 7 days and since the customer's last purchase."""
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
    updated_at: datetime | None = None
    exit_reason: str | None = None


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
        self.time_scale = settings.journey_time_scale  # durations only; see journey_dates.wait_end
        self._definitions: dict[tuple[str, int], Journey] = {}
        self.active: dict[str, tuple[int, Journey]] = {}
        self._sender: Sender | None = None  # made at the first send (it opens the journal beside the store)
        self._recs: ContextFor | bool | None = False  # False: not looked up yet
        self._changed: dict[tuple[Any, ...], Run] = {}  # runs changed this round, by key
        self._logs: list[tuple[Any, ...]] = []  # step log rows of this round
        self.reload()

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            self._sender = Sender(self.store, self.settings, access=self.access)
        return self._sender

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()
            self._sender = None

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
        event-triggered journeys; then run what is due. Returns the customers entered.

        The events stay in Arrow and DuckDB: only those that enter, exit or wake a run become
        Python objects. This thread shares the interpreter with the collector's ack path, and
        a dict per event cost about a fifth of its time at 20,000 events/s with no journey
        running."""
        table = events.select([c for c in EVENT_COLUMNS if c in events.column_names])
        user = table.column("user_id")
        table = table.filter(pc.and_(pc.is_valid(user), pc.not_equal(user.cast(pa.string()), "")))
        if not table.num_rows:
            return 0
        self._exit_or_wake(table)
        entered = self._enter_on_events(table)
        self.run_due()
        return entered

    def _exit_or_wake(self, events: pa.Table) -> None:
        """One read of the running runs of these events' customers, each with the event types
        they sent: a run whose journey exits on one of them ends; a run waiting for one of
        them goes on to its next step."""
        now = self.clock()
        with self.access() as s:
            s.con.register("_events", events.select(["user_id", "type"]))
            try:
                found = s.con.execute(
                    f"""SELECT {_RUN_COLUMNS}, list(DISTINCT e.type) FROM journey_runs
                    JOIN (SELECT DISTINCT CAST(user_id AS VARCHAR) AS user_id, CAST(type AS VARCHAR) AS type
                          FROM _events) e USING (user_id)
                    WHERE state IN ('active', 'waiting') GROUP BY ALL"""
                ).fetchall()
            finally:
                s.con.unregister("_events")
            for row in found:
                run, done = _run(row[:-1]), set(row[-1])
                journey = self._definition(s, run.journey, run.version)
                ends = [e for e in journey.exit_on if e in done]
                if ends:
                    self._finish(run, "exited", f"event:{ends[0]}", now)
                elif run.state == "waiting" and run.wait_event in done:
                    self._log(run, run.step, f"event:{run.wait_event}", now)
                    self._move(run, journey.next_path(run.step), now)
            self._flush(s)

    def _enter_on_events(self, events: pa.Table) -> int:
        entered = 0
        types = events.column("type").cast(pa.string())
        for name, (version, journey) in list(self.active.items()):
            if journey.trigger.kind != "event":
                continue
            entries = [
                (
                    str(r["user_id"]),
                    str(r["event_id"]),
                    {
                        "trigger_event": r["event_id"],
                        "trigger_ts": _iso(r.get("ts")),
                        "items": [{"item_id": r["item_id"], "price": r.get("price")}]
                        if r.get("item_id")
                        else [],
                    },
                )
                for r in events.filter(pc.equal(types, journey.trigger.value)).to_pylist()
            ]
            if not entries:
                continue
            try:
                entered += self.enter(name, version, journey, entries)
            except CartwiseError as exc:  # e.g. a `where` rule the store no longer fits: this journey only
                log.warning("journey %s: customers not entered: %s", name, exc)
        return entered

    def enter(
        self,
        name: str,
        version: int,
        journey: Journey,
        entries: list[tuple[str, str, dict[str, Any]]],
        *,
        record_skips: bool = True,
    ) -> int:
        """Enter (user, run key, context) entries into `name` version `version`; returns the
        customers entered. A run key already recorded is ignored. With `record_skips` (event
        triggers), an entry refused because the customer is in the journey already
        (`already_in_journey`) or fails the trigger's `where` rule (`where`) is recorded as a
        `skipped` run, so the same event replayed after a restart is refused again, not entered."""
        now = self.clock()
        with self.access() as s:
            users = sorted({e[0] for e in entries})
            s.con.register("_cand", pa.table({"user_id": users}))
            try:
                matching: set[str] | None = None
                if journey.trigger.where:
                    compiled = compile_rule(s, journey.trigger.where, now)
                    matching = {
                        str(r[0])
                        for r in s.con.execute(
                            f"SELECT user_id FROM ({compiled.sql}) WHERE user_id IN (SELECT user_id FROM _cand)",
                            list(compiled.params),
                        ).fetchall()
                    }
                taken = s.con.execute(
                    "SELECT user_id, run_key, state FROM journey_runs JOIN _cand USING (user_id) WHERE journey = ?",
                    [name],
                ).fetchall()
            finally:
                s.con.unregister("_cand")
            known = {(str(u), str(k)) for u, k, _state in taken}
            busy = {str(u) for u, _k, state in taken if state in ("active", "waiting")}
            runs_before: dict[str, int] = {}
            for u, _k, _state in taken:
                runs_before[str(u)] = runs_before.get(str(u), 0) + 1
            # (user, run key, context, skip reason, run number of the customer in this journey)
            rows: list[tuple[str, str, dict[str, Any], str | None, int]] = []
            for user, key, context in entries:
                if (user, key) in known:
                    continue
                known.add((user, key))
                reason = (
                    "where"
                    if matching is not None and user not in matching
                    else "already_in_journey"
                    if user in busy
                    else None
                )
                if reason is not None and not record_skips:
                    continue
                if reason is None:
                    busy.add(user)  # a second event of the same customer in this batch is skipped
                rows.append((user, key, context, reason, runs_before.get(user, 0)))
                runs_before[user] = runs_before.get(user, 0) + 1
            if not rows:
                return 0
            n = len(rows)
            table = pa.table(
                {
                    "journey": [name] * n,
                    "version": pa.array([version] * n, pa.int32()),
                    "user_id": [r[0] for r in rows],
                    "run_key": [r[1] for r in rows],
                    "occurrence": pa.array([r[4] for r in rows], pa.int32()),
                    "step": ["0"] * n,
                    "state": ["active" if r[3] is None else "skipped" for r in rows],
                    "due_at": pa.array([now if r[3] is None else None for r in rows], pa.timestamp("us")),
                    "wait_event": pa.array([None] * n, pa.string()),
                    "variant": pa.array([None] * n, pa.string()),
                    "context": [json.dumps(r[2], default=str) for r in rows],
                    "entered_at": pa.array([now] * n, pa.timestamp("us")),
                    "updated_at": pa.array([now] * n, pa.timestamp("us")),
                    "exit_reason": pa.array([r[3] for r in rows], pa.string()),
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
                            "step": ["entry"] * n,
                            "user_id": table["user_id"],
                            "run_key": table["run_key"],
                            "outcome": ["entered" if r[3] is None else f"skipped:{r[3]}" for r in rows],
                            "ts": table["entered_at"],
                        }
                    ),
                )
        return sum(1 for r in rows if r[3] is None)

    # -- timers --------------------------------------------------------------------------------
    def next_due(self) -> datetime | None:
        """When the earliest waiting run's timer fires (UTC, naive), or None."""
        with self.access() as s:
            row = s.con.execute(
                "SELECT min(due_at) FROM journey_runs WHERE state IN ('waiting', 'active')"
            ).fetchall()
        return row[0][0] if row and row[0][0] is not None else None

    def run_due(self) -> int:
        """Move every run that is ready (just entered, woken) or whose timer is due by now, in
        rounds of up to 500; returns the runs moved. Runs that fall due meanwhile wait for the
        next call, so a steady stream of timers cannot keep the caller from its new events."""
        moved = 0
        now = self.clock()
        while True:
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
            self._round(due)
            moved += len(due)

    # -- a round of runs -----------------------------------------------------------------------
    def _round(self, runs: list[Run]) -> None:
        """Take `runs` through their steps until each waits, exits or finishes. The store is read
        a few times per round (exit events, branch rules, the cart), the sends of a round go out
        together through `Sender.send_many`, and the runs' new states and the step log are
        written in one transaction at the end. A crash before that write leaves the runs where
        they were: the next round walks them again, and their sends, already in the send log
        under the same identities, are not sent again."""
        now = self.clock()
        for run in runs:
            if run.state != "waiting":
                continue
            journey = self.definition(run.journey, run.version)
            step = journey.step(run.step)
            if isinstance(step, WaitFor):
                self._log(run, run.step, "timeout", now)
                self._move(
                    run, f"{run.step}/on_timeout/0" if step.on_timeout else journey.next_path(run.step), now
                )
            else:
                self._log(run, run.step, "waited", now)
                self._move(run, journey.next_path(run.step), now)
        pending = [r for r in runs if r.state == "active"]
        with self.access() as s:
            exits = self._exit_events(s, pending)
        rules: dict[str, set[str]] = {}
        users = sorted({r.user_id for r in pending})
        try:
            while pending:
                sends: list[tuple[Run, str, Send]] = []
                for run in pending:
                    try:
                        self._walk(run, exits, rules, users, sends)
                    except CartwiseError as exc:  # this run's failure (a rule that no longer fits), only
                        # Never the customer nor the message, which may quote their data (issue 21).
                        log.warning(
                            "journey %s v%d: a run stopped at step %s (%s)",
                            run.journey,
                            run.version,
                            run.step,
                            type(exc).__name__,
                        )
                        self._finish(run, "exited", f"error: {exc}"[:500], self.clock())
                if sends:
                    self._send_all(sends)
                pending = [run for run, _path, _step in sends if run.state == "active"]
        finally:
            with self.access() as s:
                self._flush(s)

    def _walk(
        self,
        run: Run,
        exits: Mapping[tuple[str, int, str, str], str],
        rules: dict[str, set[str]],
        users: list[str],
        sends: list[tuple[Run, str, Send]],
    ) -> None:
        """Steps of one run, in memory, up to a wait, an exit, the end or a send (queued)."""
        journey = self.definition(run.journey, run.version)
        for _ in range(_MAX_STEPS):
            now = self.clock()
            reason = exits.get((run.journey, run.version, run.user_id, run.run_key))
            if reason is not None:
                self._finish(run, "exited", reason, now)
                return
            path = run.step
            step = journey.step(path)
            self._log(run, path, "entered", now)
            nxt: str | None
            if isinstance(step, Send):
                sends.append((run, path, step))
                return
            if isinstance(step, Wait | WaitFor):
                if isinstance(step, WaitFor):
                    run.due_at, run.wait_event = wait_end(now, step.timeout, self.time_scale), step.event
                else:
                    run.due_at, run.wait_event = self._wait_until(run, step, now), None
                run.state, run.updated_at = "waiting", now
                self._changed[_key(run)] = run
                return
            if isinstance(step, Exit):
                self._finish(run, "exited", "exit_step", now)
                return
            if isinstance(step, Branch):
                if step.rule not in rules:
                    rules[step.rule] = self._members(step.rule, users, now)
                matched = run.user_id in rules[step.rule]
                arm = "then" if matched else "else"
                self._log(run, path, f"branch:{arm}", now)
                arm_steps = step.then if matched else step.otherwise
                nxt = f"{path}/{arm}/0" if arm_steps else journey.next_path(path)
            else:
                assert isinstance(step, Split)
                variant = choose_variant(run.journey, run.user_id, step)
                self._log(run, path, f"variant:{variant.name}", now)
                mark = f"{path}:{variant.name}"
                run.variant = f"{run.variant},{mark}" if run.variant else mark
                nxt = f"{path}/{variant.name}/0"
            if not self._move(run, nxt, now):
                return
        raise CartwiseError(f"journey {run.journey!r} took {_MAX_STEPS} steps without waiting; add a wait.")

    def _send_all(self, sends: list[tuple[Run, str, Send]]) -> None:
        contexts = self._contexts([(run, step.template) for run, _path, step in sends])
        messages = [
            (
                MessageIdentity(journey_source(run.journey, run.version), path, run.user_id, run.occurrence),
                step.channel,
                step.template,
                contexts[i],
            )
            for i, (run, path, step) in enumerate(sends)
        ]
        states = self.sender.send_many(messages)
        now = self.clock()
        for (run, path, _step), message in zip(sends, messages, strict=True):
            state = states.get(message[0].key, "pending")
            self._log(run, path, "held" if state == "pending" else state, now)  # pending: quiet hours
            self._move(run, self.definition(run.journey, run.version).next_path(path), now)

    def _exit_events(self, store: Store, runs: list[Run]) -> dict[tuple[str, int, str, str], str]:
        """`event:TYPE` for each run whose customer did one of its journey's `exit_on` events
        since the trigger (the trigger event itself aside)."""
        out: dict[tuple[str, int, str, str], str] = {}
        by_version: dict[tuple[str, int], list[Run]] = {}
        for run in runs:
            by_version.setdefault((run.journey, run.version), []).append(run)
        for (name, version), group in by_version.items():
            journey = self._definition(store, name, version)
            if not journey.exit_on:
                continue
            table = pa.table(
                {
                    "user_id": [r.user_id for r in group],
                    "run_key": [r.run_key for r in group],
                    "since": pa.array([_since(r) for r in group], pa.timestamp("us")),
                    "trigger_event": pa.array([r.context.get("trigger_event") for r in group], pa.string()),
                }
            )
            placeholders = ", ".join("?" for _ in journey.exit_on)
            store.con.register("_runs", table)
            try:
                for user_id, run_key, event in store.con.execute(
                    f"""SELECT r.user_id, r.run_key, min(e.type) FROM _runs r JOIN events e ON e.user_id = r.user_id
                    WHERE e.type IN ({placeholders}) AND e.ts >= r.since
                      AND e.event_id IS DISTINCT FROM r.trigger_event
                    GROUP BY r.user_id, r.run_key""",
                    list(journey.exit_on),
                ).fetchall():
                    out[(name, version, str(user_id), str(run_key))] = f"event:{event}"
            finally:
                store.con.unregister("_runs")
        return out

    def _members(self, rule: str, users: list[str], now: datetime) -> set[str]:
        """Which of `users` match `rule` at `now`."""
        with self.access() as s:
            compiled = compile_rule(s, rule, now)
            s.con.register("_cand", pa.table({"user_id": users}))
            try:
                return {
                    str(r[0])
                    for r in s.con.execute(
                        f"SELECT user_id FROM ({compiled.sql}) WHERE user_id IN (SELECT user_id FROM _cand)",
                        list(compiled.params),
                    ).fetchall()
                }
            finally:
                s.con.unregister("_cand")

    def _zone(self, store: Store, user_id: str) -> ZoneInfo:
        row = store.con.execute(
            "SELECT json_extract_string(attributes, '$.time_zone'), country FROM users WHERE user_id = ?",
            [user_id],
        ).fetchall()
        zone_name, country = row[0] if row else (None, None)
        if not zone_name and (country or "").strip().upper() not in COUNTRY_TIME_ZONES:
            return time_zone_of(self.settings.timezone, None)  # the shop's zone
        return time_zone_of(zone_name, country)

    def _wait_until(self, run: Run, step: Wait, now: datetime) -> datetime:
        if step.seconds is not None:
            return wait_end(now, step.seconds, self.time_scale)
        assert step.until is not None
        with self.access() as s:
            zone = self._zone(s, run.user_id)
        return next_local_time(now, zone, step.until)

    def _contexts(self, wanted: list[tuple[Run, str]]) -> list[dict[str, Any]]:
        """Template context per (run, template): `items` (the cart for `abandoned_cart`, else the
        trigger's items) with title, price and, when the catalogue has a `url` attribute, url;
        and each customer's recommendations when a recommender is saved."""
        per_run: list[dict[str, float | None]] = [
            {i["item_id"]: i.get("price") for i in run.context.get("items", []) if i.get("item_id")}
            for run, _template in wanted
        ]
        cart_users = sorted({run.user_id for run, template in wanted if template == "abandoned_cart"})
        with self.access() as s:
            carts: dict[str, list[tuple[str, Any]]] = {}
            if cart_users:
                since = self.clock() - timedelta(days=CART_DAYS)
                s.con.register("_cart_users", pa.table({"user_id": cart_users}))
                try:
                    for user_id, item_id, price in s.con.execute(
                        """WITH bought AS (
                            SELECT user_id, max(ts) AS last FROM events JOIN _cart_users USING (user_id)
                            WHERE type = 'purchase' GROUP BY user_id)
                        SELECT e.user_id, e.item_id, any_value(e.price) FROM events e
                        JOIN _cart_users USING (user_id) LEFT JOIN bought b USING (user_id)
                        WHERE e.type = 'add_to_cart' AND e.item_id IS NOT NULL AND e.ts >= ?
                          AND (b.last IS NULL OR e.ts >= b.last)
                        GROUP BY e.user_id, e.item_id ORDER BY e.user_id, min(e.ts)""",
                        [since],
                    ).fetchall():
                        carts.setdefault(str(user_id), []).append((str(item_id), price))
                finally:
                    s.con.unregister("_cart_users")
            for (run, template), items in zip(wanted, per_run, strict=True):
                if template == "abandoned_cart":
                    for item_id, price in carts.get(run.user_id, []):
                        items.setdefault(item_id, price)
            all_items = sorted({i for items in per_run for i in items})
            known: dict[str, tuple[Any, ...]] = {}
            if all_items:
                s.con.register("_items", pa.table({"item_id": all_items}))
                try:
                    known = {
                        str(r[0]): r[1:]
                        for r in s.con.execute(
                            """SELECT item_id, title, price, json_extract_string(attributes, '$.url')
                            FROM items JOIN _items USING (item_id)"""
                        ).fetchall()
                    }
                finally:
                    s.con.unregister("_items")
        recs = self._recommendations()
        extra = recs(sorted({run.user_id for run, _t in wanted})) if recs is not None else {}
        out = []
        for (run, _template), items in zip(wanted, per_run, strict=True):
            shown = []
            for item_id, event_price in items.items():
                title, price, url = known.get(item_id, (None, None, None))
                price = price if price is not None else event_price
                if price is None:
                    continue  # the templates show a price; an item without one is left out
                item: dict[str, Any] = {"item_id": item_id, "title": title or item_id, "price": float(price)}
                if url:
                    item["url"] = url
                shown.append(item)
            out.append({"items": shown, **extra.get(run.user_id, {})})
        return out

    def _recommendations(self) -> ContextFor | None:
        if self._recs is False:
            from cartwise.pipelines import recs_context

            try:
                self._recs = recs_context.for_store(self.store, self.settings, self.access)
            except Exception as exc:  # a broken artefact costs the recommendations, not the message
                log.warning("recommendations unavailable for journeys: %s", exc)
                self._recs = None
        return self._recs if self._recs is not False else None  # type: ignore[return-value]

    # -- changes, written together ---------------------------------------------------------------
    def _log(self, run: Run, step: str, outcome: str, now: datetime) -> None:
        self._logs.append((run.journey, run.version, step, run.user_id, run.run_key, outcome, now))

    def _move(self, run: Run, nxt: str | None, now: datetime) -> bool:
        """Point the run at step `nxt` (ready now), or finish it when there is none; False when finished."""
        if nxt is None:
            self._finish(run, "done", None, now)
            return False
        run.step, run.state, run.due_at, run.wait_event, run.updated_at = nxt, "active", now, None, now
        self._changed[_key(run)] = run
        return True

    def _finish(self, run: Run, state: str, reason: str | None, now: datetime) -> None:
        run.state, run.due_at, run.wait_event, run.exit_reason, run.updated_at = (
            state,
            None,
            None,
            reason,
            now,
        )
        self._changed[_key(run)] = run
        self._log(run, run.step, f"{state}:{reason}" if reason else state, now)

    def _flush(self, store: Store) -> None:
        """Write the changed runs and the step log in one transaction."""
        runs, logs = list(self._changed.values()), self._logs
        self._changed, self._logs = {}, []
        if not runs and not logs:
            return
        with store.transaction() as con:
            if runs:
                changed = pa.table(
                    {
                        "journey": [r.journey for r in runs],
                        "version": pa.array([r.version for r in runs], pa.int32()),
                        "user_id": [r.user_id for r in runs],
                        "run_key": [r.run_key for r in runs],
                        "step": [r.step for r in runs],
                        "state": [r.state for r in runs],
                        "due_at": pa.array([r.due_at for r in runs], pa.timestamp("us")),
                        "wait_event": pa.array([r.wait_event for r in runs], pa.string()),
                        "variant": pa.array([r.variant for r in runs], pa.string()),
                        "updated_at": pa.array([r.updated_at for r in runs], pa.timestamp("us")),
                        "exit_reason": pa.array([r.exit_reason for r in runs], pa.string()),
                    }
                )
                con.register("_changed", changed)
                try:
                    con.execute(
                        """UPDATE journey_runs SET step = c.step, state = c.state, due_at = c.due_at,
                            wait_event = c.wait_event, variant = c.variant, updated_at = c.updated_at,
                            exit_reason = c.exit_reason
                        FROM _changed c WHERE journey_runs.journey = c.journey AND journey_runs.version = c.version
                          AND journey_runs.user_id = c.user_id AND journey_runs.run_key = c.run_key"""
                    )
                finally:
                    con.unregister("_changed")
            if logs:
                store.append(
                    "journey_steps",
                    pa.table(
                        {
                            "journey": [row[0] for row in logs],
                            "version": pa.array([row[1] for row in logs], pa.int32()),
                            "step": [row[2] for row in logs],
                            "user_id": [row[3] for row in logs],
                            "run_key": [row[4] for row in logs],
                            "outcome": [row[5] for row in logs],
                            "ts": pa.array([row[6] for row in logs], pa.timestamp("us")),
                        }
                    ),
                )

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
                    entered += self.enter(name, version, journey, entries, record_skips=False)
                except CartwiseError as exc:
                    log.warning("journey %s: customers not entered: %s", name, exc)
        if entered:
            self.run_due()
        return entered

    def _replenishment_entries(self, now: datetime) -> list[tuple[str, str, dict[str, Any]]]:
        with self.access() as s:
            return replenishment_entries(s, now)

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
        sent = 0
        if not sources:
            return sent
        for source in sources:
            self.sender.context_for = self._held_context(source)
            try:
                sent += self.sender.deliver_pending(source).sent
            finally:
                self.sender.context_for = None
        return sent

    def _held_context(self, source: str) -> ContextFor:
        """Template context of held messages of `source` (`journey:NAME:vN`), from each
        customer's latest run of that version, as when the message was first tried."""
        name, _, version_text = source.removeprefix("journey:").rpartition(":v")

        def context(user_ids: list[str]) -> Mapping[str, Mapping[str, Any]]:
            version = int(version_text)
            journey = self.definition(name, version)
            cart = any(
                isinstance(step, Send) and step.template == "abandoned_cart" for _p, step in journey.paths()
            )
            with self.access() as s:
                s.con.register("_held", pa.table({"user_id": user_ids}))
                try:
                    runs = [
                        _run(row)
                        for row in s.con.execute(
                            f"""SELECT {_RUN_COLUMNS} FROM journey_runs JOIN _held USING (user_id)
                            WHERE journey = ? AND version = ?
                            QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY entered_at DESC) = 1""",
                            [name, version],
                        ).fetchall()
                    ]
                finally:
                    s.con.unregister("_held")
            template = "abandoned_cart" if cart else ""
            return dict(
                zip([r.user_id for r in runs], self._contexts([(r, template) for r in runs]), strict=True)
            )

        return context


def _key(run: Run) -> tuple[Any, ...]:
    return (run.journey, run.version, run.user_id, run.run_key)


def _since(run: Run) -> datetime:
    since = run.context.get("trigger_ts")
    return datetime.fromisoformat(since) if since else datetime(1970, 1, 1)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (None if value is None else str(value))


__all__ = ["EVENT_COLUMNS", "JourneyEngine", "Run", "next_local_time"]
