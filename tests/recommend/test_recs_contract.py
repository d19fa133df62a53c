"""Every registered recommender keeps the shared contract (see recs_contract.py)."""

from __future__ import annotations

from typing import ClassVar

from recs_contract import RecommenderContract

from cartwise.recommend import available


class TestPopularity(RecommenderContract):
    name = "popularity"
    personalised = False


class TestTrending(RecommenderContract):
    name = "trending"
    params: ClassVar = {"half_life_days": 3.0}
    personalised = False
    cold_start_is_popularity = False


class TestRepeat(RecommenderContract):
    name = "repeat"
    personalised = False


class TestItemKNNCosine(RecommenderContract):
    name = "itemknn"
    params: ClassVar = {"k": 20}


class TestItemKNNBM25(RecommenderContract):
    name = "itemknn"
    params: ClassVar = {"k": 20, "weighting": "bm25"}


class TestEASE(RecommenderContract):
    name = "ease"
    params: ClassVar = {"l2": 5.0}


class TestALS(RecommenderContract):
    name = "als"
    params: ClassVar = {"factors": 4, "iterations": 15}


class TestContent(RecommenderContract):
    name = "content"


class TestSession(RecommenderContract):
    name = "session"
    personalised = False  # the planted data has no sessions; see test_recs_models.py for chains


class TestHybrid(RecommenderContract):
    name = "hybrid"
    params: ClassVar = {"n_estimators": 20}


def test_every_registered_recommender_has_a_contract_test() -> None:
    tested = {cls.name for cls in RecommenderContract.__subclasses__()}
    assert set(available()) <= tested
