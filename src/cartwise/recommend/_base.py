"""The recommender base class, the named registry, and model directories.

Every recommender is batch-first: `recommend(user_ids, n)` answers for many users at once and
returns two arrays of shape `(len(user_ids), n)`. Subclasses only say how to score items for
known users (`_score`) and, optionally, how similar items are (`_similar` for `similar_items`,
`_item_similarity` for the sparse `item_similarity` matrix, with `has_own_similarity = True`);
the base class does id mapping, cold start, exclusion of seen items, top-n selection and saving.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cartwise.core.errors import InputError, ModelError, NotFoundError
from cartwise.core.files import require_model_dir
from cartwise.recommend._data import Interactions, as_interactions, ids_as_strings

FORMAT_VERSION = 2
# Rows of dense scores computed at once: about 32 MB of float64 whatever the catalogue size.
_SCORE_CELLS_PER_BATCH = 1 << 22


class Recommender:
    """Base class: `fit(interactions, items=None)`, `recommend(user_ids, n)`, `similar_items(item_ids, n)`,
    `item_similarity(k)` and `has_item_similarity()`.

    Learned state common to all recommenders, set by `fit`:
    `user_ids_`, `item_ids_` (string ids in index order), `seen_` (users x items CSR, 1 where the
    user interacted) and `popularity_` (distinct users per item, the cold-start ranking).
    """

    name: ClassVar[str] = ""
    # Learned attributes (beyond the common ones) that `save` writes and `load_model` restores.
    _learned: ClassVar[tuple[str, ...]] = ()
    # Learned attributes with one row per user of `user_ids_`, and the value that means "nothing
    # known" in them: `forget_users` fills a forgotten user's row with it.
    _user_rows: ClassVar[tuple[tuple[str, float], ...]] = ()
    # Whether `fit` needs item metadata (`items=`).
    needs_items: ClassVar[bool] = False
    # Whether the model learns its own item-to-item similarity (and overrides `_similar` and
    # `_item_similarity`); models without one answer with the cosine of co-occurrence. Ask
    # `has_item_similarity()`: the hybrid answers it from its fitted generators.
    has_own_similarity: ClassVar[bool] = False

    # ----- parameters -------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as given to `__init__`."""
        return {name: getattr(self, name) for name in self._param_names()}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # ----- fitting ----------------------------------------------------------------------------
    def fit(self, interactions: Any, items: pd.DataFrame | None = None) -> Self:
        """Learn from `interactions` (Interactions, a frame with `user_id`/`item_id`[/`ts`/`weight`/`basket_id`],
        or a users x items sparse matrix). `items`, a frame with `item_id` and optional
        `title`, `description`, `category`, `brand`, `price`, adds catalogue items (also ones
        without events) and feeds content features. Returns self."""
        data = as_interactions(interactions)
        catalogue = None
        if items is not None:
            items = items if isinstance(items, pd.DataFrame) else items.to_pandas()
            if "item_id" not in items.columns:
                raise InputError(
                    f"The items table has no `item_id` column (columns: {', '.join(map(str, items.columns))}); "
                    "rename the id column to item_id."
                )
            data = data.with_items(items["item_id"])
            catalogue = align_items(items, data.item_ids)
        elif self.needs_items:
            raise ModelError(
                f"The `{self.name}` recommender needs item metadata: pass a table with item_id and "
                "title, description, category or brand.",
                parameter="items",
            )
        self.user_ids_ = data.user_ids
        self.item_ids_ = data.item_ids
        self.seen_ = data.matrix(binary=True)
        self.popularity_ = np.asarray(self.seen_.sum(axis=0), dtype=np.float64).ravel()
        self._fit(data, catalogue)
        return self

    def _fit(self, data: Interactions, items: pd.DataFrame | None) -> None:
        raise NotImplementedError

    # ----- scoring hooks ----------------------------------------------------------------------
    def _score(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for the user rows `users`: float array (len(users), n_items)."""
        raise NotImplementedError

    def _cold_start_scores(self) -> np.ndarray:
        """Item scores for users never seen in training: popularity."""
        return self.popularity_

    def _similar(self, items: np.ndarray) -> np.ndarray:
        """Similarity of every item to the item rows `items` (default: cosine of co-occurrence)."""
        x = self.seen_.tocsc()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        norms[norms == 0] = 1.0
        sims = (x[:, items].T @ x).toarray() / norms[items, None] / norms[None, :]
        # Ties (no co-occurrence) are broken by popularity, so the list is never arbitrary.
        return sims + 1e-9 * self.popularity_ / max(self.popularity_.max(), 1.0)

    def _item_similarity(self, k: int) -> sp.csr_matrix:
        """Sparse `item_similarity` (default: cosine of co-occurrence, the `k` largest per item)."""
        x = sp.csc_matrix(self.seen_, dtype=np.float32)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        norms[norms == 0] = 1.0
        sim = sp.csr_matrix(sp.diags(1.0 / norms) @ (x.T @ x) @ sp.diags(1.0 / norms))
        sim.setdiag(0.0)
        sim.eliminate_zeros()
        return keep_top_k(sim, k)

    def _dense_item_similarity(self, rows: Callable[[np.ndarray], Any], k: int) -> sp.csr_matrix:
        """`_item_similarity` from a function giving dense (or sparse) similarity rows of item rows,
        in blocks of bounded size: the self-similarity is dropped, the `k` largest positive kept."""
        n_items = len(self.item_ids_)

        def blocks() -> Iterator[tuple[int, np.ndarray]]:
            for batch in _batches(np.arange(n_items), self._batch_size()):
                block = rows(batch)
                block = block.toarray() if sp.issparse(block) else np.array(block, dtype=np.float64)
                block[np.arange(len(batch)), batch] = 0.0
                yield int(batch[0]), block

        return top_k_sparse(blocks(), n_items, n_items, k)

    # ----- public answers ---------------------------------------------------------------------
    def recommend(
        self, user_ids: Any, n: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` items for each of `user_ids`.

        Returns `(item_ids, scores)`, both of shape `(len(user_ids), n)`, best first. Item ids are
        strings (dtype object); when fewer than `n` items can be recommended the row is padded
        with `None` and score NaN. Users unknown at fit time get the cold-start list (most
        popular items). With `exclude_seen`, items the user interacted with never appear.
        Scores compare within a row only; their scale depends on the model.
        """
        self._check_fitted()
        n = _check_n(n)
        users = _as_id_batch(user_ids, "user_ids")
        rows = self._positions("user_ids_", users)
        out_items = np.full((len(users), n), None, dtype=object)
        out_scores = np.full((len(users), n), np.nan)
        known = np.flatnonzero(rows >= 0)
        for batch in _batches(known, self._batch_size()):
            scores = np.array(self._score(rows[batch]), dtype=np.float64, copy=True)
            if exclude_seen:
                _mask(scores, self.seen_[rows[batch]])
            out_items[batch], out_scores[batch] = self._top_n(scores, n)
        unknown = np.flatnonzero(rows < 0)
        if len(unknown):
            cold_items, cold_scores = self._top_n(
                np.array(self._cold_start_scores(), dtype=np.float64)[None, :], n
            )
            out_items[unknown], out_scores[unknown] = cold_items, cold_scores
        return out_items, out_scores

    def similar_items(self, item_ids: Any, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The `n` items most similar to each of `item_ids`, never the item itself.

        Returns `(item_ids, scores)` of shape `(len(item_ids), n)`, padded with `None`/NaN.
        Unknown items get the most popular items.
        """
        self._check_fitted()
        n = _check_n(n)
        items = _as_id_batch(item_ids, "item_ids")
        rows = self._positions("item_ids_", items)
        out_items = np.full((len(items), n), None, dtype=object)
        out_scores = np.full((len(items), n), np.nan)
        known = np.flatnonzero(rows >= 0)
        for batch in _batches(known, self._batch_size()):
            sims = np.array(self._similar(rows[batch]), dtype=np.float64, copy=True)
            sims[np.arange(len(batch)), rows[batch]] = -np.inf
            out_items[batch], out_scores[batch] = self._top_n(sims, n)
        unknown = np.flatnonzero(rows < 0)
        if len(unknown):
            cold_items, cold_scores = self._top_n(self.popularity_[None, :].astype(np.float64), n)
            out_items[unknown], out_scores[unknown] = cold_items, cold_scores
        return out_items, out_scores

    def has_item_similarity(self) -> bool:
        """Whether the model learns its own item-to-item similarity.

        When it does not, `similar_items` and `item_similarity` answer with the cosine of
        co-occurrence (how often two items share a user), which every fitted model can compute.
        """
        return self.has_own_similarity

    def item_similarity(self, k: int = 100) -> sp.csr_matrix:
        """The model's item-to-item similarity as a sparse items x items matrix (float32, CSR).

        Rows and columns follow `item_ids_`. Row i keeps the (at most) `k` items most similar to
        item i whose similarity is positive; the diagonal is empty (an item is not its own
        neighbour). This is the matrix to fold histories and sessions through:
        `scores = weights @ S` with `weights` a users x items matrix. Models without their own
        similarity (`has_item_similarity()` false) give the cosine of co-occurrence. Sparse
        models (item-kNN, session) hand out what they learned; dense ones (EASE, ALS, content)
        compute it in blocks, in time growing with the square of the number of items.
        """
        self._check_fitted()
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InputError(f"k must be a positive whole number of neighbours per item; got {k!r}.")
        sim = sp.csr_matrix(self._item_similarity(int(k)), dtype=np.float32)
        sim.sort_indices()
        return sim

    def forget_users(self, user_ids: Any) -> int:
        """Anonymise users in the fitted model at once (the right to erasure, before a refit).

        Each forgotten user's id in `user_ids_` is replaced by a placeholder no id can equal
        (it starts with a NUL), so the user is served as unknown (the cold-start list); their
        row of `seen_` and of every per-user learned array is emptied. What they added to
        item-level state (popularity, similarities, item factors) stays, without their id,
        until the next `fit`. Returns how many users were found; unknown ids are ignored.
        """
        self._check_fitted()
        rows = self._positions("user_ids_", _as_id_batch(user_ids, "user_ids"))
        rows = np.unique(rows[rows >= 0])
        if len(rows):
            ids = np.array(self.user_ids_, dtype=object, copy=True)
            ids[rows] = [f"{ERASED_PREFIX}{row}" for row in rows.tolist()]
            self.user_ids_ = ids
            self.seen_ = _fill_rows(self.seen_, rows, 0.0)
            for attr, empty in self._user_rows:
                setattr(self, attr, _fill_rows(getattr(self, attr), rows, empty))
            self._forget_rows(rows)
        return len(rows)

    def _forget_rows(self, rows: np.ndarray) -> None:
        """Subclasses drop other state about the user rows `rows` (e.g. their events)."""

    def user_index(self, user_ids: Any) -> np.ndarray:
        """Row of each user id in the fitted index, -1 for unknown users."""
        self._check_fitted()
        return self._positions("user_ids_", _as_id_batch(user_ids, "user_ids"))

    def item_index(self, item_ids: Any) -> np.ndarray:
        """Column of each item id in the fitted index, -1 for unknown items."""
        self._check_fitted()
        return self._positions("item_ids_", _as_id_batch(item_ids, "item_ids"))

    # ----- helpers ----------------------------------------------------------------------------
    def _positions(self, attr: str, ids: np.ndarray) -> np.ndarray:
        """Index of each id in `self.<attr>` (-1 if absent); the id -> index map is built once
        per fitted index, so small request batches stay cheap."""
        index = getattr(self, attr)
        cache = self.__dict__.setdefault("_position_cache", {})
        if attr not in cache or cache[attr][0] is not index:
            cache[attr] = (index, {value: i for i, value in enumerate(index.tolist())})
        positions = cache[attr][1]
        return np.fromiter((positions.get(v, -1) for v in ids.tolist()), dtype=np.int64, count=len(ids))

    def _check_fitted(self) -> None:
        if not hasattr(self, "item_ids_"):
            raise ModelError(f"This {type(self).__name__} is not fitted yet; call fit(interactions) first.")

    def _batch_size(self) -> int:
        return max(1, _SCORE_CELLS_PER_BATCH // max(len(self.item_ids_), 1))

    def _top_n(self, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(n, scores.shape[1])
        if k < scores.shape[1]:
            part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(k), (scores.shape[0], k))
        vals = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        idx = np.take_along_axis(part, order, axis=1)
        vals = np.take_along_axis(vals, order, axis=1)
        ids = np.full((scores.shape[0], n), None, dtype=object)
        out = np.full((scores.shape[0], n), np.nan)
        ok = np.isfinite(vals)
        ids[:, :k][ok] = self.item_ids_[idx[ok]]
        out[:, :k][ok] = vals[ok]
        return ids, out

    # ----- model directories ------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted model to directory `path`: `model.json` (name, parameters, scalars)
        and `arrays.npz` (numpy arrays, sparse matrices as their parts). No pickles."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "model": self.name,
            "params": self.get_params(),
            "scalars": {},
            "sparse": {},
            "children": [],
        }
        arrays: dict[str, np.ndarray] = {}
        for attr in ("user_ids_", "item_ids_", "seen_", "popularity_", *self._learned):
            value = getattr(self, attr)
            if sp.issparse(value):
                csr = sp.csr_matrix(value)
                arrays[f"{attr}.data"], arrays[f"{attr}.indices"], arrays[f"{attr}.indptr"] = (
                    csr.data,
                    csr.indices,
                    csr.indptr,
                )
                meta["sparse"][attr] = list(csr.shape)
            elif isinstance(value, np.ndarray):
                arrays[attr] = value.astype(str) if value.dtype == object else value
            elif isinstance(value, Recommender):
                value.save(path / attr)
                meta["children"].append(attr)
            else:
                meta["scalars"][attr] = value
        self._save_extra(path)
        np.savez_compressed(path / "arrays.npz", **arrays)  # type: ignore[arg-type]  # numpy stubs
        (path / "model.json").write_text(json.dumps(meta, indent=1, default=_json_default), encoding="utf-8")
        return path

    def _save_extra(self, path: Path) -> None:
        """Subclasses write state that is neither an array nor a scalar (e.g. a LightGBM model)."""

    def _load_extra(self, path: Path) -> None:
        """Counterpart of `_save_extra`."""


ERASED_PREFIX = "\x00erased:"
"""Start of the placeholder ids `forget_users` leaves; ingestion refuses ids with a NUL."""


def _fill_rows(values: Any, rows: np.ndarray, empty: float) -> Any:
    """`values` (a dense array or a sparse matrix, one row per user) with `rows` set to `empty`
    (sparse: emptied); a new object, so readers of the old one are undisturbed."""
    if sp.issparse(values):
        keep = np.ones(values.shape[0])
        keep[rows] = 0.0
        out = sp.csr_matrix(sp.diags(keep) @ values, dtype=values.dtype)
        out.eliminate_zeros()
        return out
    out = np.array(values, copy=True)
    out[rows] = empty
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_model(path: str | Path) -> Recommender:
    """Load a model directory written by `Recommender.save` (numpy arrays and JSON; no code runs)."""
    path = Path(path)
    meta_file = require_model_dir(path)
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{meta_file} is not valid JSON ({exc}); retrain the model.") from exc
    if meta.get("format") != FORMAT_VERSION:
        raise InputError(
            f"{path} was written in model format {meta.get('format')!r}; this version reads {FORMAT_VERSION}. Retrain the model."
        )
    model = create(meta["model"], **meta["params"])
    with np.load(path / "arrays.npz", allow_pickle=False) as arrays:
        for attr, shape in meta["sparse"].items():
            matrix = sp.csr_matrix(
                (arrays[f"{attr}.data"], arrays[f"{attr}.indices"], arrays[f"{attr}.indptr"]),
                shape=tuple(shape),
            )
            setattr(model, attr, matrix)
        for key in arrays.files:
            if "." not in key:
                value = arrays[key]
                setattr(model, key, value.astype(object) if value.dtype.kind == "U" else value)
    for attr, value in meta["scalars"].items():
        setattr(model, attr, value)
    for attr in meta["children"]:
        setattr(model, attr, load_model(path / attr))
    model._load_extra(path)
    return model


# ----- registry ---------------------------------------------------------------------------------
RECOMMENDERS: dict[str, type[Recommender]] = {}
R = TypeVar("R", bound=type[Recommender])


def register(name: str) -> Callable[[R], R]:
    """Class decorator adding a recommender to the registry under `name` (built-ins use it too)."""

    def decorate(cls: R) -> R:
        if name in RECOMMENDERS and RECOMMENDERS[name] is not cls:
            raise ValueError(
                f"A recommender named {name!r} is already registered ({RECOMMENDERS[name].__name__})."
            )
        cls.name = name
        RECOMMENDERS[name] = cls
        return cls

    return decorate


def available() -> list[str]:
    """Names of the registered recommenders, sorted."""
    return sorted(RECOMMENDERS)


def create(name: str, **params: Any) -> Recommender:
    """A new recommender by registry name; NotFoundError lists the names that exist."""
    cls = RECOMMENDERS.get(name)
    if cls is None:
        raise NotFoundError(
            f"There is no recommender named {name!r}; choose one of: {', '.join(available())}."
        )
    try:
        return cls(**params)
    except TypeError as exc:
        raise InputError(
            f"Bad parameters for recommender {name!r}: {exc}. Its parameters are: {', '.join(cls._param_names())}."
        ) from exc


# ----- small helpers ----------------------------------------------------------------------------
def align_items(items: pd.DataFrame, item_ids: np.ndarray) -> pd.DataFrame:
    """Item metadata with one row per entry of `item_ids`, in that order (missing items: NaN).

    Duplicate item ids keep their last row, as loading the catalogue twice would.
    """
    frame = items.copy()
    frame["item_id"] = ids_as_strings(frame["item_id"], name="items.item_id")
    frame = frame.drop_duplicates("item_id", keep="last").set_index("item_id")
    return frame.reindex(pd.Index(item_ids, name="item_id")).reset_index()


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InputError(f"n must be a positive whole number of items; got {n!r}.")
    return int(n)


def _as_id_batch(ids: Any, name: str) -> np.ndarray:
    if isinstance(ids, str | bytes) or np.ndim(ids) == 0:
        raise InputError(
            f"{name} must be a list of ids (the API is batch-first); got the single value {ids!r}: pass [{ids!r}]."
        )
    if len(ids) == 0:
        return np.array([], dtype=str)
    return ids_as_strings(ids, name=name)


def _batches(rows: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _mask(scores: np.ndarray, seen_rows: sp.csr_matrix) -> None:
    coo = seen_rows.tocoo()
    scores[coo.row, coo.col] = -np.inf


def keep_top_k(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the `k` largest entries of each row of a CSR matrix (the matrix itself when no row has more)."""
    matrix = matrix.tocsr()
    matrix.sort_indices()
    if np.diff(matrix.indptr).max(initial=0) <= k:
        return matrix
    indptr, indices, data = [0], [], []
    for r in range(matrix.shape[0]):
        lo, hi = matrix.indptr[r], matrix.indptr[r + 1]
        vals, cols = matrix.data[lo:hi], matrix.indices[lo:hi]
        if hi - lo > k:
            top = np.argpartition(-vals, k - 1)[:k]
            vals, cols = vals[top], cols[top]
        indices.append(cols)
        data.append(vals)
        indptr.append(indptr[-1] + len(cols))
    return sp.csr_matrix(
        (np.concatenate(data) if data else [], np.concatenate(indices) if indices else [], indptr),
        shape=matrix.shape,
    )


def top_k_sparse(
    dense_rows: Iterator[tuple[int, np.ndarray]], n_rows: int, n_cols: int, k: int
) -> sp.csr_matrix:
    """Keep the `k` largest positive entries of each row produced by `dense_rows` ((start, block))."""
    indptr = [0]
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    for _start, block in dense_rows:
        kk = min(k, block.shape[1])
        part = (
            np.argpartition(-block, kk - 1, axis=1)[:, :kk]
            if kk < block.shape[1]
            else np.tile(np.arange(kk), (block.shape[0], 1))
        )
        vals = np.take_along_axis(block, part, axis=1)
        for r in range(block.shape[0]):
            keep = vals[r] > 0
            indices.append(part[r][keep])
            data.append(vals[r][keep])
            indptr.append(indptr[-1] + int(keep.sum()))
    return sp.csr_matrix(
        (
            np.concatenate(data).astype(np.float32) if data else np.array([], dtype=np.float32),
            np.concatenate(indices) if indices else np.array([], dtype=np.int32),
            np.array(indptr),
        ),
        shape=(n_rows, n_cols),
    )
