"""What a request reads, built from the store and the model, and swapped as one reference.

`build_state` reads the catalogue (titles, categories, stock, the active flag), the purchases
up to a watermark (the already-bought rule), recency-weighted interest (trending) and the
pair basket rules (bought together), and takes the item-to-item similarity from the model's
public `item_similarity`. `fill_cache` batch-scores the model's users in the background.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from cartwise.core.errors import CartwiseError
from cartwise.core.times import utc_iso
from cartwise.pipelines.train import EVENT_WEIGHTS
from cartwise.recommend import Recommender
from cartwise.service.recs.options import RecsOptions

if TYPE_CHECKING:
    from cartwise.service.collector import StoreGate

log = logging.getLogger("cartwise.recs")


def now() -> datetime:
    """The current UTC time, naive (as the store keeps times)."""
    return datetime.now(UTC).replace(tzinfo=None)


def stamp(epoch: float | None = None) -> str:
    """The current UTC time (or Unix time `epoch`) to the second, ISO 8601 with a `Z`."""
    moment = now() if epoch is None else datetime.fromtimestamp(epoch, UTC)
    return utc_iso(moment, "seconds")


def saved_at(folder: Path) -> str | None:
    """When the model saved in `folder` was written (`stamp`): its training time as far as a
    load can tell; None when there is none."""
    try:
        return stamp((folder / "model.json").stat().st_mtime)
    except OSError:
        return None


class ScoreCache:
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


@dataclass(frozen=True)
class State:
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
    cache: ScoreCache | None = None
    watermark: int = 0  # last event row id the model or the load saw
    trained_at: str | None = None  # when the model was fitted (ISO 8601, UTC), when known
    together: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    similar: dict[tuple[str, int], tuple[list[Any], list[float]]] = field(default_factory=dict)


def norm(x: np.ndarray) -> np.ndarray:
    """`x` scaled to [0, 1] over its finite values; non-finite values become 0."""
    finite = np.isfinite(x)
    if not finite.any():
        return np.zeros_like(x)
    top = float(np.max(np.where(finite, x, -np.inf)))
    low = float(np.min(np.where(finite, x, np.inf)))
    span = top - low
    out = (x - low) / span if span > 0 else np.where(finite, 1.0, 0.0)
    return np.where(finite, out, 0.0)


def build_state(gate: StoreGate, options: RecsOptions, model: Recommender | None, watermark: int) -> State:
    """The state serving `model` (None: trending items only), with purchases up to row `watermark`."""
    with gate.read(limited=False) as store:
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
            [options.trending_half_life_days],
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
    prefixes = tuple(options.consumable_categories)
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
    depth = options.category_depth
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
    cache: ScoreCache | None = None
    if model is not None:
        # The model's own similarity (the hybrid's: its session transitions), or co-occurrence cosine.
        sim = model.item_similarity(k=100)
        cache = ScoreCache(len(user_pos), options.cache_k)
        version = f"{model.name}-{now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    else:
        sim = sp.csr_matrix((n_items, n_items), dtype=np.float32)
        version = "trending"
    state = State(
        model=model,
        version=version,
        loaded_at=stamp(),
        item_ids=item_ids,
        item_pos=item_pos,
        titles=titles,
        categories=categories,
        group=group,
        blocked=blocked,
        consumable=consumable,
        trending=trending,
        trend_norm=norm(trending),
        trend_top=np.argsort(-trending, kind="stable")[:1000].astype(np.int64),
        sim=sim,
        user_pos=user_pos,
        bought=bought,
        cache=cache,
        watermark=watermark,
    )
    return replace(state, together=bought_together(gate))


def bought_together(gate: StoreGate) -> dict[str, list[tuple[str, float, float]]]:
    """Pair rules `{a} -> {b}` from the orders (`cartwise.analytics.basket_rules`), best lift first."""
    from cartwise.analytics import basket_rules

    with gate.read(limited=False) as store:
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


def fill_cache(state: State, current: Callable[[], bool], batch: int = 256) -> bool:
    """Batch-score every known user (most active first) into `state.cache`.

    Stops early, returning False, as soon as `current()` is false (the server stopped or swapped
    in another model); returns True when every user is scored.
    """
    model, cache = state.model, state.cache
    if model is None or cache is None:
        return False
    started = time.perf_counter()
    order = np.argsort(-np.diff(model.seen_.indptr), kind="stable")
    for start in range(0, len(order), batch):
        if not current():
            return False
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
    return True
