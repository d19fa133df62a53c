"""Two-stage hybrid: candidates from several recommenders, ranked by LightGBM LambdaRank."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cartwise.core.errors import DataWarning, InputError
from cartwise.recommend._base import RECOMMENDERS, Recommender, create, load_model, register
from cartwise.recommend._data import SECONDS_PER_DAY, Interactions
from cartwise.recommend._repeat import RepeatStats, basket_codes

DEFAULT_GENERATORS = ("ease", "session", "popularity")
"""Generators when none are named; `repeat` joins with seen_candidates, `content` with item
metadata, and `itemknn` replaces `ease` above `HYBRID_EASE_MAX_ITEMS` items."""
_TREND_HALF_LIFE_DAYS = 14.0
HYBRID_EASE_MAX_ITEMS = 5_000
"""Largest catalogue for which the default hybrid uses EASE: its dense items x items inverse takes
O(items^3) time and 3 such matrices in memory (20,000 items: minutes and about 10 GB), while
item-kNN stays sparse."""


class _Context:
    """User, item and pair statistics of one training set, for the ranker's features.

    Pair statistics are sparse (users x items, only pairs that occurred), so memory follows the
    number of events, never users x items.
    """

    def __init__(
        self,
        data: Interactions,
        category: np.ndarray,
        brand: np.ndarray,
        price: np.ndarray,
        price_position: np.ndarray,
    ) -> None:
        n_users, n_items = data.n_users, data.n_items
        scale = SECONDS_PER_DAY if data.has_time else 1.0
        self.t_ref = float(data.times.max())
        age = (self.t_ref - data.times) / scale
        binary = data.matrix(binary=True)
        self.item_pop = np.log1p(np.asarray(binary.sum(axis=0)).ravel())
        self.item_trend = np.log1p(
            np.bincount(
                data.items, weights=data.weights * np.exp2(-age / _TREND_HALF_LIFE_DAYS), minlength=n_items
            )
        )
        self.item_age_last = _group_min(data.items, age, n_items)
        self.item_age_first = -_group_min(data.items, -age, n_items)
        self.user_events = np.log1p(np.bincount(data.users, weights=data.weights, minlength=n_users))
        distinct = np.asarray(binary.sum(axis=1)).ravel()
        self.user_distinct = np.log1p(distinct)
        self.user_age_last = _group_min(data.users, age, n_users)
        self.user_mean_pop = np.asarray(binary @ self.item_pop).ravel() / np.maximum(distinct, 1)
        self.pair_count = data.matrix()
        self.shape = (n_users, n_items)
        self.repeat = RepeatStats(data)
        self.category, self.user_category = category, _user_share(data, category)
        self.brand, self.user_brand = brand, _user_share(data, brand)
        self.log_price = np.log1p(price)
        self.user_log_price = _user_mean(data, self.log_price)
        self.price_position = price_position
        self.user_price_position = _user_mean(data, price_position)

    def features(self, users: np.ndarray, items: np.ndarray) -> dict[str, np.ndarray]:
        pair_count = np.asarray(self.pair_count[users, items]).ravel()
        return {
            "item_popularity": self.item_pop[items],
            "item_trend": self.item_trend[items],
            "item_days_since_last": self.item_age_last[items],
            "item_days_since_first": self.item_age_first[items],
            "user_events": self.user_events[users],
            "user_distinct_items": self.user_distinct[users],
            "user_days_since_last": self.user_age_last[users],
            "user_baskets": self.repeat.user_baskets[users].astype(np.float64),
            "popularity_fit": self.item_pop[items] - self.user_mean_pop[users],
            "repeat_count": pair_count,
            **self.repeat.features(users, items),
            "category_affinity": _share(self.user_category, users, self.category[items]),
            "brand_affinity": _share(self.user_brand, users, self.brand[items]),
            "price_fit": self.log_price[items] - self.user_log_price[users],
            "price_position": self.price_position[items],
            "price_position_fit": self.price_position[items] - self.user_price_position[users],
        }


def _group_min(groups: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    np.minimum.at(out, groups, values)
    out[~np.isfinite(out)] = np.nan
    return out


def _user_share(data: Interactions, codes: np.ndarray) -> sp.csr_matrix:
    """Users x codes matrix: share of the user's events on items with each code."""
    item_codes = codes[data.items]
    ok = item_codes >= 0
    n_codes = int(codes.max()) + 1 if len(codes) and codes.max() >= 0 else 1
    counts = sp.csr_matrix(
        (data.weights[ok].astype(np.float64), (data.users[ok], item_codes[ok])), shape=(data.n_users, n_codes)
    )
    totals = np.bincount(data.users, weights=data.weights, minlength=data.n_users)
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(totals, 1e-12)) @ counts)


