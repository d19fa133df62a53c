"""Every registered recommender keeps the shared contract (see recs_contract.py)."""

from __future__ import annotations

from typing import ClassVar

from recs_contract import DATA, RecommenderContract

from cartwise.recommend import available, create


class TestPopularity(RecommenderContract):
    name = "popularity"
    personalised = False
    own_similarity = False


class TestTrending(RecommenderContract):
    name = "trending"
    params: ClassVar = {"half_life_days": 3.0}
    personalised = False
    own_similarity = False
    cold_start_is_popularity = False


class TestRepeat(RecommenderContract):
    name = "repeat"
    personalised = False
    own_similarity = False


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
    similarity_matches_similar_items = False  # it hands out its session generator's
    forgetting_refits_item_statistics = True  # its ranker features come from the events left


def test_hybrid_item_similarity_is_its_session_generators() -> None:
    model = TestHybrid().model()
    assert "session" in model.generators_
    expected = model.generators_["session"].item_similarity(k=7)
    assert (model.item_similarity(k=7) != expected).nnz == 0


def test_hybrid_without_a_session_generator_hands_out_the_first_own_similarity() -> None:
    model = create("hybrid", generators=["popularity", "itemknn"], n_estimators=5).fit(
        DATA.frame, items=DATA.items
    )
    assert model.has_item_similarity()
    expected = model.generators_["itemknn"].item_similarity(k=7)
    assert (model.item_similarity(k=7) != expected).nnz == 0
    bare = create("hybrid", generators=["popularity"], n_estimators=5).fit(DATA.frame, items=DATA.items)
    assert not bare.has_item_similarity()
    # Without one, co-occurrence cosine, as for any model without its own similarity.
    cooccurrence = bare.generators_["popularity"].item_similarity(k=7)
    assert (bare.item_similarity(k=7) != cooccurrence).nnz == 0


def test_every_registered_recommender_has_a_contract_test() -> None:
    tested = {cls.name for cls in RecommenderContract.__subclasses__()}
    assert set(available()) <= tested
