"""Recommenders: fit on interactions, recommend for many users at once, find similar items.

Every recommender follows one contract (see `Recommender`): `fit(interactions, items=None)`
returns self; `recommend(user_ids, n=10, exclude_seen=True) -> (item_ids, scores)`, arrays of
shape `(len(user_ids), n)`; `similar_items(item_ids, n)`; `item_similarity(k)`, the sparse
items x items similarity (`has_item_similarity()` says whether the model learns its own; if not,
it is the cosine of co-occurrence). Unknown users get the cold-start
(most popular) list. Recommenders are found by name in a registry (`create("itemknn")`), which
the built-ins use too, and saved to directories of numpy arrays and JSON (`save`, `load_model`).
"""

from cartwise.recommend._als import ALS
from cartwise.recommend._base import RECOMMENDERS, Recommender, available, create, load_model, register
from cartwise.recommend._content import ContentBased, embeddings_available
from cartwise.recommend._data import Interactions, as_interactions
from cartwise.recommend._hybrid import Hybrid
from cartwise.recommend._neighbours import EASE, ItemKNN, bm25_weight
from cartwise.recommend._popularity import Popularity, Trending
from cartwise.recommend._repeat import RepeatPurchase
from cartwise.recommend._session import SessionKNN

__all__ = [
    "ALS",
    "EASE",
    "RECOMMENDERS",
    "ContentBased",
    "Hybrid",
    "Interactions",
    "ItemKNN",
    "Popularity",
    "Recommender",
    "RepeatPurchase",
    "SessionKNN",
    "Trending",
    "as_interactions",
    "available",
    "bm25_weight",
    "create",
    "embeddings_available",
    "load_model",
    "register",
]