def _share(matrix: sp.csr_matrix, users: np.ndarray, codes: np.ndarray) -> np.ndarray:
    out = np.full(len(users), np.nan)
    ok = codes >= 0
    if ok.any():
        out[ok] = np.asarray(matrix[users[ok], codes[ok]]).ravel()
    return out


def _codes(items: pd.DataFrame | None, column: str, n_items: int) -> np.ndarray:
    if items is None or column not in items.columns:
        return np.full(n_items, -1, dtype=np.int64)
    values = items[column].astype("string")
    if column == "category":
        # The top level carries the broad taste; deeper levels are too sparse per user.
        values = values.str.split(">").str[0].str.strip()
    codes, _ = pd.factorize(values.fillna(pd.NA), use_na_sentinel=True)
    return codes.astype(np.int64)


def _prices(items: pd.DataFrame | None, n_items: int) -> np.ndarray:
    if items is None or "price" not in items.columns:
        return np.full(n_items, np.nan)
    price = pd.to_numeric(items["price"], errors="coerce").to_numpy(dtype=float)
    return np.where(price >= 0, price, np.nan)


def _price_position(items: pd.DataFrame | None, price: np.ndarray) -> np.ndarray:
    """log(price / median price of the item's full category): cheap or dear for its kind."""
    if items is None or "category" not in items.columns:
        return np.full(len(price), np.nan)
    log_price = pd.Series(np.log(np.where(price > 0, price, np.nan)))
    median = log_price.groupby(items["category"].astype("string").to_numpy()).transform("median")
    return (log_price - median).to_numpy(dtype=np.float64)


def _user_mean(data: Interactions, values: np.ndarray) -> np.ndarray:
    """Each user's mean of an item value over their events with a known value (NaN without any)."""
    known = np.isfinite(values[data.items])
    sums = np.bincount(data.users[known], weights=values[data.items][known], minlength=data.n_users)
    counts = np.bincount(data.users[known], minlength=data.n_users)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


REPEAT_SHARE = 0.1
"""Share of repeat interactions from which the hybrid offers a user's own items again."""


def repeat_share(data: Interactions) -> float:
    """Share of interactions whose (user, item) pair occurred earlier: 1 - distinct pairs / interactions."""
    if len(data.users) == 0:
        return 0.0
    pairs = np.unique(data.users.astype(np.int64) * int(data.n_items) + data.items.astype(np.int64)).size
    return 1.0 - pairs / len(data.users)


