"""Serving recommendations: the trained model in memory, business rules, impressions, online updates.

One `RecsServer` per running service (`recs_for(service)`), started with the API (its
router's lifespan) and stopped before the store closes:

- Model: loaded from `store.artefacts_path() / "recommender"` when present (otherwise
  trending items are served). A background thread batch-scores every known user into a
  table of `cache_k` candidates (recommenders are batch-first; one user at a time would cost
  the hybrid tens of milliseconds); users not scored yet are served by folding their history
  through the item similarity. A retrain (`retrain()`, every `retrain_hours`, or
  `POST /api/v1/recommender/retrain`) fits a new model off the request path and replaces one
  reference; a request reads that reference once, so it is answered wholly by the old or
  wholly by the new model.
- Rules at serve time, on `overfetch` x n candidates: never an inactive item, an item with
  `stock <= 0` (re-read every `catalogue_seconds`), or an item the user bought, unless its
  category path starts with one of `consumable_categories` (consumables are bought again);
  at most `category_cap` items per category (the first `category_depth` levels of its path);
  a seeded shuffle among near-ties (scores within `tie_tolerance` of the candidates' score
  range) so lists stay fresh.
- Online updates: a background thread reads events newer than the last one it saw (by
  DuckDB row id, every `poll_seconds`). Each event joins its session at once and folds into
  the user's scores: fresh items add `sum_e w_e * S[item_e, :]`, with `S` the model's
  item-to-item similarity (the session model's transitions, or co-occurrence cosine). For
  item-based models the user's vector is their interaction row, so this is the update a
  retrain would make, without one.
- Impressions: every served list is buffered and written to `rec_impressions` (one row per
  item shown, with the request id) every `flush_seconds`. Attribution happens at read time:
  a view, add-to-cart or purchase of a shown item counts for the impression when the event's
  `properties.request_id` names the request, or, without a request id, when the same user
  acts on the item within `attribution_hours` after it was shown.
"""

from __future__ import annotations

import gc
import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from cartwise.core.errors import CartwiseError, InputError, NotFoundError
from cartwise.core.settings import Settings
from cartwise.pages.dashboard import Page, register_page
from cartwise.pipelines.train import EVENT_WEIGHTS, store_interactions
from cartwise.recommend import Recommender, create, load_model

if TYPE_CHECKING:
    from cartwise.service.collector import StoreGate
    from cartwise.service.service import Service

log = logging.getLogger("cartwise.recs")


_VERBS = {"purchase": "bought", "add_to_cart": "added", "begin_checkout": "added", "view": "viewed"}


