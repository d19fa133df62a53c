"""The Analytics dashboard page and its JSON twins: KPIs, funnels, retention, basket rules.

Each view calls the analytics library (`cartwise.analytics`) on the store's events and turns
its frames into plain JSON-ready dictionaries; the page's `data` is the default of each view,
so the page and `/api/v1/analytics/...` always show the same numbers. Inputs are checked
here and a bad one raises `BadParameter`, naming the request parameter and its valid values.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cartwise.analytics import (
    EVENT_KPIS,
    BasketRules,
    FunnelResult,
    SupportChoice,
    basket_rules,
    funnel,
    kpis,
    parse_steps,
    retention,
    stored_facts,
    stored_orders,
    stored_timeline,
    suggest_min_support,
)
from cartwise.core.durations import parse_duration
from cartwise.core.errors import CartwiseError, ConfigError
from cartwise.core.times import parse_instant, parse_range
from cartwise.pages.dashboard import Page, register_page
from cartwise.store import Store

if TYPE_CHECKING:
    from cartwise.service.service import Service

GRAINS: tuple[str, ...] = ("day", "week", "month")
COHORT_GRAINS: tuple[str, ...] = ("week", "month")
COHORTS: tuple[str, ...] = ("first_purchase", "first_seen")
ACTIVITIES: tuple[str, ...] = ("any", "purchase")

DEFAULT_GRAIN = "week"
DEFAULT_STEPS = "view,add_to_cart,purchase"
DEFAULT_WINDOW = "1d"
WINDOW_EXAMPLES: tuple[str, ...] = ("30m", "1h", "6h", "1d", "3d", "7d", "30d")
MAX_WINDOW = timedelta(days=366)
MAX_STEPS = 8
DEFAULT_MIN_SUPPORT = 0.005
"""The support used when the data cannot suggest one (no two items share an order)."""
RULES_TARGET_PAIRS = 25
"""Without a `min_support`, the support is picked so that about this many item pairs qualify."""
DEFAULT_MIN_CONFIDENCE = 0.1
DEFAULT_PAGE_SIZE = 25
FUNNEL_PAGE_DAYS = 30
"""The page opens on the funnel of the last 30 days with data, the To day included: recent
behaviour is what the page is for, and on a large store all history is slow to chain."""
MAX_PAGE_SIZE = 200
DEFAULT_DROPPED_PAGE_SIZE = 1000
MAX_DROPPED_PAGE_SIZE = 100_000
MAX_SEGMENTS_SHOWN = 12
"""Segments drawn in the page's breakdown chart (the largest by first-step users); the JSON has all."""

TILES: tuple[tuple[str, str, str], ...] = (
    ("revenue", "Revenue", "money"),
    ("orders", "Orders", "number"),
    ("aov", "Average order value", "money"),
    ("visitors", "Visitors", "number"),
    ("conversion_rate", "Session conversion", "percent"),
    ("new_customers", "New customers", "number"),
    ("returning_customers", "Returning customers", "number"),
    ("repeat_purchase_rate", "Repeat purchase rate", "percent"),
)
"""KPI tiles of the page: (KPI of `cartwise.analytics.kpis`, label, display format)."""

# Columns that make no sense as a funnel breakdown: identifiers, times, amounts, JSON blobs.
_EVENT_COLUMNS_NOT_BREAKDOWNS = frozenset(
    {
        "event_id",
        "ts",
        "user_id",
        "session_id",
        "type",
        "order_id",
        "quantity",
        "price",
        "revenue",
        "properties",
    }
)
_USER_COLUMNS_NOT_BREAKDOWNS = frozenset(
    {"user_id", "created_at", "email", "email_consent_at", "sms_consent_at", "attributes"}
)


class BadParameter(ConfigError):
    """A request parameter is invalid; `parameter` names it (the message lists valid values)."""

    def __init__(self, parameter: str | None, message: str) -> None:
        super().__init__(message, parameter=parameter)