@register("hybrid")
class Hybrid(Recommender):
    """Two-stage recommender: candidate generation, then a learned ranking.

    Stage 1: each generator (registry names in `generators`) proposes its top `n_candidates`
    items per user; their union is the candidate set. Stage 2: a LightGBM LambdaRank model
    orders candidates by user features (activity, recency), item features (popularity, trend,
    age), pair features (repeat count and recency, category and brand affinity, price fit,
    popularity fit) and every generator's score and rank. Items outside the candidates rank
    below all of them, by popularity.

    Training is time-based: within the training data each user's latest basket
    (`holdout_by="basket"`, users with 2+ baskets; the default `"auto"` when the data has basket
    ids) or last `holdout` events (`"event"`) are the labels, the generators are fitted on the
    earlier events, and the ranker learns to put the held-out items first (NDCG@`eval_at`), so
    it learns the next-basket task it is judged on. The ranker trains on at most
    `max_train_users` users (a seeded sample). With `holdout_rounds` r > 1 the split repeats on
    the earlier history r times (the basket before the last one, and so on), for more lists to
    learn from; the default `None` takes 2 rounds of basket holdouts (one basket per user is
    little) and 1 of event holdouts. The generators are then refitted on all the data. `seen_candidates=True` lets items a user already had be candidates (for
    consumables, with the `repeat` generator); the default `None` decides from the data: on
    when at least `REPEAT_SHARE` of the interactions are with an item the user had before. With too little data to learn a ranking it warns
    and ranks by the first generator.

    Similar items: `similar_items` ranks by the first generator's similarity; `item_similarity`
    (the sparse matrix for folding sessions and fresh events) is the `session` generator's
    transitions when there is one, else the first generator's own similarity.
    """

    _learned = (
        "events_users_",
        "events_items_",
        "events_times_",
        "events_weights_",
        "has_time_",
        "item_category_",
        "item_brand_",
        "item_price_",
        "item_price_position_",
        "feature_names_",
        "seen_candidates_",
        "ranker_users_",
    )

    def __init__(
        self,
        generators: Sequence[str] | None = None,
        generator_params: dict[str, dict[str, Any]] | None = None,
        n_candidates: int = 30,
        holdout: int = 5,
        holdout_by: Literal["auto", "basket", "event"] = "auto",
        holdout_rounds: int | None = None,
        seen_candidates: bool | None = None,
        n_estimators: int = 80,
        learning_rate: float = 0.1,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        max_train_users: int = 20_000,
        eval_at: int = 10,
        random_state: int = 0,
        num_threads: int = 1,
    ) -> None:
        self.generators = generators
        self.generator_params = generator_params
        self.n_candidates = n_candidates
        self.holdout = holdout
        self.holdout_by = holdout_by
        self.holdout_rounds = holdout_rounds
        self.seen_candidates = seen_candidates
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_train_users = max_train_users
        self.eval_at = eval_at
        self.random_state = random_state
        self.num_threads = num_threads

    # ----- fitting ----------------------------------------------------------------------------
    def _generator_names(self, items: pd.DataFrame | None, n_items: int) -> list[str]:
        names = list(self.generators) if self.generators is not None else list(DEFAULT_GENERATORS)
        if self.generators is None:
            if n_items > HYBRID_EASE_MAX_ITEMS:
                names[names.index("ease")] = "itemknn"
            if self.seen_candidates_:
                names.append("repeat")
            if items is not None:
                names.append("content")
        for name in names:
            if name not in RECOMMENDERS or name == "hybrid":
                raise InputError(
                    f"Unknown candidate generator {name!r}; choose from: "
                    f"{', '.join(n for n in sorted(RECOMMENDERS) if n != 'hybrid')}."
                )
        if not names:
            raise InputError("generators is empty; name at least one, e.g. ['itemknn'].")
        return names

    def _make_generators(self, data: Interactions, items: pd.DataFrame | None) -> dict[str, Recommender]:
        params = self.generator_params or {}
        fitted = {}
        for name in self._generator_names(items, data.n_items):
            if RECOMMENDERS[name].needs_items and items is None:
                continue
            fitted[name] = create(name, **params.get(name, {})).fit(data, _catalogue(items))
        return fitted

    def _fit(self, data: Interactions, items: pd.DataFrame | None) -> None:
        import lightgbm as lgb

        if not (isinstance(self.n_candidates, int) and self.n_candidates >= 1):
            raise InputError(f"n_candidates must be a positive integer; got {self.n_candidates!r}.")
        if self.holdout_rounds is not None and not (
            isinstance(self.holdout_rounds, int) and self.holdout_rounds >= 1
        ):
            raise InputError(f"holdout_rounds must be a positive integer; got {self.holdout_rounds!r}.")
        if self.holdout_by not in ("auto", "basket", "event"):
            raise InputError(f"holdout_by must be 'auto', 'basket' or 'event'; got {self.holdout_by!r}.")
        self.item_category_ = _codes(items, "category", data.n_items)
        self.item_brand_ = _codes(items, "brand", data.n_items)
        self.item_price_ = _prices(items, data.n_items)
        self.item_price_position_ = _price_position(items, self.item_price_)
        self.events_users_, self.events_items_ = data.users, data.items
        self.events_times_, self.events_weights_ = data.times, data.weights
        self.has_time_ = bool(data.has_time)
        self.seen_candidates_ = (
            bool(self.seen_candidates)
            if self.seen_candidates is not None
            else repeat_share(data) >= REPEAT_SHARE
        )

        self.ranker_ = None
        parts = []
        history = data
        rounds = self.holdout_rounds or (2 if self._holds_out_baskets(data) else 1)
        per_round = max(1, self.max_train_users // rounds)
        for round_ in range(rounds):
            part, history = self._ranker_examples(history, items, per_round, self.random_state + round_)
            if part is None:
                break
            parts.append(part)
        groups = [g for part in parts for g in part[2]]
        if parts:
            feats = np.concatenate([part[0] for part in parts])
            labels = np.concatenate([part[1] for part in parts])
        self.ranker_users_ = len(groups)
        if sum(groups) > 0 and len(groups) >= 2:
            train_set = lgb.Dataset(feats, label=labels, group=groups, free_raw_data=True)
            params = {
                "objective": "lambdarank",
                "metric": "ndcg",
                "eval_at": [self.eval_at],
                "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves,
                "min_data_in_leaf": self.min_child_samples,
                "max_bin": 63,
                "num_threads": self.num_threads,
                "seed": self.random_state,
                "deterministic": True,
                "verbosity": -1,
            }
            self.ranker_ = lgb.train(params, train_set, num_boost_round=self.n_estimators)
        else:
            warnings.warn(
                "Too little data to train the hybrid's ranker (no user has later events that the candidates "
                "contain); ranking by the first generator's scores. More history, or a simpler model, helps.",
                DataWarning,
                stacklevel=3,
            )
            self.feature_names_: list[str] = []
        self.generators_ = self._make_generators(data, items)
        self.context_ = _Context(
            data, self.item_category_, self.item_brand_, self.item_price_, self.item_price_position_
        )

    def _ranker_examples(
        self, data: Interactions, items: pd.DataFrame | None, max_users: int, seed: int
    ) -> tuple[tuple[np.ndarray, np.ndarray, list[int]] | None, Interactions]:
        """One round of ranker training lists: generators fitted on the history before each
        user's held-out part, candidates labelled by whether the held-out part has them.

        Returns (features, labels, group sizes) or None when nothing can be learned, and the
        history the round used (the next round holds out the part before this one).
        """
        train_mask, label_users, label_items = self._inner_split(data)
        if not (len(label_users) and train_mask.any()):
            return None, data
        inner = data.subset(train_mask)
        users = np.unique(label_users)
        if len(users) > max_users:
            users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
        inner_generators = self._make_generators(inner, items)
        context = _Context(
            inner, self.item_category_, self.item_brand_, self.item_price_, self.item_price_position_
        )
        rows, cand, feats = self._candidates_batched(
            users, inner_generators, context, inner.matrix(binary=True)
        )
        positives = sp.csr_matrix(
            (np.ones(len(label_users)), (label_users, label_items)), shape=(data.n_users, data.n_items)
        )
        labels = (np.asarray(positives[users[rows], cand]).ravel() > 0).astype(np.float32)
        # Lists without any positive teach LambdaRank nothing.
        has_pos = np.bincount(rows, weights=labels, minlength=len(users)) > 0
        keep = has_pos[rows]
        groups = np.bincount(rows[keep], minlength=len(users))[has_pos].tolist()
        self.feature_names_ = list(feats.columns)
        if not groups:
            return None, inner
        return (feats.to_numpy(dtype=np.float32)[keep], labels[keep], groups), inner

    def _holds_out_baskets(self, data: Interactions) -> bool:
        return self.holdout_by == "basket" or (self.holdout_by == "auto" and data.baskets is not None)

    def _inner_split(self, data: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mask of inner-training events, and (user, item) pairs of the held-out later events."""
        if self._holds_out_baskets(data):
            held = _in_last_basket(data)
            return ~held, data.users[held], data.items[held]
        order = data.order_by_time()
        users = data.users[order]
        counts = np.bincount(users, minlength=data.n_users)
        # Position of each event from the end of its user's history (0 = latest).
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        from_end = counts[users] - 1 - (np.arange(len(order)) - starts[users])
        take = np.minimum(self.holdout, counts // 2)[users]
        held = from_end < take
        train_mask = np.ones(len(data), dtype=bool)
        train_mask[order[held]] = False
        return train_mask, users[held], data.items[order][held]

    def _candidates_batched(
        self,
        users: np.ndarray,
        generators: dict[str, Recommender],
        context: _Context,
        seen: sp.csr_matrix,
    ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """`_candidates` over batches of users, so dense score rows stay within memory bounds."""
        size = max(1, self._batch_size() // (len(generators) + 1))
        if len(users) <= size:
            return self._candidates(users, generators, context, seen)
        parts = [
            self._candidates(users[s : s + size], generators, context, seen)
            for s in range(0, len(users), size)
        ]
        starts = range(0, len(users), size)
        rows = np.concatenate([p[0] + start for p, start in zip(parts, starts, strict=True)])
        return (
            rows,
            np.concatenate([p[1] for p in parts]),
            pd.concat([p[2] for p in parts], ignore_index=True),
        )

    def _candidates(
        self,
        users: np.ndarray,
        generators: dict[str, Recommender],
        context: _Context,
        seen: sp.csr_matrix,
    ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """Candidate (row in `users`, item) pairs with their features."""
        n_items = seen.shape[1]
        k = min(self.n_candidates, n_items)
        scores, ranks = {}, {}
        chosen = np.zeros((len(users), n_items), dtype=bool)
        for name, model in generators.items():
            s = np.array(model._score(users), dtype=np.float64, copy=True)
            if not self.seen_candidates_:
                coo = seen[users].tocoo()
                s[coo.row, coo.col] = -np.inf
            top = (
                np.argpartition(-s, k - 1, axis=1)[:, :k]
                if k < n_items
                else np.tile(np.arange(n_items), (len(users), 1))
            )
            top_vals = np.take_along_axis(s, top, axis=1)
            order = np.argsort(-top_vals, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            sorted_vals = np.take_along_axis(top_vals, order, axis=1)
            valid = np.isfinite(sorted_vals)
            # Tied scores share the best rank among them, so the ranker never learns from an
            # arbitrary order of ties: rank = 1 + number of strictly better candidates.
            starts_value = np.ones((len(users), k), dtype=bool)
            starts_value[:, 1:] = sorted_vals[:, 1:] < sorted_vals[:, :-1]
            position = np.broadcast_to(np.arange(1, k + 1, dtype=np.float32), (len(users), k))
            tie_rank = np.maximum.accumulate(np.where(starts_value, position, 0), axis=1)
            rank = np.full((len(users), n_items), np.float32(k + 1))
            r_idx = np.repeat(np.arange(len(users)), k).reshape(len(users), k)
            rank[r_idx[valid], top[valid]] = tie_rank[valid]
            chosen[r_idx[valid], top[valid]] = True
            scores[name], ranks[name] = s, rank
        rows, items = np.nonzero(chosen)
        feats = context.features(users[rows], items)
        for name in generators:
            s = scores[name][rows, items]
            feats[f"{name}_score"] = np.where(np.isfinite(s), s, np.nan)
            feats[f"{name}_rank"] = ranks[name][rows, items]
        return rows, items, pd.DataFrame(feats)

    # ----- scoring ----------------------------------------------------------------------------
    def _score(self, users: np.ndarray) -> np.ndarray:
        n_items = len(self.item_ids_)
        fallback = self.popularity_ / (self.popularity_.max() + 1.0)
        if self.ranker_ is None:
            first = next(iter(self.generators_.values()))
            return np.asarray(first._score(users), dtype=np.float64)
        rows, items, feats = self._candidates_batched(users, self.generators_, self.context_, self.seen_)
        out = np.broadcast_to(fallback, (len(users), n_items)).copy()
        if len(rows):
            pred = np.asarray(
                self.ranker_.predict(feats[self.feature_names_].to_numpy(), num_threads=self.num_threads)
            )
            # Non-candidates sit in [min - 2, min - 1), below every candidate, by popularity.
            out += pred.min() - 2.0
            out[rows, items] = pred
        return out

    def _similar(self, items: np.ndarray) -> np.ndarray:
        return next(iter(self.generators_.values()))._similar(items)

    def _similarity_source(self) -> Recommender | None:
        """The generator whose item similarity the hybrid hands out: the session model's
        transitions when it has one (what comes next suits live sessions and fresh events), else
        the first generator with a similarity of its own."""
        session = self.generators_.get("session")
        if session is not None:
            return session
        return next((g for g in self.generators_.values() if g.has_item_similarity()), None)

    def has_item_similarity(self) -> bool:
        """Whether one of the fitted generators has its own item similarity (see `item_similarity`)."""
        self._check_fitted()
        return self._similarity_source() is not None

    def _item_similarity(self, k: int) -> sp.csr_matrix:
        source = self._similarity_source()
        return source.item_similarity(k) if source is not None else super()._item_similarity(k)

    # ----- erasure ----------------------------------------------------------------------------
    def forget_users(self, user_ids: Any) -> int:
        """`Recommender.forget_users`, in every generator too, and without the users' events."""
        for model in self.generators_.values():
            model.forget_users(user_ids)
        return super().forget_users(user_ids)

    def _forget_rows(self, rows: np.ndarray) -> None:
        keep = ~np.isin(self.events_users_, rows)
        for attr in ("events_users_", "events_items_", "events_times_", "events_weights_"):
            setattr(self, attr, getattr(self, attr)[keep])
        self._build_context()

    def _build_context(self) -> None:
        """The ranker's statistics from the stored training events."""
        data = Interactions(
            user_ids=self.user_ids_,
            item_ids=self.item_ids_,
            users=self.events_users_,
            items=self.events_items_,
            times=self.events_times_,
            weights=self.events_weights_,
            has_time=bool(self.has_time_),
        )
        self.context_ = _Context(
            data, self.item_category_, self.item_brand_, self.item_price_, self.item_price_position_
        )

    # ----- persistence ------------------------------------------------------------------------
    def _save_extra(self, path: Path) -> None:
        for name, model in self.generators_.items():
            model.save(path / "generators" / name)
        (path / "generators.json").write_text(json.dumps(list(self.generators_)), encoding="utf-8")
        ranker = path / "ranker.txt"
        if self.ranker_ is not None:
            self.ranker_.save_model(str(ranker))
        elif ranker.exists():
            ranker.unlink()  # a ranker left from an earlier model in this directory must not load

    def _load_extra(self, path: Path) -> None:
        import lightgbm as lgb

        names = json.loads((path / "generators.json").read_text(encoding="utf-8"))
        self.generators_ = {name: load_model(path / "generators" / name) for name in names}
        ranker = path / "ranker.txt"
        self.ranker_ = lgb.Booster(model_file=str(ranker)) if ranker.is_file() else None
        self._build_context()


def _in_last_basket(data: Interactions) -> np.ndarray:
    """Events in their user's latest basket (by its earliest event), for users with 2+ baskets."""
    start = pd.Series(data.times).groupby(basket_codes(data)).transform("min").to_numpy()
    frame = pd.DataFrame({"user": data.users, "start": start})
    starts = frame.groupby("user")["start"]
    # Baskets starting at the same latest time count as one; a single basket stays in training.
    return (start == starts.transform("max").to_numpy()) & (starts.transform("nunique").to_numpy() > 1)


def _catalogue(items: pd.DataFrame | None) -> pd.DataFrame | None:
    # Generators get the aligned catalogue back as a plain items table.
    return None if items is None else items.dropna(subset=["item_id"])
