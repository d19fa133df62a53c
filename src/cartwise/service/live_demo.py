"""The live part of `cartwise demo`: serve the demo shop and replay its traffic, so the Overview moves.

`serve_demo(settings)` creates an admin key (printed, to sign in) and a collect key, starts
`cartwise serve` as a child process (which then owns the store), and replays the last
simulated day through the collector over HTTP, re-timed to start now and sped up `speed`
times, from the day's current time of day on (`from_time_of_day`: a demo started at 14:00 UTC
replays the shop's afternoon first, not its night). Replayed events get fresh event, session
and order ids, so each pass adds new traffic; the day loops until Ctrl-C. Like a storefront, the replay asks the recommendations
API for a list when a session starts (with a `read` key), and the session's later events on a
listed item carry the list's `request_id`, so the Recommendations page's online figures move.
The replayed events feed the built-in journeys that `cartwise demo` applied, and the server's
e-mail goes to a local SMTP sink (`MailSink`). The server runs journey waits on the replay's
clock (`journey_time_scale` = `speed`): the abandoned cart's hour passes with the replayed hour,
so reminders go out in the demo's first minutes, and their purchases still exit them.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import orjson
import pyarrow as pa

from cartwise.core.settings import Settings
from cartwise.core.times import utc_iso, utc_now
from cartwise.service import keys as keys_job
from cartwise.service.demo_mail import MailSink
from cartwise.service.server_process import ServerProcess
from cartwise.service.service import open_ready_store

_COLUMNS = (
    "event_id",
    "ts",
    "user_id",
    "session_id",
    "type",
    "item_id",
    "quantity",
    "price",
    "order_id",
    "revenue",
    "properties",
)


RECS_PER_BATCH = 50
"""At most this many session starts per batch ask for recommendations (the rest go without)."""


@dataclass(frozen=True)
class DemoKeys:
    admin: str
    collect: str
    read: str


def last_day(settings: Settings, *, hours: float = 24.0, limit: int = 500_000) -> pa.Table:
    """Events of the store's last `hours` (by event time), oldest first, at most `limit`."""
    with open_ready_store(settings, read_only=True) as store:
        cols = ", ".join(f'"{c}"' for c in _COLUMNS)
        seconds = int(hours * 3600)
        return store.con.sql(
            f"SELECT {cols} FROM events WHERE ts >= (SELECT max(ts) FROM events) - INTERVAL {seconds} SECOND "
            f"ORDER BY ts LIMIT {int(limit)}"
        ).to_arrow_table()


def create_demo_keys(settings: Settings) -> DemoKeys:
    """An admin key to sign in and a collect key for the replay (the store must not be in use)."""
    with open_ready_store(settings) as store:
        _, admin = keys_job.create_key(store, scope="admin", name="demo admin")
        _, collect = keys_job.create_key(store, scope="collect", name="demo replay")
        _, read = keys_job.create_key(store, scope="read", name="demo storefront recommendations")
    return DemoKeys(admin, collect, read)