# -- parameters -----------------------------------------------------------------------------------
def parse_when(value: str | date | datetime | None, parameter: str) -> datetime | None:
    """A naive UTC datetime from an ISO date or date-time (an offset is converted to UTC); the
    CLI's rules (`cartwise.core.times.parse_instant`)."""
    return _library_call(parse_instant, value, parameter)


def _range(start: Any, end: Any) -> tuple[datetime | None, datetime | None]:
    return _library_call(parse_range, start, end)


def _choice(value: str, choices: tuple[str, ...], parameter: str) -> str:
    if value not in choices:
        raise BadParameter(parameter, f"{value!r} is not valid; choose one of {', '.join(choices)}.")
    return value


def parse_window(value: str) -> timedelta:
    """A funnel window such as `30m`, `1d`: positive and at most 366 days."""
    examples = ", ".join(WINDOW_EXAMPLES)
    try:
        window = parse_duration(value, name="window")
    except (ConfigError, OverflowError):
        raise BadParameter(
            "window",
            f"{str(value)[:40]!r} is not a duration; use a number and a unit s, m, h, d or w, "
            f"e.g. {examples}.",
        ) from None
    if window <= timedelta(0) or window > MAX_WINDOW:
        raise BadParameter("window", f"{value!r} must be above 0 and at most 366d; e.g. {examples}.")
    return window