class RecsOptions(BaseModel):
    """How recommendations are served: the `recs_options` setting."""

    model_config = ConfigDict(extra="forbid")

    max_n: int = Field(default=100, ge=1, le=1000, description="Largest `n` a request may ask for.")
    overfetch: int = Field(
        default=5, ge=1, le=50, description="Candidates fetched per item served, before rules."
    )
    category_cap: int = Field(default=3, ge=1, description="Most items of one category in one list.")
    category_depth: int = Field(
        default=2, ge=1, description="Category levels (` > `-separated) that define a category for the cap."
    )
    consumable_categories: list[str] = Field(
        default_factory=list,
        description="Category path prefixes whose items may be recommended again after a purchase.",
    )
    tie_tolerance: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Scores within this share of the candidates' range are shuffled.",
    )
    session_weight: float = Field(
        default=1.0, ge=0, description="Weight of live-session scores beside the model's."
    )
    fresh_weight: float = Field(
        default=0.5, ge=0, description="Weight of events since training beside the model's."
    )
    attribution_hours: float = Field(
        default=24.0, gt=0, description="Window after an impression in which the same user's actions count."
    )
    poll_seconds: float = Field(
        default=0.2, gt=0, description="How often new events are read for online updates."
    )
    catalogue_seconds: float = Field(
        default=30.0, gt=0, description="How often stock and the active flag are re-read from `items`."
    )
    flush_seconds: float = Field(
        default=0.25, gt=0, description="How often buffered impressions are written."
    )
    retrain_hours: float | None = Field(
        default=None, gt=0, description="Retrain the model this often while serving; none: on command only."
    )
    trending_half_life_days: float = Field(
        default=7.0, gt=0, description="Half-life of the recency weight of trending items, in days."
    )
    cache_k: int = Field(
        default=100,
        ge=10,
        le=1000,
        description="Candidates kept per known user by the background batch scoring.",
    )
    offline_models: list[str] = Field(
        default_factory=lambda: ["hybrid", "itemknn", "als", "session"],
        description="Models scored offline (beside the baselines) for the dashboard after each (re)train; empty: none.",
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> RecsOptions:
        """The `recs_options` setting (cartwise.toml or the JSON in CARTWISE_RECS_OPTIONS)."""
        try:
            return cls.model_validate(settings.recs_options)
        except ValueError as exc:
            raise InputError(f"The recs_options setting is not valid: {exc}") from exc


@dataclass(frozen=True)
class _State:
    """Everything a request reads, swapped as one reference."""

    model: Recommender | None
    version: str
    loaded_at: str
    item_ids: np.ndarray
    item_pos: dict[str, int]
    titles: list[str]
    categories: list[str]
    group: np.ndarray  # category code for the cap
    blocked: np.ndarray  # inactive or out of stock
    consumable: np.ndarray
    trending: np.ndarray  # recency-weighted interest, >= 0
    trend_norm: np.ndarray  # trending scaled to [0, 1]
    trend_top: np.ndarray  # positions of the most trending items, always candidates
    sim: sp.csr_matrix  # item x item similarity for sessions and online updates
    user_pos: dict[str, int]  # row of each user the model knows
    bought: sp.csr_matrix  # users x items purchased at load, rows of the model's users
    cache: _Cache | None = None
    watermark: int = 0  # last event row id the model or the load saw
    together: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    similar: dict[tuple[str, int], tuple[list[Any], list[float]]] = field(default_factory=dict)


class _Cache:
    """The model's top `k` candidates per known user, filled in the background in batches.

    Scoring users in batches is what the recommenders are built for; one user at a time costs
    the hybrid tens of milliseconds. A row is marked ready only after it is written.
    """

    def __init__(self, n_users: int, k: int) -> None:
        self.k = k
        self.items = np.full((n_users, k), -1, dtype=np.int32)
        self.scores = np.full((n_users, k), -np.inf, dtype=np.float32)
        self.ready = np.zeros(n_users, dtype=bool)

    @property
    def done(self) -> int:
        return int(self.ready.sum())


@dataclass
class Served:
    """One answered request."""

    request_id: str
    user_id: str
    items: list[dict[str, Any]]
    model_version: str
    cold_start: bool
    session_items: int


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _norm(x: np.ndarray) -> np.ndarray:
    finite = np.isfinite(x)
    if not finite.any():
        return np.zeros_like(x)
    top = float(np.max(np.where(finite, x, -np.inf)))
    low = float(np.min(np.where(finite, x, np.inf)))
    span = top - low
    out = (x - low) / span if span > 0 else np.where(finite, 1.0, 0.0)
    return np.where(finite, out, 0.0)


class RecsServer:
    """The serving layer of one service; thread-safe; see the module docstring."""

    def __init__(self, gate: StoreGate, artefacts: Path, options: RecsOptions | None = None) -> None:
        self.gate = gate
        self.options = options or RecsOptions()
        self.model_dir = artefacts / "recommender"
        self.offline_path = artefacts / "recs_offline.json"
        self._state: _State | None = None
        self._lock = threading.Lock()
        self._impressions: list[tuple[Any, ...]] = []
        self._fresh: dict[str, list[tuple[int, str, float, str]]] = {}  # user -> (rowid, item, weight, type)
        self._live_bought: dict[str, set[str]] = {}
        self._sessions: OrderedDict[str, deque[str]] = OrderedDict()
        self._seen_rowid = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self.retrain_status: dict[str, Any] = {"state": "idle"}
        self._retrain_lock = threading.Lock()
        self._last_retrain = time.monotonic()
        self.offline: dict[str, Any] | None = None
        self.stats = {"requests": 0, "events_applied": 0, "swaps": 0}

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> RecsServer:
        with self.gate as store:
            self._seen_rowid = int(
                store.con.execute("SELECT coalesce(max(rowid), -1) FROM events").fetchall()[0][0]
            )
        model = None
        if (self.model_dir / "model.json").is_file():
            try:
                model = load_model(self.model_dir)
            except CartwiseError as exc:
                log.warning("the saved recommender could not be loaded (%s); serving trending items", exc)
        self._state = self._build_state(model, self._seen_rowid)
        log.info(
            "serving recommender %s (%d items; %d known users)",
            self.state.version,
            len(self.state.item_ids),
            len(self.state.user_pos),
        )
        self._spawn(lambda: self._fill_cache(self.state), "cartwise-recs-cache")
        self._seed_sessions()
        if self.offline_path.is_file():
            self.offline = json.loads(self.offline_path.read_text(encoding="utf-8"))
        self._thread = threading.Thread(target=self._loop, name="cartwise-recs", daemon=True)
        self._thread.start()
        if self.offline is None and model is not None:
            self._spawn(self._evaluate_offline, "cartwise-recs-eval")
        return self

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._workers = [t for t in self._workers if t.is_alive()] + [thread]
        thread.start()

    def stop(self, timeout: float = 120.0) -> None:
        """Stop the background thread, wait for a running retrain or evaluation, write impressions."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for thread in self._workers:
            thread.join(timeout=timeout)
        self.flush()
        gc.unfreeze()  # hand what was frozen back to the collector, so the process exits cleanly

    @property
    def state(self) -> _State:
        state = self._state
        if state is None:
            raise InputError("The recommendation service is not started.")
        return state

    # -- building state --------------------------------------------------------------------------
    def _build_state(self, model: Recommender | None, watermark: int) -> _State:
        state = self._make_state(model, watermark)
        # The model and its indices are hundreds of thousands of long-lived objects: keep the
        # garbage collector from walking them again and again while requests wait.
        gc.collect()
        gc.freeze()
        return state

    def _make_state(self, model: Recommender | None, watermark: int) -> _State:
        with self.gate as store:
            catalogue = store.arrow("SELECT item_id, title, category, stock, active FROM items").to_pylist()
            purchases = store.arrow(
                "SELECT DISTINCT user_id, item_id FROM events WHERE type = 'purchase' AND item_id IS NOT NULL "
                "AND rowid <= ?",
                [watermark],
            )
            trend = store.arrow(
                f"""WITH w AS (SELECT * FROM (VALUES {", ".join(f"('{t}', {v})" for t, v in EVENT_WEIGHTS.items())}) AS w(type, weight)),
                    last AS (SELECT max(ts) AS t FROM events)
                    SELECT e.item_id, sum(w.weight * pow(2, -(epoch((SELECT t FROM last)) - epoch(e.ts)) / 86400.0 / ?)) AS s
                    FROM events e JOIN w USING (type)
                    WHERE e.item_id IS NOT NULL AND e.ts >= (SELECT t FROM last) - INTERVAL 60 DAY
                    GROUP BY 1""",
                [self.options.trending_half_life_days],
            )
        info = {str(r["item_id"]): r for r in catalogue}
        if model is not None:
            item_ids = np.asarray(model.item_ids_, dtype=object)
        else:
            item_ids = np.asarray(sorted(info), dtype=object)
        item_pos = {v: i for i, v in enumerate(item_ids.tolist())}
        n_items = len(item_ids)
        titles, categories, blocked = [], [], np.zeros(n_items, dtype=bool)
        consumable = np.zeros(n_items, dtype=bool)
        prefixes = tuple(self.options.consumable_categories)
        for i, item in enumerate(item_ids.tolist()):
            row = info.get(item)
            if row is None:  # in the model but no longer in the catalogue
                titles.append(item)
                categories.append("")
                blocked[i] = True
                continue
            titles.append(row["title"] or item)
            categories.append(row["category"] or "")
            stock, active = row["stock"], row["active"]
            blocked[i] = (active is False) or (stock is not None and stock <= 0)
            consumable[i] = bool(prefixes) and (row["category"] or "").startswith(prefixes)
        depth = self.options.category_depth
        keys = [" > ".join(c.split(" > ")[:depth]) if c else f"(none:{i})" for i, c in enumerate(categories)]
        _, group = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)
        trending = np.zeros(n_items)
        for item, score in zip(trend["item_id"].to_pylist(), trend["s"].to_pylist(), strict=True):
            pos = item_pos.get(str(item))
            if pos is not None and score is not None:
                trending[pos] = float(score)
        # Rows of the model's users; without a model, of the buyers (for the already-bought rule).
        buyers = purchases["user_id"].to_pylist()
        if model is not None:
            user_pos = {v: i for i, v in enumerate(model.user_ids_.tolist())}
        else:
            user_pos = {v: i for i, v in enumerate(sorted({str(u) for u in buyers}))}
        users = np.fromiter((user_pos.get(str(v), -1) for v in buyers), dtype=np.int64, count=len(buyers))
        cols = np.fromiter(
            (item_pos.get(str(v), -1) for v in purchases["item_id"].to_pylist()),
            dtype=np.int64,
            count=len(buyers),
        )
        ok = (users >= 0) & (cols >= 0)
        bought = sp.csr_matrix(
            (np.ones(int(ok.sum()), dtype=np.float32), (users[ok], cols[ok])), shape=(len(user_pos), n_items)
        )
        cache: _Cache | None = None
        if model is not None:
            session_model = getattr(model, "generators_", {}).get("session")
            sim = (
                sp.csr_matrix(session_model.similarity_, dtype=np.float32)
                if session_model is not None
                else _cooccurrence_similarity(model.seen_)
            )
            cache = _Cache(len(user_pos), self.options.cache_k)
            version = f"{model.name}-{_now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
        else:
            sim = sp.csr_matrix((n_items, n_items), dtype=np.float32)
            version = "trending"
        state = _State(
            model=model,
            version=version,
            loaded_at=_now().isoformat(timespec="seconds") + "Z",
            item_ids=item_ids,
            item_pos=item_pos,
            titles=titles,
            categories=categories,
            group=group,
            blocked=blocked,
            consumable=consumable,
            trending=trending,
            trend_norm=_norm(trending),
            trend_top=np.argsort(-trending, kind="stable")[:1000].astype(np.int64),
            sim=sim,
            user_pos=user_pos,
            bought=bought,
            cache=cache,
            watermark=watermark,
        )
        return replace(state, together=self._bought_together(state))

    def _bought_together(self, state: _State) -> dict[str, list[tuple[str, float, float]]]:
        """Pair rules `{a} -> {b}` from the orders (`cartwise.analytics.basket_rules`), best lift first."""
        from cartwise.analytics import basket_rules

        with self.gate as store:
            lines = store.arrow("SELECT order_id, item_id FROM order_lines WHERE item_id IS NOT NULL")
            baskets = store.con.execute("SELECT count(DISTINCT order_id) FROM order_lines").fetchall()[0][0]
        if not baskets or lines.num_rows == 0:
            return {}
        # Two orders of the pair at least: rarer pairs are noise.
        support = min(1.0, max(2.0 / baskets, 1e-6))
        try:
            rules = basket_rules(lines, min_support=support, min_confidence=0.01, max_len=2).rules
        except CartwiseError as exc:
            log.warning("basket rules could not be computed: %s", exc)
            return {}
        out: dict[str, list[tuple[str, float, float]]] = {}
        for ante, cons, conf, lift in zip(
            rules["antecedents"], rules["consequents"], rules["confidence"], rules["lift"], strict=True
        ):
            if len(ante) == 1 and len(cons) == 1:
                out.setdefault(str(ante[0]), []).append((str(cons[0]), float(conf), float(lift)))
        for key in out:
            out[key].sort(key=lambda r: (-r[2], -r[1], r[0]))
        return out

    def _seed_sessions(self) -> None:
        """Sessions active in the last hour, so a restart keeps them."""
        since = _now() - timedelta(hours=1)
        with self.gate as store:
            rows = store.con.execute(
                "SELECT session_id, item_id FROM events WHERE ts >= ? AND session_id IS NOT NULL "
                "AND item_id IS NOT NULL ORDER BY ts, rowid",
                [since],
            ).fetchall()
        with self._lock:
            for session, item in rows:
                self._session_add(str(session), str(item))

    # -- background work -------------------------------------------------------------------------
    def _loop(self) -> None:
        last_flush = last_catalogue = time.monotonic()
        while not self._stop.wait(self.options.poll_seconds):
            try:
                self.poll()
                if time.monotonic() - last_catalogue >= self.options.catalogue_seconds:
                    self.refresh_catalogue()
                    last_catalogue = time.monotonic()
                if time.monotonic() - last_flush >= self.options.flush_seconds:
                    self.flush()
                    last_flush = time.monotonic()
                every = self.options.retrain_hours
                if every is not None and time.monotonic() - self._last_retrain >= every * 3600:
                    self.retrain(background=True)
            except Exception:  # the loop must survive a bad batch; the next pass retries
                log.exception("recommendation background work failed")

    def poll(self) -> int:
        """Apply events stored since the last poll to sessions and users; returns how many.

        The rows come as Arrow with ids dictionary-encoded: turning thousands of rows into
        Python tuples held the GIL for 40-60 ms under collector load and stalled every other
        thread.
        """
        with self.gate as store:
            table = store.con.sql(
                "SELECT rowid, ts, user_id, session_id, type, item_id FROM events WHERE rowid > $seen "
                "AND item_id IS NOT NULL ORDER BY rowid LIMIT 200000",
                params={"seen": self._seen_rowid},
            ).to_arrow_table()
        if table.num_rows == 0:
            return 0
        times = table.column("ts").to_numpy()
        if (times[1:] < times[:-1]).any():  # a file load stores its rows in any order
            table = table.take(pc.sort_indices(table, [("ts", "ascending"), ("rowid", "ascending")]))
        rowids = table.column("rowid").to_numpy().tolist()
        codes, values = {}, {}
        for name in ("user_id", "session_id", "type", "item_id"):
            encoded = table.column(name).cast(pa.string()).combine_chunks().dictionary_encode()
            codes[name] = encoded.indices.fill_null(-1).to_numpy().tolist()
            values[name] = [str(v) for v in encoded.dictionary.to_pylist()]
        users, sessions, kinds, items = (values[n] for n in ("user_id", "session_id", "type", "item_id"))
        weights = [EVENT_WEIGHTS.get(kind) for kind in kinds]
        with self._lock:  # one poll is applied whole: a request sees all of it or none
            for row in range(len(rowids)):
                user, item, kind = codes["user_id"][row], codes["item_id"][row], codes["type"][row]
                weight = weights[kind]
                if weight is not None:
                    fresh = self._fresh.setdefault(users[user], [])
                    fresh.append((rowids[row], items[item], weight, kinds[kind]))
                    del fresh[:-200]
                    session = codes["session_id"][row]
                    if session >= 0:
                        self._session_add(sessions[session], items[item])
                if kinds[kind] == "purchase":
                    self._live_bought.setdefault(users[user], set()).add(items[item])
            self._seen_rowid = max(self._seen_rowid, max(rowids))
            self.stats["events_applied"] += len(rowids)
        return len(rowids)

    def refresh_catalogue(self) -> int:
        """Re-read stock and the active flag; returns how many items are now blocked."""
        state = self.state
        with self.gate as store:
            rows = store.con.execute("SELECT item_id, stock, active FROM items").fetchall()
        blocked = np.ones(len(state.item_ids), dtype=bool)  # gone from the catalogue: blocked
        for item, stock, active in rows:
            pos = state.item_pos.get(str(item))
            if pos is not None:
                blocked[pos] = (active is False) or (stock is not None and stock <= 0)
        state.blocked[:] = blocked  # in place: requests keep reading one array
        return int(blocked.sum())

    def _session_add(self, session: str, item: str) -> None:
        items = self._sessions.get(session)
        if items is None:
            items = self._sessions[session] = deque(maxlen=20)
            while len(self._sessions) > 100_000:
                self._sessions.popitem(last=False)
        else:
            self._sessions.move_to_end(session)
        if not items or items[-1] != item:
            items.append(item)

    def flush(self) -> int:
        """Write buffered impressions to `rec_impressions`; returns rows written."""
        with self._lock:
            rows, self._impressions = self._impressions, []
        if not rows:
            return 0
        names = ("request_id", "ts", "user_id", "session_id", "item_id", "position", "score", "reason")
        columns = list(zip(*rows, strict=True))
        table = pa.table(
            {
                **{name: columns[i] for i, name in enumerate(names) if name != "ts"},
                "ts": pa.array(columns[1], pa.timestamp("us")),
                "model_version": columns[8],
                "surface": columns[9],
            }
        )
        with self.gate as store:
            store.append("rec_impressions", table)
        return len(rows)

    # -- model swaps -----------------------------------------------------------------------------
    def reload(self) -> str:
        """Load the saved model and swap it in; returns its version."""
        with self.gate as store:
            watermark = int(store.con.execute("SELECT coalesce(max(rowid), -1) FROM events").fetchall()[0][0])
        return self._swap(load_model(self.model_dir), watermark)

    def _swap(self, model: Recommender, watermark: int) -> str:
        state = self._build_state(model, watermark)
        with self._lock:
            self._state = state  # one reference: a request sees the old or the new model, never a mix
            for user in list(self._fresh):
                kept = [e for e in self._fresh[user] if e[0] > watermark]
                if kept:
                    self._fresh[user] = kept
                else:
                    del self._fresh[user]
            self.stats["swaps"] += 1
        log.info("recommender %s is now serving", state.version)
        self._spawn(lambda: self._fill_cache(state), "cartwise-recs-cache")
        return state.version

    def retrain(self, *, background: bool = False, model: str = "hybrid") -> dict[str, Any]:
        """Fit `model` on the store's events off the request path, save it, swap it in."""
        if background:
            if self._retrain_lock.locked():
                return dict(self.retrain_status)
            self.retrain_status = {"state": "queued", "since": _now().isoformat(timespec="seconds") + "Z"}
            self._spawn(lambda: self.retrain(model=model), "cartwise-retrain")
            return dict(self.retrain_status)
        with self._retrain_lock:
            self._last_retrain = time.monotonic()
            started = time.perf_counter()
            self.retrain_status = {"state": "running", "since": _now().isoformat(timespec="seconds") + "Z"}
            try:
                with self.gate as store:  # only reading runs under the gate; fitting does not block writes
                    watermark = int(
                        store.con.execute("SELECT coalesce(max(rowid), -1) FROM events").fetchall()[0][0]
                    )
                    interactions = store_interactions(store)
                    items = store.arrow(
                        "SELECT item_id, title, description, category, brand, price FROM items"
                    ).to_pandas()
                fitted = create(model).fit(interactions, items=items if len(items) else None)
                _save_atomically(fitted, self.model_dir)
                version = self._swap(fitted, watermark)
            except Exception as exc:
                log.exception("retraining failed")
                self.retrain_status = {"state": "failed", "error": str(exc)}
                return dict(self.retrain_status)
            self.retrain_status = {
                "state": "done",
                "version": version,
                "seconds": round(time.perf_counter() - started, 2),
                "finished": _now().isoformat(timespec="seconds") + "Z",
            }
        self._spawn(self._evaluate_offline, "cartwise-recs-eval")
        return dict(self.retrain_status)

    def _fill_cache(self, state: _State, batch: int = 256) -> None:
        """Batch-score every known user (most active first) into `state.cache`; stops on a swap."""
        model, cache = state.model, state.cache
        if model is None or cache is None:
            return
        started = time.perf_counter()
        order = np.argsort(-np.diff(model.seen_.indptr), kind="stable")
        for start in range(0, len(order), batch):
            if self._stop.is_set() or self._state is not state:
                return
            rows = order[start : start + batch]
            ids, scores = model.recommend(model.user_ids_[rows], n=cache.k, exclude_seen=False)
            pos = np.fromiter(
                (state.item_pos.get(i, -1) if i is not None else -1 for i in ids.ravel().tolist()),
                dtype=np.int32,
                count=ids.size,
            ).reshape(ids.shape)
            cache.items[rows] = pos
            cache.scores[rows] = np.where(pos >= 0, scores, -np.inf)
            cache.ready[rows] = True
            time.sleep(0.001)  # let requests in between batches
        log.info("batch-scored %d users in %.1f s", len(order), time.perf_counter() - started)
        # Scoring leaves long-lived objects behind (model caches): freeze them too, as at load,
        # but without a full collection first, which would stall requests for about a second.
        gc.freeze()

    def _evaluate_offline(self) -> None:
        """Score each model of `offline_models` and the baselines on a held-out split; saved for the page."""
        from cartwise.pipelines.recs import evaluate_from_file

        if not self.options.offline_models:
            self.offline = {"status": "disabled", "models": []}
            return
        try:
            with self.gate as store:
                table = store.arrow(
                    "SELECT user_id, item_id, epoch(ts) AS ts FROM events WHERE item_id IS NOT NULL "
                    "AND type IN ('view', 'add_to_cart', 'begin_checkout', 'purchase') ORDER BY ts"
                )
            with tempfile.TemporaryDirectory() as tmp:
                import pyarrow.parquet as pq

                path = Path(tmp) / "interactions.parquet"
                pq.write_table(table, path)
                report = evaluate_from_file(
                    path,
                    user_col="user_id",
                    item_col="item_id",
                    time_col="ts",
                    split="leave-last-5",
                    k=10,
                    models=self.options.offline_models,
                )
            report["evaluated_at"] = _now().isoformat(timespec="seconds") + "Z"
            report["models"] = [_clean(r) for r in report["models"]]
            self.offline = report
            self.offline_path.write_text(json.dumps(report, indent=1), encoding="utf-8")
        except Exception as exc:
            log.exception("offline evaluation failed")
            self.offline = {"error": str(exc), "models": []}

    # -- answers ---------------------------------------------------------------------------------
    def _check_n(self, n: int) -> int:
        if not 1 <= n <= self.options.max_n:
            raise InputError(f"n must be between 1 and {self.options.max_n}; got {n}.")
        return n

    def recommend(
        self,
        user_id: str,
        n: int = 10,
        *,
        session_id: str | None = None,
        context_item: str | None = None,
        seed: int | None = None,
        surface: str = "api",
        log_impression: bool = True,
    ) -> Served:
        """Up to `n` items for `user_id` under the business rules, each with a score and a reason."""
        n = self._check_n(n)
        state = self.state
        model = state.model
        with self._lock:
            fresh = list(self._fresh.get(user_id, ()))
            live_bought = set(self._live_bought.get(user_id, ()))
            session = list(self._sessions.get(session_id, ())) if session_id else []
        if context_item is not None:
            if context_item not in state.item_pos:
                raise NotFoundError(f"context_item {context_item!r} is not in the catalogue.")
            session.append(context_item)
        row = state.user_pos.get(user_id, -1)
        # Scores live on a candidate set (the model's, the similarity spreads', the top trending
        # items), never on the whole catalogue: a request costs the same for 2,000 or 200,000 items.
        parts: list[tuple[np.ndarray, np.ndarray, float]] = []
        if row >= 0 and model is not None:
            cache = state.cache
            if cache is not None and cache.ready[row]:
                ok = cache.items[row] >= 0
                cols, vals = cache.items[row][ok].astype(np.int64), cache.scores[row][ok].astype(np.float64)
                if len(cols):
                    span = float(vals.max() - vals.min())
                    # Every candidate of the model ranks above every other item.
                    vals = 0.01 + 0.99 * ((vals - vals.min()) / span if span > 0 else np.ones(len(vals)))
                    parts.append((cols, vals, 1.0))
            else:
                # Not batch-scored yet: fold the user's history through the item similarity.
                seen = model.seen_
                lo, hi = seen.indptr[row], seen.indptr[row + 1]
                parts.append((*_spread(state.sim, seen.indices[lo:hi], seen.data[lo:hi]), 1.0))
        fresh_rows = [(state.item_pos[it], w) for _, it, w, _ in fresh if it in state.item_pos]
        if fresh_rows:
            spread = _spread(state.sim, [p for p, _ in fresh_rows], [w for _, w in fresh_rows])
            parts.append((*spread, self.options.fresh_weight))
        session_pos = [state.item_pos[i] for i in session if i in state.item_pos]
        if session_pos:
            weights = 0.7 ** np.arange(len(session_pos))[::-1]
            parts.append((*_spread(state.sim, session_pos, weights), self.options.session_weight))
        cold = row < 0 and not fresh_rows and not session_pos
        cand = np.unique(np.concatenate([state.trend_top, *(c for c, _, _ in parts)]))
        scores = np.zeros(len(cand))
        for cols, vals, weight in parts:
            top = float(vals.max()) if len(vals) else 0.0
            if top > 0:
                scores[np.searchsorted(cand, cols)] += weight * vals / top
        # Trending breaks ties and is the whole list for a shopper we know nothing about.
        scores += (1.0 if cold or scores.max(initial=0.0) <= 0 else 0.01) * state.trend_norm[cand]
        bad = state.blocked[cand].copy()
        bought = (
            state.bought.indices[state.bought.indptr[row] : state.bought.indptr[row + 1]] if row >= 0 else []
        )
        bought = np.concatenate(
            [
                np.asarray(bought, dtype=np.int64),
                [state.item_pos[i] for i in live_bought if i in state.item_pos],
            ]
        )
        if len(bought):
            bad |= np.isin(cand, bought) & ~state.consumable[cand]
        if session_pos:
            bad |= np.isin(cand, session_pos)  # never the item being looked at, nor the session's own
        scores[bad] = -np.inf
        chosen, chosen_scores = self._apply_rules(state, cand, scores, n, seed)
        history = self._history(state, row, fresh, live_bought)
        reasons = self._reasons(state, chosen, history, session_pos, cold)
        request_id = uuid.uuid4().hex
        items = [
            {
                "item_id": str(state.item_ids[p]),
                "title": state.titles[p],
                "category": state.categories[p],
                "score": round(score, 6),
                "reason": reason,
                "reason_item_id": because,
            }
            for p, score, (reason, because) in zip(chosen, chosen_scores, reasons, strict=True)
        ]
        self.stats["requests"] += 1
        if log_impression and items:
            now = _now()
            rows = [
                (
                    request_id,
                    now,
                    user_id,
                    session_id,
                    it["item_id"],
                    rank,
                    it["score"],
                    it["reason"],
                    state.version,
                    surface,
                )
                for rank, it in enumerate(items, start=1)
            ]
            with self._lock:
                self._impressions.extend(rows)
        return Served(request_id, user_id, items, state.version, cold, len(session_pos))

    def _apply_rules(
        self, state: _State, cand: np.ndarray, scores: np.ndarray, n: int, seed: int | None
    ) -> tuple[list[int], list[float]]:
        """Over-fetch, shuffle near-ties with a seeded generator, cap per category, keep n.

        Returns the chosen item positions and their scores, best first."""
        finite = np.isfinite(scores)
        cand, scores = cand[finite], scores[finite]
        if not len(cand):
            return [], []
        k = min(len(cand), n * self.options.overfetch)
        idx = np.argpartition(-scores, k - 1)[:k] if k < len(cand) else np.arange(len(cand))
        top, top_scores = cand[idx], scores[idx]
        span = float(top_scores.max() - top_scores.min())
        rng = np.random.default_rng(seed)
        jitter = rng.uniform(0.0, self.options.tie_tolerance * span, size=len(top)) if span > 0 else 0.0
        ordered = top[np.lexsort((top, -(top_scores + jitter)))]
        chosen, counts = self._cap(state, ordered, n, {})
        if len(chosen) < n and k < len(cand):
            # The cap left the list short: continue down the full ranking.
            rest = np.ones(len(cand), dtype=bool)
            rest[idx] = False
            more_cand, more_scores = cand[rest], scores[rest]
            more, _ = self._cap(
                state, more_cand[np.lexsort((more_cand, -more_scores))], n - len(chosen), counts
            )
            chosen += more
        # `cand` is sorted (np.unique), so each chosen item's score is found by bisection.
        return chosen, scores[np.searchsorted(cand, chosen)].tolist() if chosen else []

    def _cap(
        self, state: _State, ordered: np.ndarray, n: int, counts: dict[int, int]
    ) -> tuple[list[int], dict[int, int]]:
        chosen: list[int] = []
        cap = self.options.category_cap
        for p in ordered.tolist():
            g = int(state.group[p])
            if counts.get(g, 0) >= cap:
                continue
            counts[g] = counts.get(g, 0) + 1
            chosen.append(p)
            if len(chosen) == n:
                break
        return chosen, counts

    def _history(
        self, state: _State, row: int, fresh: list[tuple[int, str, float, str]], live_bought: set[str]
    ) -> list[tuple[int, str]]:
        """The user's items (position, verb), strongest first: purchases, then carts, then views."""
        rank = {"bought": 0, "added": 1, "viewed": 2}
        found: dict[int, str] = {}
        for _, item, _, kind in reversed(fresh):
            pos = state.item_pos.get(item)
            if pos is not None:
                verb = _VERBS.get(kind, "viewed")
                if pos not in found or rank[verb] < rank[found[pos]]:
                    found[pos] = verb
        for item in live_bought:
            pos = state.item_pos.get(item)
            if pos is not None:
                found[pos] = "bought"
        if row >= 0 and state.model is not None:
            seen = state.model.seen_
            bought = set(
                state.bought.indices[state.bought.indptr[row] : state.bought.indptr[row + 1]].tolist()
            )
            for pos in seen.indices[seen.indptr[row] : seen.indptr[row + 1]].tolist():
                verb = "bought" if pos in bought else "viewed"
                if pos not in found or rank[verb] < rank[found[pos]]:
                    found[pos] = verb
        return sorted(found.items(), key=lambda kv: (rank[kv[1]], kv[0]))[:50]

    def _reasons(
        self,
        state: _State,
        chosen: list[int],
        history: list[tuple[int, str]],
        session_pos: list[int],
        cold: bool,
    ) -> list[tuple[str, str | None]]:
        """Why each item is there: the history item most related to it, else trending."""
        out: list[tuple[str, str | None]] = []
        if not chosen:
            return out
        related = _block(state.sim, [p for p, _ in history], chosen) if history else None
        session_sims = _block(state.sim, session_pos, chosen) if session_pos else None
        for j in range(len(chosen)):
            if session_sims is not None and session_sims[:, j].max() > 0:
                best = session_pos[int(np.argmax(session_sims[:, j]))]
                out.append((f"Because you are looking at {state.titles[best]}", str(state.item_ids[best])))
                continue
            if related is not None and related[:, j].max() > 0:
                h = int(np.argmax(related[:, j]))
                pos, verb = history[h]
                out.append((f"Because you {verb} {state.titles[pos]}", str(state.item_ids[pos])))
                continue
            out.append(("Trending now" if cold else "Popular with shoppers like you", None))
        return out

    def similar(self, item_id: str, n: int = 10) -> list[dict[str, Any]]:
        """Items most similar to `item_id` (the model's item similarity), under the stock rules."""
        n = self._check_n(n)
        state = self.state
        if item_id not in state.item_pos:
            raise NotFoundError(f"item_id {item_id!r} is not in the catalogue.")
        if state.model is None:
            return self.trending(n, exclude=item_id)
        k = min(len(state.item_ids) - 1, n * self.options.overfetch)
        key = (item_id, max(k, 1))
        found = state.similar.get(key)
        if found is None:
            # A model's similarities never change: keep them, and apply the stock rules on each read.
            ids, scores = state.model.similar_items([item_id], n=key[1])
            found = (ids[0].tolist(), scores[0].tolist())
            if len(state.similar) >= 100_000:
                state.similar.clear()
            state.similar[key] = found
        out = []
        for item, score in zip(*found, strict=True):
            pos = state.item_pos.get(item) if item is not None else None
            if pos is None or state.blocked[pos]:
                continue
            out.append(
                self._item(state, pos, float(score), f"Similar to {state.titles[state.item_pos[item_id]]}")
            )
            if len(out) == n:
                break
        return out

    def bought_together(self, item_id: str, n: int = 10) -> list[dict[str, Any]]:
        """Items in the same orders as `item_id` (pair basket rules by lift), in stock and active."""
        n = self._check_n(n)
        state = self.state
        if item_id not in state.item_pos:
            raise NotFoundError(f"item_id {item_id!r} is not in the catalogue.")
        out = []
        title = state.titles[state.item_pos[item_id]]
        for other, confidence, lift in state.together.get(item_id, []):
            pos = state.item_pos.get(other)
            if pos is None or state.blocked[pos]:
                continue
            entry = self._item(state, pos, lift, f"Bought with {title} in {confidence:.0%} of its orders")
            entry["confidence"] = round(confidence, 4)
            entry["lift"] = round(lift, 4)
            out.append(entry)
            if len(out) == n:
                break
        return out

    def trending(
        self, n: int = 10, *, category: str | None = None, exclude: str | None = None
    ) -> list[dict[str, Any]]:
        """Items with the most recency-weighted interest (half-life `trending_half_life_days`)."""
        n = self._check_n(n)
        state = self.state
        scores = np.where(state.blocked, -np.inf, state.trending)
        if category:
            inside = np.fromiter(
                (c.startswith(category) for c in state.categories), dtype=bool, count=len(scores)
            )
            scores = np.where(inside, scores, -np.inf)
        if exclude is not None and exclude in state.item_pos:
            scores[state.item_pos[exclude]] = -np.inf
        order = np.lexsort((np.arange(len(scores)), -scores))
        return [
            self._item(state, p, float(scores[p]), "Trending now")
            for p in order[:n].tolist()
            if np.isfinite(scores[p])
        ]

    @staticmethod
    def _item(state: _State, pos: int, score: float, reason: str) -> dict[str, Any]:
        return {
            "item_id": str(state.item_ids[pos]),
            "title": state.titles[pos],
            "category": state.categories[pos],
            "score": round(score, 6),
            "reason": reason,
        }

    # -- reading back ----------------------------------------------------------------------------
    def history(self, user_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The user's latest item events (newest first), for the dashboard's try-it panel."""
        with self.gate as store:
            rows = store.con.execute(
                """SELECT e.ts, e.type, e.item_id, i.title, i.category FROM events e
                   LEFT JOIN items i USING (item_id)
                   WHERE e.user_id = ? AND e.item_id IS NOT NULL AND e.type IN ('view', 'add_to_cart', 'purchase')
                   ORDER BY e.ts DESC, e.event_id LIMIT ?""",
                [user_id, limit],
            ).fetchall()
        return [
            {
                "ts": r[0].isoformat() + "Z",
                "type": r[1],
                "item_id": r[2],
                "title": r[3] or r[2],
                "category": r[4],
            }
            for r in rows
        ]

    def online_metrics(self, days: int = 30) -> dict[str, Any]:
        """Impressions and the actions attributed to them (see the module docstring), over `days`."""
        self.flush()
        since = _now() - timedelta(days=days)
        window = timedelta(hours=self.options.attribution_hours)
        with self.gate as store:
            row = store.con.execute(
                """WITH imp AS (SELECT * FROM rec_impressions WHERE ts >= ?),
                   ev AS (
                     SELECT e.user_id, e.item_id, e.type, e.ts, coalesce(e.revenue, 0) AS revenue,
                            json_extract_string(e.properties, '$.request_id') AS rid
                     FROM events e
                     WHERE e.type IN ('view', 'add_to_cart', 'purchase') AND e.item_id IS NOT NULL
                       AND e.ts >= (SELECT coalesce(min(ts), now()::TIMESTAMP) FROM imp) - INTERVAL 1 HOUR),
                   hit AS (
                     SELECT imp.request_id, imp.item_id,
                            bool_or(ev.type = 'view') AS clicked,
                            bool_or(ev.type = 'add_to_cart') AS carted,
                            bool_or(ev.type = 'purchase') AS bought,
                            coalesce(sum(ev.revenue) FILTER (WHERE ev.type = 'purchase'), 0) AS revenue
                     FROM imp JOIN ev ON ev.item_id = imp.item_id AND (
                        ev.rid = imp.request_id
                        OR (ev.rid IS NULL AND ev.user_id = imp.user_id AND ev.ts >= imp.ts AND ev.ts <= imp.ts + ?))
                     GROUP BY ALL)
                   SELECT (SELECT count(*) FROM imp), (SELECT count(DISTINCT request_id) FROM imp),
                          count(*) FILTER (WHERE clicked), count(*) FILTER (WHERE carted),
                          count(*) FILTER (WHERE bought), coalesce(sum(revenue), 0)
                   FROM hit""",
                [since, window],
            ).fetchall()[0]
            by_day = store.con.execute(
                "SELECT ts::DATE, count(*), count(DISTINCT request_id) FROM rec_impressions WHERE ts >= ? "
                "GROUP BY 1 ORDER BY 1",
                [since],
            ).fetchall()
        impressions, requests, clicks, carts, purchases, revenue = (
            int(row[0]),
            int(row[1]),
            int(row[2]),
            int(row[3]),
            int(row[4]),
            float(row[5]),
        )
        share = (lambda x: x / impressions) if impressions else (lambda x: 0.0)
        return {
            "days": days,
            "attribution_hours": self.options.attribution_hours,
            "requests": requests,
            "impressions": impressions,
            "clicks": clicks,
            "add_to_carts": carts,
            "purchases": purchases,
            "revenue": round(revenue, 2),
            "ctr": share(clicks),
            "add_to_cart_rate": share(carts),
            "conversion": share(purchases),
            "revenue_per_mille": round(share(revenue) * 1000, 4),
            "by_day": [{"day": d.isoformat(), "impressions": i, "requests": r} for d, i, r in by_day],
        }

    def model_info(self) -> dict[str, Any]:
        state = self.state
        model = state.model
        return {
            "version": state.version,
            "model": model.name if model is not None else None,
            "loaded_at": state.loaded_at,
            "users": len(model.user_ids_) if model is not None else 0,
            "items": len(state.item_ids),
            "blocked_items": int(state.blocked.sum()),
            "batch_scored_users": state.cache.done if state.cache is not None else 0,
            "retrain": dict(self.retrain_status),
            "stats": dict(self.stats),
            "options": self.options.model_dump(),
        }

    def example_users(self, limit: int = 8) -> list[str]:
        """Customers with the most purchases, to try recommendations on."""
        with self.gate as store:
            rows = store.con.execute(
                "SELECT user_id FROM events WHERE type = 'purchase' GROUP BY 1 ORDER BY count(*) DESC, user_id LIMIT ?",
                [limit],
            ).fetchall()
        return [str(r[0]) for r in rows]


def _gather(matrix: sp.csr_matrix, rows: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position in `rows`, column, value) of every stored entry of those CSR rows; cheaper than
    scipy's fancy indexing for the handful of rows a request touches."""
    rows = np.asarray(rows, dtype=np.int64)
    starts, ends = matrix.indptr[rows], matrix.indptr[rows + 1]
    lengths = ends - starts
    if not lengths.sum():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    idx = np.concatenate([np.arange(a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)])
    return np.repeat(np.arange(len(rows)), lengths), matrix.indices[idx], matrix.data[idx]


def _spread(matrix: sp.csr_matrix, rows: Any, weights: Any) -> tuple[np.ndarray, np.ndarray]:
    """`sum_r weights[r] * matrix[rows[r], :]` as (sorted columns, sums) of its stored entries."""
    which, cols, vals = _gather(matrix, rows)
    if not len(cols):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    unique, inverse = np.unique(cols, return_inverse=True)
    return unique.astype(np.int64), np.bincount(
        inverse, weights=vals * np.asarray(weights, dtype=np.float64)[which]
    )


def _block(matrix: sp.csr_matrix, rows: list[int], cols: list[int]) -> np.ndarray:
    """Dense `matrix[rows][:, cols]`."""
    which, found, vals = _gather(matrix, rows)
    column = np.full(matrix.shape[1], -1, dtype=np.int64)
    column[cols] = np.arange(len(cols))
    j = column[found]
    keep = j >= 0
    out = np.zeros((len(rows), len(cols)))
    np.add.at(out, (which[keep], j[keep]), vals[keep])
    return out


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, float | np.floating):
            value = float(value)
            out[key] = None if not np.isfinite(value) else round(value, 6)
        elif isinstance(value, np.integer):
            out[key] = int(value)
        else:
            out[key] = value
    return out


def _cooccurrence_similarity(seen: sp.spmatrix, k: int = 100) -> sp.csr_matrix:
    """Cosine of item columns of the users x items matrix, top `k` per item (models without their own)."""
    x = sp.csc_matrix(seen, dtype=np.float32)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    sim = sp.csr_matrix(sp.diags(1.0 / norms) @ (x.T @ x) @ sp.diags(1.0 / norms))
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    from cartwise.recommend._session import keep_top_k

    return keep_top_k(sim, k)


def _save_atomically(model: Recommender, target: Path) -> None:
    """Save into a sibling folder, then rename it over `target`: a crash never leaves half a model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=".recommender-", dir=target.parent))
    model.save(fresh)
    old = target.with_name(f".{target.name}-old-{uuid.uuid4().hex[:8]}")
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)


# -- one server per service ----------------------------------------------------------------------
_SERVERS: weakref.WeakKeyDictionary[Service, RecsServer] = weakref.WeakKeyDictionary()
_SERVERS_LOCK = threading.Lock()


def recs_for(service: Service, options: RecsOptions | None = None) -> RecsServer:
    """The service's recommendation server, started on first use (its tables are created then)."""
    server = _SERVERS.get(service)
    if server is not None:
        return server
    with _SERVERS_LOCK:
        server = _SERVERS.get(service)
        if server is None:
            if service.gate is None:
                raise InputError("The service is not started.")
            artefacts = service.gate.store.artefacts_path()
            server = RecsServer(
                service.gate, artefacts, options or RecsOptions.from_settings(service.settings)
            ).start()
            _SERVERS[service] = server
    return server


def stop_recs(service: Service, timeout: float = 10.0) -> None:
    """Stop the service's recommendation server (writes buffered impressions); before the store closes."""
    with _SERVERS_LOCK:
        server = _SERVERS.pop(service, None)
    if server is not None:
        server.stop(timeout=timeout)


# -- the dashboard page --------------------------------------------------------------------------
def recommendations_page(service: Service) -> dict[str, Any]:
    """The Recommendations page: the model serving, offline metrics of each model, online results,
    and customers to try recommendations on."""
    server = recs_for(service)
    offline = server.offline
    return {
        "model": server.model_info(),
        "offline": offline if offline is not None else {"status": "computing", "models": []},
        "online": server.online_metrics(),
        "example_users": server.example_users(),
    }


register_page(
    Page(
        "recommendations",
        "Recommendations",
        40,
        "What each shopper is likely to want next, and what recommendations earn.",
        data=recommendations_page,
        template="recommendations.html",
    )
)