def from_time_of_day(rows: list[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    """`rows` (oldest first, a window of 23 to 24 hours) turned to begin at `at`'s time of day:
    rows from that instant of the window on come first, as they were, and the earlier ones follow,
    moved a day later (their time of day kept). A window shorter than 23 hours is returned as it
    is. Why: the demo's waits run on the replay's clock, and the simulated shop's night (00:00-06:00
    UTC) holds 4% of a day's traffic, so a replay that always began at midnight sent its first
    journey e-mails minutes later than one begun in the day (BENCHMARKS.md)."""
    if not rows:
        return rows
    first, last = rows[0]["ts"], rows[-1]["ts"]
    if last - first < timedelta(hours=23):
        return rows
    pivot = first.replace(hour=at.hour, minute=at.minute, second=at.second, microsecond=at.microsecond)
    if pivot < first:
        pivot += timedelta(days=1)
    later = [r for r in rows if r["ts"] >= pivot]
    earlier = [{**r, "ts": r["ts"] + timedelta(days=1)} for r in rows if r["ts"] < pivot]
    return later + earlier


def retime(
    rows: list[dict[str, Any]], *, start: datetime, origin: datetime, speed: float, loop: int
) -> list[dict[str, Any]]:
    """Copies of `rows` moved to `start + (ts - origin) / speed`, with ids made unique for pass `loop`."""
    out = []
    for row in rows:
        event = {k: v for k, v in row.items() if v is not None}
        event["ts"] = utc_iso(start + (row["ts"] - origin) / speed)
        event["event_id"] = f"live{loop}-{row['event_id']}"
        for key in ("session_id", "order_id"):
            if key in event:
                event[key] = f"live{loop}-{event[key]}"
        props = event.get("properties")
        if isinstance(props, str):
            try:
                event["properties"] = json.loads(props)
            except ValueError:
                event.pop("properties")
        out.append(event)
    return out


def post_events(url: str, key: str, events: list[dict[str, Any]], *, timeout: float = 30.0) -> dict[str, Any]:
    """POST one batch to the collector; raises urllib.error.URLError/HTTPError on failure."""
    request = urllib.request.Request(
        url + "/api/v1/events",
        data=orjson.dumps({"events": events}),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return orjson.loads(response.read())


def request_recommendations(
    url: str, key: str, user_id: str, session_id: str, *, n: int = 10, timeout: float = 30.0
) -> tuple[str, set[str]]:
    """GET a list for `user_id` as a storefront would at a session's start: (request_id, item ids)."""
    query = urllib.parse.urlencode({"n": n, "session_id": session_id})
    request = urllib.request.Request(
        f"{url}/api/v1/recommendations/{urllib.parse.quote(user_id, safe='')}?{query}",
        headers={"Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = orjson.loads(response.read())
    return str(body["request_id"]), {str(item["item_id"]) for item in body["items"]}


def _ask_recommendations(
    url: str,
    key: str,
    due: list[dict[str, Any]],
    span: tuple[int, int],
    seen: set[str],
    by_session: dict[str, list[int]],
) -> int:
    """For sessions starting in `due[start:end]`, request a list and tag the session's events
    (from there on) on a listed item with its `request_id`; returns the lists requested."""
    asked = 0
    for i in range(*span):
        event = due[i]
        session = event.get("session_id")
        if session is None or session in seen or "user_id" not in event:
            continue
        seen.add(session)
        if asked >= RECS_PER_BATCH:
            continue
        try:
            request_id, listed = request_recommendations(url, key, str(event["user_id"]), str(session))
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            click.echo(f"replay: recommendations unavailable ({exc}); the replay goes on", err=True)
            return asked
        asked += 1
        for j in by_session[session]:
            later = due[j]
            if j >= i and later.get("item_id") in listed:
                props = later.setdefault("properties", {})
                if isinstance(props, dict):
                    props["request_id"] = request_id
    return asked


def replay(
    url: str,
    key: str,
    table: pa.Table,
    *,
    speed: float = 24.0,
    stop: threading.Event,
    on_batch: Callable[[int], None] | None = None,
    recs_key: str | None = None,
) -> int:
    """Send `table`'s events as they fall due (re-timed to now, `speed` times faster, from now's
    time of day on: `from_time_of_day`) until `stop`; returns events sent.

    With `recs_key` (a `read` key), each session's start asks for recommendations first and its
    events on a listed item carry the list's `request_id` (see `_ask_recommendations`)."""
    rows = from_time_of_day(table.to_pylist(), utc_now())
    if not rows:
        return 0
    origin = rows[0]["ts"]
    span = rows[-1]["ts"] - origin + timedelta(seconds=1)
    sent = 0
    loop = 0
    while not stop.is_set():
        start = datetime.now(UTC).replace(tzinfo=None)
        due = retime(rows, start=start, origin=origin, speed=speed, loop=loop)
        sessions_seen: set[str] = set()
        by_session: dict[str, list[int]] = {}
        for i, event in enumerate(due):
            if "session_id" in event:
                by_session.setdefault(event["session_id"], []).append(i)
        position = 0
        while position < len(due) and not stop.is_set():
            now_text = utc_iso(utc_now())
            end = position
            while end < len(due) and end - position < 1000 and due[end]["ts"] <= now_text:
                end += 1
            if end == position:
                stop.wait(0.5)
                continue
            if recs_key is not None:
                _ask_recommendations(url, recs_key, due, (position, end), sessions_seen, by_session)
            try:
                post_events(url, key, due[position:end])
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                click.echo(f"replay: the collector did not take a batch ({exc}); retrying", err=True)
                stop.wait(2.0)
                continue
            sent += end - position
            position = end
            if on_batch is not None:
                on_batch(sent)
        loop += 1
        # Wait out the rest of the pass so the next one starts from a fresh "now".
        stop.wait(max(0.0, (start + span / speed - datetime.now(UTC).replace(tzinfo=None)).total_seconds()))
    return sent


@contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """Inside, SIGTERM sets `stop` instead of ending the process at once (main thread only,
    where Python handles signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve_demo(settings: Settings, *, speed: float = 24.0, stop: threading.Event | None = None) -> None:
    """Start the server on `settings.host:port`, print the URL and admin key, replay traffic
    until Ctrl-C, SIGTERM or `stop`; the server stops with it."""
    table = last_day(settings)
    keys = create_demo_keys(settings)
    stop = stop or threading.Event()
    # A process manager or `timeout` ends the demo with SIGTERM, whose default action would
    # leave the server child running and holding the store.
    with _stop_on_sigterm(stop):
        # The journeys' e-mail goes to a local sink: real SMTP, nobody mailed.
        sink = MailSink().start()
        server_env = {"CARTWISE_SMTP_HOST": "127.0.0.1", "CARTWISE_SMTP_PORT": str(sink.port)}
        if speed > 1:  # a slower replay keeps real-time waits
            server_env["CARTWISE_JOURNEY_TIME_SCALE"] = repr(float(speed))
        try:
            server = ServerProcess(
                settings.db, host=settings.host, port=settings.port, env=server_env
            ).start()
        except BaseException:
            sink.stop()
            raise
        click.echo(
            f"\nCartwise dashboard: {server.url}/\n"
            f"Sign in with this admin key (shown once): {keys.admin}\n"
            f"Replaying the last simulated day ({table.num_rows:,} events, from the time of day now) "
            f"{speed:g}x faster through the collector; the built-in journeys run on it, their waits "
            f"{speed:g}x shorter too (Campaigns page), and their e-mail goes to a local SMTP sink on "
            f"127.0.0.1:{sink.port}. Ctrl-C stops.\n",
            err=True,
        )
        worker = threading.Thread(
            target=replay,
            args=(server.url, keys.collect, table),
            kwargs={"speed": speed, "stop": stop, "recs_key": keys.read},
            daemon=True,
        )
        worker.start()
        try:
            while worker.is_alive() and not stop.is_set():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            worker.join(timeout=10)
            server.stop()
            sink.stop()
            click.echo(f"The demo's journeys sent {sink.received:,} e-mails to the local sink.", err=True)