def _library_call(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a library function; an error without a parameter is about the request as a whole."""
    try:
        return func(*args, **kwargs)
    except BadParameter:
        raise
    except CartwiseError as exc:
        raise BadParameter(exc.parameter, exc.message) from None


class _LastResults:
    """The last few results of a costly view, keyed by its inputs and the store's state, so
    that paging and searching reuse one computation. Thread-safe; computes outside the lock."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._results: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        result = compute()
        with self._lock:
            self._results[key] = result
            while len(self._results) > self.size:
                self._results.popitem(last=False)
        return result


_RULES = _LastResults()
_DROPPED = _LastResults()


# -- JSON helpers ---------------------------------------------------------------------------------
def _num(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    number = float(value)
    return None if math.isinf(number) else number


def _int(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(np.datetime64(value, "D"))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def period_end(start: date, grain: str) -> np.datetime64:
    """First day after the period that begins on `start`, as a numpy day: the period of
    9999-12-31 ends on 10000-01-01, which no `date` can hold."""
    day = np.datetime64(start, "D")
    if grain == "day":
        return day + 1
    if grain == "week":
        return day + 7
    return (np.datetime64(start, "M") + 1).astype("datetime64[D]")


def _day_after(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.date(), "D") + 1


def change(value: float, previous: float) -> float | None:
    """Relative change (value - previous) / previous; None when previous is 0."""
    return None if not previous else (value - previous) / previous


# -- store facts ----------------------------------------------------------------------------------
def _events(store: Store) -> Any:
    return store.ibis().table("events")


def _orders(store: Store) -> Any:
    """The orders when some come from a transaction log, which KPIs and retention count
    (`analytics.order_facts`); None otherwise."""
    return stored_orders(store)


def _store_funnel(
    store: Store, labels: list[str], window: timedelta, start: Any, end: Any, **options: Any
) -> FunnelResult:
    """The library's funnel of the store's events, its steps read from the store's timeline."""
    timeline = stored_timeline(store)
    return _library_call(
        funnel, _events(store), labels, window, start=start, end=end, timeline=timeline, **options
    )


def event_types(store: Store) -> list[str]:
    """Event types in the store, most frequent first."""
    rows = store.con.execute(
        "SELECT type, count(*) AS n FROM events WHERE type IS NOT NULL GROUP BY 1 ORDER BY n DESC, type"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _columns(store: Store, table: str) -> list[str]:
    rows = store.con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [str(r[0]) for r in rows]


def breakdowns(store: Store) -> list[str]:
    """Valid funnel breakdowns: descriptive events columns, users columns, events property keys.

    Property keys come from up to 50,000 events, enough to see every key a shop sends.
    """
    found = [c for c in _columns(store, "events") if c not in _EVENT_COLUMNS_NOT_BREAKDOWNS]
    if store.has_table("users"):
        found += [
            c for c in _columns(store, "users") if c not in _USER_COLUMNS_NOT_BREAKDOWNS and c not in found
        ]
    keys = store.con.execute(
        "SELECT DISTINCT k FROM (SELECT unnest(json_keys(properties)) AS k FROM "
        "(SELECT properties FROM events WHERE properties IS NOT NULL AND json_type(properties) = 'OBJECT' "
        "LIMIT 50000)) ORDER BY k"
    ).fetchall()
    found += [str(r[0]) for r in keys if r[0] is not None and str(r[0]) not in found]
    return found


def _last_event_before(store: Store, end: datetime | None, *, orders: bool = False) -> datetime | None:
    """The last event time before `end` that a calendar date can hold (see `in_calendar`);
    with `orders`, of an event or an order: where the data stop (a store loaded from a
    transaction log has orders only)."""
    sources = "SELECT ts FROM events"
    if orders and store.has_table("orders"):
        sources += " UNION ALL SELECT ts FROM orders"
    row = store.con.execute(
        f"SELECT max(ts) FROM ({sources}) WHERE ts < coalesce(?, 'infinity'::TIMESTAMP) AND ts <= ?",
        [end, datetime.max],
    ).fetchall()[0]
    return row[0] if row else None


# -- KPIs -----------------------------------------------------------------------------------------
def kpis_view(store: Store, grain: str = DEFAULT_GRAIN, start: Any = None, end: Any = None) -> dict[str, Any]:
    """KPIs per period with the previous period beside each, and the page's tiles.

    `periods`: every period of `cartwise.analytics.kpis` (oldest first) with `period_end`
    (exclusive) and `partial` (the data stop before the period ends); `partial_periods` lists
    the `period_start` of those (a chart draws them apart, not as a fall). `tiles`: the last
    complete period (the last one when none is complete) with, per tile KPI, `value`,
    `previous` and `change` ((value - previous) / previous, null when previous is 0).
    A period is complete when it ends on or before `end` and on or before the day after
    the last event or order (`last_data`). `needs_events`: the KPIs null in some period for
    want of events (orders from a transaction log only; `cartwise.analytics.EVENT_KPIS`).
    """
    grain = _choice(grain, GRAINS, "grain")
    start_ts, end_ts = _range(start, end)
    frame = _library_call(
        kpis,
        _events(store),
        grain,
        start=start_ts,
        end=end_ts,
        facts=stored_facts(store),
        orders=_orders(store),
    )
    last = _last_event_before(store, end_ts)
    last_data = _last_event_before(store, end_ts, orders=True)
    cutoff: np.datetime64 | None = None
    if last_data is not None:
        cutoff = _day_after(last_data)
        if end_ts is not None:
            cutoff = min(cutoff, np.datetime64(end_ts, "us"))
    periods: list[dict[str, Any]] = []
    for row in frame.to_dict("records"):
        first = row["period_start"]
        stop = period_end(first, grain)
        record: dict[str, Any] = {"period_start": _day(first), "period_end": _day(stop)}
        record["partial"] = bool(cutoff is None or stop > cutoff)
        for key, value in row.items():
            if key in ("period", "period_start"):
                continue
            record[key] = _int(value) if pd.api.types.is_integer(value) else _num(value)
        periods.append(record)
    tiles = None
    if periods:
        complete = [p for p in periods if not p["partial"]]
        chosen = complete[-1] if complete else periods[-1]
        tiles = {
            "period_start": chosen["period_start"],
            "period_end": chosen["period_end"],
            "partial": chosen["partial"],
            "kpis": [
                {
                    "kpi": key,
                    "label": label,
                    "format": fmt,
                    "value": chosen[key],
                    "previous": chosen[f"{key}_prev"],
                    "change": change(chosen[key] or 0.0, chosen[f"{key}_prev"] or 0.0),
                }
                for key, label, fmt in TILES
            ],
        }
    return {
        "grain": grain,
        "start": _iso(start_ts),
        "end": _iso(end_ts),
        "last_event": _iso(last),
        "last_data": _iso(last_data),
        "periods": periods,
        "partial_periods": [p["period_start"] for p in periods if p["partial"]],
        "tiles": tiles,
        "needs_events": [k for k in EVENT_KPIS if any(p[k] is None for p in periods)],
    }


# -- funnel ---------------------------------------------------------------------------------------
def _steps_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "step": str(r["step"]),
            "users": _int(r["users"]),
            "conversion_from_previous": _num(r["conversion_from_previous"]),
            "conversion_from_first": _num(r["conversion_from_first"]),
            "median_seconds_from_previous": _num(r["median_seconds_from_previous"]),
            "dropped": _int(r["dropped"]),
        }
        for r in frame.to_dict("records")
    ]


def check_steps(store: Store, steps: str) -> list[str]:
    """The step labels of `steps`, each naming an event type in the store."""
    types = event_types(store)
    valid = ", ".join(types) or "(no events yet)"
    parsed = _library_call(parse_steps, steps or "")
    if len(parsed) < 2 or len(parsed) > MAX_STEPS:
        raise BadParameter(
            "steps",
            f"needs 2 to {MAX_STEPS} comma-separated event types, got {len(parsed)}; "
            f"e.g. {DEFAULT_STEPS}. Event types: {valid}.",
        )
    for step in parsed:
        if step.type not in types:
            raise BadParameter(
                "steps",
                f"names {step.type[:60]!r}, which is not an event type in the store; choose from {valid} "
                "(filters as type[column=value]).",
            )
    return [s.label for s in parsed]


def funnel_view(
    store: Store,
    steps: str = DEFAULT_STEPS,
    window: str = DEFAULT_WINDOW,
    breakdown: str | None = None,
    start: Any = None,
    end: Any = None,
) -> dict[str, Any]:
    """Users per step, conversion from the previous and the first step, median seconds between
    steps (`cartwise.analytics.funnel`); with a breakdown, the same per segment in `segments`,
    largest first-step segment first (a null segment: users without a value)."""
    labels = check_steps(store, steps)
    window_delta = parse_window(window)
    if breakdown is not None and breakdown.strip() == "":
        breakdown = None
    if breakdown is not None:
        options = breakdowns(store)
        if breakdown not in options:
            raise BadParameter(
                "breakdown",
                f"{breakdown[:60]!r} is not available; choose one of {', '.join(options)} "
                "(or leave it empty).",
            )
    start_ts, end_ts = _range(start, end)
    users = store.ibis().table("users") if store.has_table("users") else None
    result = _store_funnel(
        store, labels, window_delta, start_ts, end_ts, breakdown=breakdown, users=users, dropped=False
    )
    segments: list[dict[str, Any]] = []
    if result.by_segment is not None:
        frame = result.by_segment
        # The library lists each segment's steps together, in step order, null segment last.
        n_steps = len(labels)
        for first in range(0, len(frame), n_steps):
            rows = frame.iloc[first : first + n_steps]
            segment = rows["segment"].iloc[0]
            name = None if segment is None or pd.isna(segment) else str(segment)
            segments.append({"segment": name, "steps": _steps_records(rows)})
        segments.sort(key=lambda s: (-s["steps"][0]["users"], s["segment"] is None, s["segment"] or ""))
    return {
        "steps_param": ",".join(labels),
        "window": window.strip(),
        "window_seconds": window_delta.total_seconds(),
        "breakdown": breakdown,
        "start": _iso(start_ts),
        "end": _iso(end_ts),
        "steps": _steps_records(result.steps),
        "segments": segments,
    }


def dropped_view(
    store: Store,
    steps: str = DEFAULT_STEPS,
    window: str = DEFAULT_WINDOW,
    step: str = "",
    start: Any = None,
    end: Any = None,
    page: int = 1,
    page_size: int | None = DEFAULT_DROPPED_PAGE_SIZE,
) -> dict[str, Any]:
    """The users who reached the step before `step` but not `step` (the funnel's `dropped`
    count at that step), ids sorted, a page at a time (`page_size=None`: all of them on one
    page): an audience for a follow-up."""
    labels = check_steps(store, steps)
    parsed = _library_call(parse_steps, step)  # `view[device = mobile]` names `view[device=mobile]`
    wanted = parsed[0].label if len(parsed) == 1 else None
    if wanted not in labels[1:]:
        raise BadParameter(
            "step",
            f"{step[:60]!r} is not a step after the first of this funnel; "
            f"choose one of {', '.join(labels[1:])}.",
        )
    window_delta = parse_window(window)
    if page_size is not None and not 1 <= page_size <= MAX_DROPPED_PAGE_SIZE:
        raise BadParameter("page_size", f"{page_size} must be between 1 and {MAX_DROPPED_PAGE_SIZE}.")
    start_ts, end_ts = _range(start, end)
    # Each page would run the funnel again: keep its drop-outs while the events are unchanged.
    stamp = store.con.execute("SELECT count(*), max(ts) FROM events").fetchall()[0]
    dropped = _DROPPED.get(
        (str(store.path), stamp, tuple(labels), window_delta, start_ts, end_ts),
        lambda: _store_funnel(store, labels, window_delta, start_ts, end_ts).dropped,
    )
    users = dropped[wanted]
    page_size = page_size or max(1, len(users))
    first = (page - 1) * page_size
    return {
        "steps_param": ",".join(labels),
        "window": window.strip(),
        "start": _iso(start_ts),
        "end": _iso(end_ts),
        "step": wanted,
        "total": len(users),
        "page": page,
        "page_size": page_size,
        "pages": max(1, math.ceil(len(users) / page_size)),
        "users": users[first : first + page_size],
    }


# -- retention ------------------------------------------------------------------------------------
def retention_view(
    store: Store,
    grain: str = "week",
    cohort: str = "first_purchase",
    activity: str = "any",
    start: Any = None,
    end: Any = None,
) -> dict[str, Any]:
    """Cohort matrix of `cartwise.analytics.retention`: per cohort (oldest first) its start,
    size, and per period of `period_numbers` (0, 1, ... except across an empty stretch of
    more than about a year) `active_users`, `retention`, `revenue`, `revenue_retention` and
    `ltv` (cumulative revenue per cohort user); a period a cohort skips is null."""
    grain = _choice(grain, COHORT_GRAINS, "grain")
    cohort = _choice(cohort, COHORTS, "cohort")
    activity = _choice(activity, ACTIVITIES, "activity")
    start_ts, end_ts = _range(start, end)
    frame = _library_call(
        retention,
        _events(store),
        grain,
        cohort=cohort,
        activity=activity,
        start=start_ts,
        end=end_ts,
        facts=stored_facts(store),
        orders=_orders(store),
    )
    numbers = sorted({int(p) for p in frame["period"]})
    position = {n: i for i, n in enumerate(numbers)}
    cohorts: list[dict[str, Any]] = []
    for _, rows in frame.groupby("cohort", sort=True):
        rows = rows.sort_values("period")
        # Rows aligned to `numbers`: a period this cohort skips (an empty stretch) is null.
        slots = [position[int(p)] for p in rows["period"]]
        width = slots[-1] + 1

        def aligned(
            values: Any, cast: Callable[[Any], Any], slots: list[int] = slots, width: int = width
        ) -> list[Any]:
            row: list[Any] = [None] * width
            for slot, value in zip(slots, values, strict=True):
                row[slot] = cast(value)
            return row

        cohorts.append(
            {
                "cohort_start": _day(rows["cohort_start"].iloc[0]),
                "cohort_users": _int(rows["cohort_users"].iloc[0]),
                "active_users": aligned(rows["active_users"], _int),
                "retention": aligned(rows["retention"], _num),
                "revenue": aligned(rows["revenue"], _num),
                "revenue_retention": aligned(rows["revenue_retention"], _num),
                "ltv": aligned(rows["ltv"], _num),
            }
        )
    return {
        "grain": grain,
        "cohort": cohort,
        "activity": activity,
        "start": _iso(start_ts),
        "end": _iso(end_ts),
        "periods": max((len(c["retention"]) for c in cohorts), default=0),
        "period_numbers": numbers,
        "cohorts": cohorts,
    }


# -- basket rules ---------------------------------------------------------------------------------
def _order_lines(store: Store, start: datetime | None, end: datetime | None) -> Any:
    sql, params = "SELECT order_id, item_id FROM order_lines", None
    if start is not None or end is not None:
        sql += (
            " l SEMI JOIN orders o ON o.order_id = l.order_id AND o.ts >= coalesce(?, '-infinity'::TIMESTAMP)"
            " AND o.ts < coalesce(?, 'infinity'::TIMESTAMP)"
        )
        params = [start, end]
    return store.arrow(sql, params)


def _rules(
    store: Store,
    min_support: float | None,
    min_confidence: float,
    start: datetime | None,
    end: datetime | None,
) -> tuple[BasketRules, SupportChoice | None]:
    """Rules over the store's `order_lines` of orders placed in [start, end), cached while the
    lines are unchanged (searching and paging reuse one mining run). Without `min_support` the
    support is the one `suggest_min_support` picks from the same lines (returned with it)."""
    stamp = store.con.execute("SELECT count(*), max(order_id) FROM order_lines").fetchall()[0]

    def mine() -> tuple[BasketRules, SupportChoice | None]:
        lines = _order_lines(store, start, end)
        choice = None
        support = min_support
        if support is None:
            choice = suggest_min_support(lines, target_pairs=RULES_TARGET_PAIRS)
            support = choice.min_support if choice.min_support is not None else DEFAULT_MIN_SUPPORT
        rules: BasketRules = _library_call(
            basket_rules, lines, min_support=support, min_confidence=min_confidence
        )
        return rules, choice

    key = (str(store.path), stamp, min_support, min_confidence, start, end)
    result: tuple[BasketRules, SupportChoice | None] = _RULES.get(key, mine)
    return result


def _titles(store: Store) -> dict[str, str]:
    rows = store.con.execute("SELECT item_id, title FROM items WHERE title IS NOT NULL").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def rules_view(
    store: Store,
    min_support: float | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    q: str = "",
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    start: Any = None,
    end: Any = None,
) -> dict[str, Any]:
    """Association rules over orders (`cartwise.analytics.basket_rules`), highest lift first.

    Only orders placed in [`start`, `end`) count. `q` keeps the rules with an item (either
    side) whose id or title contains it, ignoring case. `page` (from 1) of `page_size` rules;
    `matching` counts the rules after `q`, `total_rules` before. Each item comes with its
    title; `orders` = support x baskets.

    Without `min_support` the support is picked from the data: the highest at which about
    `RULES_TARGET_PAIRS` item pairs are held by 2 or more orders (`support_source` "data",
    `support_orders` the threshold in orders); a given one has `support_source` "given".
    """
    for name, value in (("min_support", min_support), ("min_confidence", min_confidence)):
        if name == "min_support" and value is None:
            continue
        if not isinstance(value, int | float) or math.isnan(value) or not 0.0 < value <= 1.0:
            raise BadParameter(name, f"{value!r} must be a fraction in (0, 1], e.g. 0.01.")
    if page < 1:
        raise BadParameter("page", f"{page} must be 1 or more.")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise BadParameter("page_size", f"{page_size} must be between 1 and {MAX_PAGE_SIZE}.")
    start_ts, end_ts = _range(start, end)
    given = None if min_support is None else float(min_support)
    result, choice = _rules(store, given, float(min_confidence), start_ts, end_ts)
    if given is not None:
        used, source = given, "given"
    elif choice is not None and choice.min_support is not None:
        used, source = choice.min_support, "data"
    else:
        used, source = DEFAULT_MIN_SUPPORT, "default"
    titles = _titles(store)
    needle = (q or "").strip().casefold()
    rows = list(
        zip(
            result.rules["antecedents"],
            result.rules["consequents"],
            result.rules["support"],
            result.rules["confidence"],
            result.rules["lift"],
            strict=True,
        )
    )
    if needle:

        def hit(item: str) -> bool:
            return needle in item.casefold() or needle in titles.get(item, "").casefold()

        rows = [r for r in rows if any(hit(i) for i in (*r[0], *r[1]))]
    first = (page - 1) * page_size
    shown = rows[first : first + page_size]

    def items(ids: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{"item_id": i, "title": titles.get(i)} for i in ids]

    return {
        "baskets": result.baskets,
        "min_support": used,
        "support_source": source,
        "support_orders": math.ceil(used * result.baskets - 1e-9) if result.baskets else 0,
        "target_pairs": RULES_TARGET_PAIRS,
        "min_confidence": float(min_confidence),
        "q": q or "",
        "start": _iso(start_ts),
        "end": _iso(end_ts),
        "total_rules": len(result.rules),
        "matching": len(rows),
        "page": page,
        "page_size": page_size,
        "pages": max(1, math.ceil(len(rows) / page_size)),
        "rules": [
            {
                "rank": first + n + 1,
                "antecedents": items(a),
                "consequents": items(c),
                "support": float(s),
                "confidence": float(conf),
                "lift": float(lift),
                "orders": round(float(s) * result.baskets),
            }
            for n, (a, c, s, conf, lift) in enumerate(shown)
        ],
    }


# -- the page -------------------------------------------------------------------------------------
def options(store: Store) -> dict[str, Any]:
    """Choices the page's forms offer."""
    return {
        "grains": list(GRAINS),
        "cohort_grains": list(COHORT_GRAINS),
        "cohorts": list(COHORTS),
        "activities": list(ACTIVITIES),
        "event_types": event_types(store),
        "breakdowns": breakdowns(store),
        "windows": list(WINDOW_EXAMPLES),
        "tiles": [{"kpi": k, "label": label, "format": fmt} for k, label, fmt in TILES],
    }


def analytics_page(service: Service) -> dict[str, Any]:
    """The page's default view: weekly KPIs and tiles, the view-to-purchase funnel in a day
    over the last `FUNNEL_PAGE_DAYS` days with data (up to tomorrow), weekly first-purchase retention, the top
    rules, and the forms' options."""
    # One snapshot for the whole view, on its own cursor: the collector's writer never waits for it.
    with service.read(what="Analytics page's default view") as store:
        types = set(event_types(store))
        kpis_data = kpis_view(store)
        funnel_from = funnel_to = None
        funnel_data = None
        if kpis_data["last_event"] is not None and {"view", "add_to_cart", "purchase"} <= types:
            # The last day with data up to tomorrow: a stray event dated 2100 must not make the
            # page open on an empty funnel (it still counts in every view that covers it).
            tomorrow = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
            recent = _last_event_before(store, tomorrow)
            funnel_to = (
                recent.date() if recent is not None else date.fromisoformat(kpis_data["last_event"][:10])
            )
            funnel_from = funnel_to - timedelta(days=FUNNEL_PAGE_DAYS - 1)
            # No end after 9999-12-31 (no date holds it): to the end of the data is the same range.
            funnel_end = None if funnel_to == date.max else (funnel_to + timedelta(days=1)).isoformat()
            funnel_data = funnel_view(store, start=funnel_from.isoformat(), end=funnel_end)
        retention_data = retention_view(store)
        rules_data = rules_view(store)
        options_data = options(store)
    return {
        "kpis": kpis_data,
        "funnel": funnel_data,
        "retention": retention_data,
        "rules": rules_data,
        "options": options_data,
        "defaults": {
            "grain": DEFAULT_GRAIN,
            "steps": DEFAULT_STEPS,
            "window": DEFAULT_WINDOW,
            "funnel_from": funnel_from.isoformat() if funnel_from else None,
            "funnel_to": funnel_to.isoformat() if funnel_to else None,
            "min_support": None,
            "min_confidence": DEFAULT_MIN_CONFIDENCE,
            "page_size": DEFAULT_PAGE_SIZE,
        },
    }


register_page(
    Page(
        "analytics",
        "Analytics",
        20,
        "Sales, traffic and behaviour over time.",
        data=analytics_page,
        template="analytics.html",
    )
)
