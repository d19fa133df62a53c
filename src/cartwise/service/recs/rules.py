"""Serve-time ranking and business rules for one request.

Scores live on a candidate set: the model's cached top items for the user (or, before the
user is batch-scored, their history folded through the item similarity), the similarity
spreads of fresh events and of the live session, and the most trending items. Then, on
`overfetch` x n candidates: never an inactive item, an item with `stock <= 0`, or an item the
user bought, unless its category path starts with one of `consumable_categories`
(consumables are bought again); never the items of the session itself; at most
`category_cap` items per category (the first `category_depth` levels of its path); a seeded
shuffle among near-ties (scores within `tie_tolerance` of the candidates' score range) so
lists stay fresh. Each item gets a reason: the history or session item most similar to it,
else trending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from cartwise.service.recs.online import FreshEvent
from cartwise.service.recs.options import RecsOptions
from cartwise.service.recs.state import State

_VERBS = {"purchase": "bought", "add_to_cart": "added", "begin_checkout": "added", "view": "viewed"}
_RANK = {"bought": 0, "added": 1, "viewed": 2}


@dataclass(frozen=True)
class Ranked:
    """The items chosen for one request (positions in the state, best first)."""

    positions: list[int]
    scores: list[float]
    reasons: list[tuple[str, str | None]]  # (reason, id of the item it names)
    cold: bool
    session_items: int


def rank(
    state: State,
    options: RecsOptions,
    user_id: str,
    n: int,
    *,
    fresh: list[FreshEvent],
    live_bought: set[str],
    session: list[str],
    seed: int | None,
) -> Ranked:
    """Up to `n` items for `user_id` under the rules of the module docstring."""
    model = state.model
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
            parts.append((*spread(state.sim, seen.indices[lo:hi], seen.data[lo:hi]), 1.0))
    fresh_rows = [(state.item_pos[it], w) for _, it, w, _ in fresh if it in state.item_pos]
    if fresh_rows:
        fresh_spread = spread(state.sim, [p for p, _ in fresh_rows], [w for _, w in fresh_rows])
        parts.append((*fresh_spread, options.fresh_weight))
    session_pos = [state.item_pos[i] for i in session if i in state.item_pos]
    if session_pos:
        weights = 0.7 ** np.arange(len(session_pos))[::-1]
        parts.append((*spread(state.sim, session_pos, weights), options.session_weight))
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
    bought = state.bought.indices[state.bought.indptr[row] : state.bought.indptr[row + 1]] if row >= 0 else []
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
    chosen, chosen_scores = apply_rules(state, options, cand, scores, n, seed)
    history = user_history(state, row, fresh, live_bought)
    return Ranked(
        chosen, chosen_scores, reasons(state, chosen, history, session_pos, cold), cold, len(session_pos)
    )


def apply_rules(
    state: State, options: RecsOptions, cand: np.ndarray, scores: np.ndarray, n: int, seed: int | None
) -> tuple[list[int], list[float]]:
    """Over-fetch, shuffle near-ties with a seeded generator, cap per category, keep n.

    Returns the chosen item positions and their scores, best first."""
    finite = np.isfinite(scores)
    cand, scores = cand[finite], scores[finite]
    if not len(cand):
        return [], []
    k = min(len(cand), n * options.overfetch)
    idx = np.argpartition(-scores, k - 1)[:k] if k < len(cand) else np.arange(len(cand))
    top, top_scores = cand[idx], scores[idx]
    span = float(top_scores.max() - top_scores.min())
    rng = np.random.default_rng(seed)
    jitter = rng.uniform(0.0, options.tie_tolerance * span, size=len(top)) if span > 0 else 0.0
    ordered = top[np.lexsort((top, -(top_scores + jitter)))]
    chosen, counts = _cap(state, options.category_cap, ordered, n, {})
    if len(chosen) < n and k < len(cand):
        # The cap left the list short: continue down the full ranking.
        rest = np.ones(len(cand), dtype=bool)
        rest[idx] = False
        more_cand, more_scores = cand[rest], scores[rest]
        more, _ = _cap(
            state,
            options.category_cap,
            more_cand[np.lexsort((more_cand, -more_scores))],
            n - len(chosen),
            counts,
        )
        chosen += more
    # `cand` is sorted (np.unique), so each chosen item's score is found by bisection.
    return chosen, scores[np.searchsorted(cand, chosen)].tolist() if chosen else []


def _cap(
    state: State, cap: int, ordered: np.ndarray, n: int, counts: dict[int, int]
) -> tuple[list[int], dict[int, int]]:
    chosen: list[int] = []
    for p in ordered.tolist():
        g = int(state.group[p])
        if counts.get(g, 0) >= cap:
            continue
        counts[g] = counts.get(g, 0) + 1
        chosen.append(p)
        if len(chosen) == n:
            break
    return chosen, counts


def user_history(
    state: State, row: int, fresh: list[FreshEvent], live_bought: set[str]
) -> list[tuple[int, str]]:
    """The user's items (position, verb), strongest first: purchases, then carts, then views."""
    found: dict[int, str] = {}
    for _, item, _, kind in reversed(fresh):
        pos = state.item_pos.get(item)
        if pos is not None:
            verb = _VERBS.get(kind, "viewed")
            if pos not in found or _RANK[verb] < _RANK[found[pos]]:
                found[pos] = verb
    for item in live_bought:
        pos = state.item_pos.get(item)
        if pos is not None:
            found[pos] = "bought"
    if row >= 0 and state.model is not None:
        seen = state.model.seen_
        bought = set(state.bought.indices[state.bought.indptr[row] : state.bought.indptr[row + 1]].tolist())
        for pos in seen.indices[seen.indptr[row] : seen.indptr[row + 1]].tolist():
            verb = "bought" if pos in bought else "viewed"
            if pos not in found or _RANK[verb] < _RANK[found[pos]]:
                found[pos] = verb
    return sorted(found.items(), key=lambda kv: (_RANK[kv[1]], kv[0]))[:50]


def reasons(
    state: State,
    chosen: list[int],
    history: list[tuple[int, str]],
    session_pos: list[int],
    cold: bool,
) -> list[tuple[str, str | None]]:
    """Why each item is there: the history item most related to it, else trending."""
    out: list[tuple[str, str | None]] = []
    if not chosen:
        return out
    related = block(state.sim, [p for p, _ in history], chosen) if history else None
    session_sims = block(state.sim, session_pos, chosen) if session_pos else None
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


# -- sparse rows, cheaper than scipy's fancy indexing for the handful a request touches ----------
def gather(matrix: sp.csr_matrix, rows: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def spread(matrix: sp.csr_matrix, rows: Any, weights: Any) -> tuple[np.ndarray, np.ndarray]:
    """`sum_r weights[r] * matrix[rows[r], :]` as (sorted columns, sums) of its stored entries."""
    which, cols, vals = gather(matrix, rows)
    if not len(cols):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    unique, inverse = np.unique(cols, return_inverse=True)
    return unique.astype(np.int64), np.bincount(
        inverse, weights=vals * np.asarray(weights, dtype=np.float64)[which]
    )


def block(matrix: sp.csr_matrix, rows: list[int], cols: list[int]) -> np.ndarray:
    """Dense `matrix[rows][:, cols]`."""
    which, found, vals = gather(matrix, rows)
    column = np.full(matrix.shape[1], -1, dtype=np.int64)
    column[cols] = np.arange(len(cols))
    j = column[found]
    keep = j >= 0
    out = np.zeros((len(rows), len(cols)))
    np.add.at(out, (which[keep], j[keep]), vals[keep])
    return out
