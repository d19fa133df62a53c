"""The contract every recommender keeps; adding a recommender = a three-line test class:

class TestMyModel(RecommenderContract):
    name = "mymodel"
    params = {"k": 10}
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recs_data import two_tastes

from cartwise.core.errors import DataWarning, InputError, ModelError
from cartwise.recommend import RECOMMENDERS, Recommender, create, load_model

DATA = two_tastes()
USERS = sorted(DATA.frame["user_id"].unique(), key=lambda u: int(u[1:]))
SEEN = DATA.frame.groupby("user_id")["item_id"].apply(set).to_dict()


@cache
def _fitted(name: str, params_key: tuple[tuple[str, Any], ...]) -> Recommender:
    return create(name, **dict(params_key)).fit(DATA.frame, items=DATA.items)


class RecommenderContract:
    name: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}
    # Whether the model learns tastes (users of group A should get mostly A items).
    personalised: ClassVar[bool] = True
    # Whether users never seen get the most popular items (trending models answer with what is hot).
    cold_start_is_popularity: ClassVar[bool] = True
    # Whether the model learns its own item-to-item similarity (else: cosine of co-occurrence).
    own_similarity: ClassVar[bool] = True
    # Whether `item_similarity` is the similarity `similar_items` ranks by (the hybrid hands out
    # its session generator's instead).
    similarity_matches_similar_items: ClassVar[bool] = True
    # Whether `forget_users` recomputes item statistics from the events left (the hybrid's
    # ranker features), which may change other users' lists.
    forgetting_refits_item_statistics: ClassVar[bool] = False

    def model(self) -> Recommender:
        return _fitted(self.name, tuple(sorted(self.params.items())))

    def fresh(self) -> Recommender:
        return create(self.name, **self.params)

    def test_is_registered_and_keeps_params_as_given(self) -> None:
        assert type(self.fresh()) is RECOMMENDERS[self.name]
        assert {k: self.fresh().get_params()[k] for k in self.params} == self.params

    def test_fit_returns_self(self) -> None:
        model = self.fresh()
        assert model.fit(DATA.frame, items=DATA.items) is model

    def test_not_fitted_is_a_clear_error(self) -> None:
        with pytest.raises(ModelError, match="not fitted"):
            self.fresh().recommend(["u0"])

    def test_shapes_types_and_order(self) -> None:
        items, scores = self.model().recommend(USERS, n=5)
        assert items.shape == scores.shape == (len(USERS), 5)
        assert all(isinstance(i, str) for i in items.ravel())
        assert np.isfinite(scores).all()
        assert (np.diff(scores, axis=1) <= 1e-9).all()

    # One test method shared by many subclasses is the point here, not a flakiness risk.
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.differing_executors])
    @given(
        users=st.lists(st.sampled_from([*USERS, "stranger"]), min_size=1, max_size=12),
        n=st.integers(min_value=1, max_value=50),
    )
    def test_never_recommends_seen_items_or_duplicates(self, users: list[str], n: int) -> None:
        items, scores = self.model().recommend(users, n=n, exclude_seen=True)
        assert items.shape == (len(users), n)
        for user, row, row_scores in zip(users, items, scores, strict=True):
            listed = [i for i in row if i is not None]
            assert not set(listed) & SEEN.get(user, set())
            assert len(listed) == len(set(listed))
            # Padding only at the end, with NaN scores.
            assert all(i is None for i in row[len(listed) :])
            assert np.isnan(row_scores[len(listed) :]).all()

    def test_unknown_users_get_the_cold_start_list(self) -> None:
        model = self.model()
        items, _ = model.recommend(["nobody", "u0", "also-nobody"], n=5)
        assert list(items[0]) == list(items[2])
        if not self.cold_start_is_popularity:
            return
        popular = DATA.frame.groupby("item_id")["user_id"].nunique()
        assert popular[items[0][0]] == popular.max()

    def test_ids_of_any_type_are_strings(self) -> None:
        frame = DATA.frame.assign(user_id=DATA.frame["user_id"].str[1:].astype(int))
        model = self.fresh().fit(frame, items=DATA.items)
        as_int, _ = model.recommend([3, 4], n=5)
        as_text, _ = model.recommend(["3", "4"], n=5)
        assert (as_int == as_text).all()

    def test_users_recover_their_planted_taste(self) -> None:
        if not self.personalised:
            pytest.skip("not a personalised model")
        items, _ = self.model().recommend(USERS, n=5)
        own = [np.mean([i[0] == DATA.group[u] for i in row]) for u, row in zip(USERS, items, strict=True)]
        assert np.mean(own) > 0.8

    def test_similar_items(self) -> None:
        items, _ = self.model().similar_items(["a0", "b0", "unknown-item"], n=5)
        assert items.shape == (3, 5)
        assert "a0" not in items[0] and "b0" not in items[1]
        if self.personalised:
            assert np.mean([i.startswith("a") for i in items[0]]) >= 0.8
            assert np.mean([i.startswith("b") for i in items[1]]) >= 0.8

    def test_says_whether_it_has_its_own_item_similarity(self) -> None:
        assert self.model().has_item_similarity() is self.own_similarity

    def test_item_similarity_is_a_sparse_top_k_neighbourhood(self) -> None:
        model = self.model()
        n_items = len(model.item_ids_)
        sim = model.item_similarity(k=3)
        assert sp.isspmatrix_csr(sim) and sim.dtype == np.float32
        assert sim.shape == (n_items, n_items)
        assert (np.diff(sim.indptr) <= 3).all()
        assert (sim.data > 0).all() and np.isfinite(sim.data).all()
        assert not sim.diagonal().any()  # an item is not its own neighbour
        # A larger k keeps the same best similarities, and more of them.
        wide = model.item_similarity(k=10)
        for r in range(n_items):
            top = np.sort(sim.getrow(r).data)[::-1]
            more = np.sort(wide.getrow(r).data)[::-1]
            assert len(more) >= len(top)
            np.testing.assert_allclose(more[: len(top)], top, rtol=1e-6)

    def test_item_similarity_agrees_with_similar_items(self) -> None:
        model = self.model()
        sim = model.item_similarity(k=5)
        items, scores = model.similar_items(["a0", "b0"], n=1)
        for row, (best, score) in enumerate(zip(items[:, 0], scores[:, 0], strict=True)):
            neighbours = sim[int(model.item_index([("a0", "b0")[row]])[0])]
            if not self.similarity_matches_similar_items:
                assert neighbours.nnz > 0
                continue
            # The best neighbour has the top similarity (ties may pick another item of that score).
            assert neighbours.max() == pytest.approx(score, rel=1e-4, abs=1e-6)
            if neighbours.nnz and self.personalised:
                assert best.startswith(("a0", "b0")[row][0])
        if self.personalised:
            # Neighbours of a0 are mostly items of the same planted taste.
            row = sim[int(model.item_index(["a0"])[0])]
            names = model.item_ids_[row.indices]
            assert np.mean([i.startswith("a") for i in names]) >= 0.8

    def test_item_similarity_refuses_a_bad_k_and_needs_a_fit(self) -> None:
        with pytest.raises(InputError, match="k must be"):
            self.model().item_similarity(k=0)
        with pytest.raises(ModelError, match="not fitted"):
            self.fresh().item_similarity()

    def test_n_beyond_the_catalogue_pads(self) -> None:
        n_items = DATA.items["item_id"].nunique()
        items, scores = self.model().recommend(["u0"], n=n_items + 5, exclude_seen=False)
        assert sum(i is not None for i in items[0]) == n_items
        assert items[0][-1] is None and np.isnan(scores[0][-1])

    def test_save_and_load_give_the_same_answers(self, tmp_path: Path) -> None:
        model = self.model()
        model.save(tmp_path / "m")
        # Only JSON, numpy archives and LightGBM text: nothing that runs code when loaded.
        suffixes = {p.suffix for p in (tmp_path / "m").rglob("*") if p.is_file()}
        assert suffixes <= {".json", ".npz", ".txt"}
        loaded = load_model(tmp_path / "m")
        assert type(loaded) is type(model)
        users = [*USERS[:10], "nobody"]
        before, before_scores = model.recommend(users, n=7)
        after, after_scores = loaded.recommend(users, n=7)
        assert (before == after).all()
        np.testing.assert_allclose(before_scores, after_scores, rtol=1e-5)
        assert (model.item_similarity(k=5) != loaded.item_similarity(k=5)).nnz == 0

    def test_forgotten_users_are_served_as_strangers_and_leave_no_id(self, tmp_path: Path) -> None:
        model = self.fresh().fit(DATA.frame, items=DATA.items)
        gone, kept = USERS[:2], USERS[2:6]
        kept_before, _ = model.recommend(kept, n=5)
        cold, _ = model.recommend(["nobody"], n=5)
        assert model.forget_users([*gone, "never-seen"]) == 2
        assert model.forget_users(gone) == 0  # forgetting twice finds no one
        assert (model.user_index(gone) == -1).all()
        now_gone, _ = model.recommend(gone, n=5)
        assert (now_gone == cold[0]).all()  # the cold-start list, whatever they did
        assert (model.user_index(kept) >= 0).all()
        if not self.forgetting_refits_item_statistics:
            assert (model.recommend(kept, n=5)[0] == kept_before).all()
        model.save(tmp_path / "m")
        # No file of the saved model names them any more.
        for path in (tmp_path / "m").rglob("*"):
            if path.is_file() and path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as arrays:
                    for key in arrays.files:
                        if arrays[key].dtype.kind == "U":
                            assert not set(arrays[key].tolist()) & set(gone), (path, key)
        assert (load_model(tmp_path / "m").user_index(gone) == -1).all()

    def test_one_user(self) -> None:
        frame = DATA.frame[DATA.frame["user_id"] == "u0"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)  # a model may say the data is thin
            model = self.fresh().fit(frame, items=DATA.items)
        items, _ = model.recommend(["u0", "u1"], n=3)
        assert items.shape == (2, 3)
        assert not set(items[0]) & SEEN["u0"]

    def test_one_item(self) -> None:
        frame = pd.DataFrame(
            {"user_id": ["u1", "u2", "u3"], "item_id": ["x", "x", "x"], "ts": [1.0, 2.0, 3.0]}
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            model = self.fresh().fit(frame, items=pd.DataFrame({"item_id": ["x"], "title": ["a lamp"]}))
        items, _ = model.recommend(["u1", "nobody"], n=2)
        assert list(items[0]) == [None, None]  # the only item is seen
        assert list(items[1]) == ["x", None]
