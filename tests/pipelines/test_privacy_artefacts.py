"""Erasure in saved models: the recommender, experiment recommenders and crash leftovers."""

from __future__ import annotations

import shutil
from pathlib import Path

from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.privacy import forget_customer
from cartwise.pipelines.train import store_interactions, train_recommender
from cartwise.recommend import create, load_model
from cartwise.simulate import ShopConfig
from cartwise.store import open_store


def test_every_saved_model_forgets_her_and_crash_leftovers_are_deleted(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    with open_store(db, settings=get_settings(db=db, memory_limit="512MB", threads=1)) as store:
        build_demo(store, ShopConfig(seed=3, users=120, items=30, days=20))
        train_recommender(store, "itemknn")
        artefacts = store.artefacts_path()
        main = artefacts / "recommender"
        who = str(load_model(main).user_ids_[0])
        # An experiment's recommender saved by a running server, and what a crash mid-save
        # (`save_atomically`'s hidden folder) or mid-rewrite (`.erasing-old`) leaves behind.
        arm = artefacts / "recommenders" / "popularity"
        create("popularity").fit(store_interactions(store)).save(arm)
        shutil.copytree(main, artefacts / ".recommender-k2j4x9")
        shutil.copytree(main, artefacts / "recommender.erasing-old")
        shutil.copytree(arm, artefacts / "recommenders" / ".popularity-old-1a2b3c4d")

        result = forget_customer(store, who)

        assert not load_model(main).user_index([who])[0] >= 0
        assert not load_model(arm).user_index([who])[0] >= 0
        assert sorted(p.name for p in artefacts.iterdir()) == ["recommender", "recommenders"]
        assert [p.name for p in (artefacts / "recommenders").iterdir()] == ["popularity"]
        assert "anonymised 1 id(s), the saved experiment recommenders 1 id(s)," in result["artefacts"]
        assert "3 model folder(s) a crash left behind were deleted" in result["artefacts"]
