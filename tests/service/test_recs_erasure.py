"""A retrain that read the events before an erasure must not bring the customer back.

The erasure is run at a known point of a real retrain (after it read and fitted, before it
saves and swaps), through the service's own `forget_customer`, on a real store: no sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.train import train_recommender
from cartwise.recommend import Recommender, load_model
from cartwise.service.recs import RecsOptions
from cartwise.service.recs import retrain as retrain_module
from cartwise.service.recs.erasures import ErasureLog
from cartwise.service.recs.registry import recs_for, stop_recs
from cartwise.service.service import Service
from cartwise.simulate import ShopConfig
from cartwise.store import open_store


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    db = tmp_path / "shop.duckdb"
    settings = get_settings(db=db, memory_limit="512MB", threads=1)
    with open_store(db, settings=settings) as store:
        build_demo(store, ShopConfig(seed=5, users=200, items=40, days=30))
        train_recommender(store)
    svc = Service(settings)
    svc.start()
    try:
        yield svc
    finally:
        stop_recs(svc)
        svc.stop()


def _knows(model: Recommender, user_id: str) -> bool:
    return bool(model.user_index([user_id])[0] >= 0)


def test_an_erasure_during_a_retrain_is_forgotten_by_the_model_it_swaps_in(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = recs_for(service, RecsOptions(poll_seconds=3600, flush_seconds=3600, offline_models=[]))
    model = server.state.model
    assert model is not None
    who = next(
        u for u in map(str, model.user_ids_) if not server.recommend(u, 5, log_impression=False).cold_start
    )
    old = server.state.version
    read_her: list[bool] = []
    erased: list[dict[str, Any]] = []
    real_fit = retrain_module.fit_on

    def fit_then_erase(data: Any, name: str) -> Recommender:
        fitted = real_fit(data, name)
        read_her.append(_knows(fitted, who))  # the retrain read her events
        erased.append(service.forget_customer(who))  # she is erased before the save and the swap
        return fitted

    monkeypatch.setattr(retrain_module, "fit_on", fit_then_erase)
    report = server.retrain(model="itemknn")

    assert report["state"] == "done", report
    assert read_her == [True] and erased[0]["removed"]["events"] > 0
    assert server.state.version == report["version"] != old
    serving = server.state.model
    assert serving is not None and not _knows(serving, who)
    assert who not in server.state.user_pos
    assert server.recommend(who, 5, log_impression=False).cold_start
    assert not _knows(load_model(server.model_dir), who)  # nor does the model a restart loads


def test_a_reload_forgets_customers_erased_after_it_began(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = recs_for(service, RecsOptions(poll_seconds=3600, flush_seconds=3600, offline_models=[]))
    model = server.state.model
    assert model is not None
    who = str(model.user_ids_[0])
    real_load = load_model
    from cartwise.service.recs import server as server_module

    def load_then_erase(path: Path) -> Recommender:
        loaded = real_load(path)  # the saved model, read before the erasure rewrites it
        service.forget_customer(who)
        return loaded

    monkeypatch.setattr(server_module, "load_model", load_then_erase)
    server.reload()
    serving = server.state.model
    assert serving is not None and not _knows(serving, who)
    assert not _knows(real_load(server.model_dir), who)


def test_the_log_keeps_erasures_only_while_a_build_needs_them() -> None:
    log = ErasureLog()
    with log.lock:
        log.locked_record({"nobody-builds"})  # no build under way: nothing to remember
    first = log.mark()
    with log.lock:
        log.locked_record({"a"})
    second = log.mark()
    with log.lock:
        log.locked_record({"b"})
        assert log.locked_since(first) == {"a", "b"}
        assert log.locked_since(second) == {"b"}
    log.done(first)
    with log.lock:
        assert log.locked_since(second) == {"b"}
    log.done(second)
    third = log.mark()
    with log.lock:
        assert log.locked_since(third) == set()
    log.done(third)


def test_an_experiment_arm_fitted_across_an_erasure_forgets_her_and_later_erasures_reach_it(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cartwise.service.recs import arms as arms_module

    server = recs_for(service, RecsOptions(poll_seconds=3600, flush_seconds=3600, offline_models=[]))
    model = server.state.model
    assert model is not None
    first, second = str(model.user_ids_[0]), str(model.user_ids_[1])
    real_fit = arms_module.fit_from_store

    def fit_then_erase(gate: Any, name: str) -> tuple[Recommender, int]:
        fitted, watermark = real_fit(gate, name)
        assert _knows(fitted, first)
        service.forget_customer(first)
        return fitted, watermark

    monkeypatch.setattr(arms_module, "fit_from_store", fit_then_erase)
    server.arms._load_or_fit("itemknn")  # what the arm's background thread runs, here in order
    arm = server.arms.get("itemknn")
    saved = server.model_dir.parent / "recommenders" / "itemknn"
    assert arm is not None and arm.model is not None
    assert not _knows(arm.model, first) and first not in arm.user_pos
    assert not _knows(load_model(saved), first)

    # An erasure once the arm is ready reaches its served state and its saved model too.
    assert _knows(arm.model, second)
    result = service.forget_customer(second)
    assert not _knows(arm.model, second) and second not in arm.user_pos
    assert not _knows(load_model(saved), second)
    assert "experiment recommenders 1 id(s)" in result["artefacts"]
