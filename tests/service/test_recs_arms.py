"""A recommender experiment's arms stay fresh and recover, on a real store and service.

- a retrain of the serving model refits the other arms on the same events and swaps them in with
  it, while every request stays enrolled (the old arm serves until the new one is in);
- an arm whose fit fails (no events yet) is retried with backoff once events arrive, each
  failure logged once, its status and last error on the recommender's status.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from cartwise.core.errors import InputError
from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.train import train_recommender
from cartwise.recommend import Recommender, load_model
from cartwise.service import experiments as service_experiments
from cartwise.service.recs import RecsOptions
from cartwise.service.recs.arms import describe_error, retry_delay
from cartwise.service.recs.registry import recs_for, stop_recs
from cartwise.service.service import Service
from cartwise.simulate import ShopConfig
from cartwise.store import Store, open_store

VARIANTS = [
    {"name": "control", "weight": 0.5, "value": "itemknn"},
    {"name": "popular", "weight": 0.5, "value": "popularity"},
]


@contextmanager
def _serving(db: Path, prepare: Callable[[Store], None]) -> Iterator[Service]:
    """A started service over a store `prepare` filled; its recommendations and experiments
    stopped with it."""
    settings = get_settings(db=db, memory_limit="512MB", threads=1)
    with open_store(db, settings=settings) as store:
        prepare(store)
    svc = Service(settings)
    svc.start()
    try:
        yield svc
    finally:
        stop_recs(svc)
        service_experiments.stop_experiments(svc)
        svc.stop()


@pytest.fixture
def trained(tmp_path: Path) -> Iterator[Service]:
    def prepare(store: Store) -> None:
        build_demo(store, ShopConfig(seed=5, users=200, items=40, days=30))
        train_recommender(store, "itemknn")

    with _serving(tmp_path / "shop.duckdb", prepare) as svc:
        yield svc


def _knows(model: Recommender, user_id: str) -> bool:
    return bool(model.user_index([user_id])[0] >= 0)


def _purchases(service: Service, user: str, items: list[str]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    table = pa.table(
        {
            "event_id": [uuid.uuid4().hex for _ in items],
            "ts": pa.array([now] * len(items), pa.timestamp("us")),
            "user_id": [user] * len(items),
            "type": ["purchase"] * len(items),
            "item_id": items,
            "revenue": [10.0] * len(items),
        }
    )
    gate = service.require_gate()
    with gate as store:
        store.append("events", table)


def _wait(predicate: object, seconds: float, why: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, why
        time.sleep(0.05)


def test_a_retrain_refits_every_arm_on_its_data_and_swaps_them_in_without_a_gap(trained: Service) -> None:
    server = recs_for(trained, RecsOptions(poll_seconds=3600, flush_seconds=3600, offline_models=[]))
    service_experiments.create(trained, {"key": "recs-ab", "variants": VARIANTS})
    users = [str(u) for u in server.state.model.user_ids_[:40]]  # type: ignore[union-attr]
    _wait(
        lambda: server.recommend(users[0], 5, log_impression=False).experiment, 60, str(server.arm_details())
    )
    old = server.arms.get("popularity")
    assert old is not None and old.model is not None
    newcomer = "brand-new-buyer"
    items = [str(i) for i in server.state.item_ids[:3]]
    _purchases(trained, newcomer, items)

    answers: list[tuple[str | None, str]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def hammer() -> None:  # requests while the retrain fits: each must be enrolled
        i = 0
        while not done.is_set():
            try:
                served = server.recommend(users[i % len(users)], 5, log_impression=False)
                answers.append((served.experiment, served.model_version))
            except BaseException as exc:
                errors.append(exc)
            i += 1

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        report = server.retrain(model="itemknn")
    finally:
        done.set()
        thread.join()

    assert report["state"] == "done", report
    assert not errors
    assert answers and all(experiment == "recs-ab" for experiment, _ in answers)
    fresh = server.arms.get("popularity")
    assert fresh is not None and fresh.model is not None
    assert report["arms"] == {"popularity": fresh.version} and fresh.version != old.version
    # The same snapshot as the serving model, which now knows the newcomer: so does the arm.
    assert fresh.watermark == server.state.watermark > old.watermark
    assert _knows(fresh.model, newcomer) and not _knows(old.model, newcomer)
    assert _knows(load_model(server.model_dir.parent / "recommenders" / "popularity"), newcomer)
    details = server.arm_details()
    assert details["popularity"]["version"] == fresh.version and details["popularity"]["state"] == "ready"
    assert details["popularity"]["trained_at"] is not None and details["popularity"]["last_error"] is None
    assert details["itemknn"]["serving"] is True and details["itemknn"]["version"] == server.state.version
    assert details["itemknn"]["trained_at"] is not None
    info = server.model_info()
    assert info["experiment_arm_details"]["popularity"]["version"] == fresh.version
    # Served from here on: an enrolled user of the `popular` variant gets the fresh arm.
    versions = {
        server.recommend(u, 5, log_impression=False).model_version
        for u in users
        if service_experiments.assign_variant(trained, "recs-ab", u) == "popular"
    }
    assert versions == {fresh.version}


@pytest.fixture
def empty_shop(tmp_path: Path) -> Iterator[Service]:
    """A catalogue and customers, but no events yet: no recommender can be fitted."""

    def prepare(store: Store) -> None:
        build_demo(store, ShopConfig(seed=5, users=120, items=30, days=20))
        store.con.execute("DELETE FROM events")

    with _serving(tmp_path / "shop.duckdb", prepare) as svc:
        yield svc


def test_a_failed_arm_is_retried_with_backoff_and_enrols_once_events_arrive(
    empty_shop: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cartwise.recs")
    options = RecsOptions(
        poll_seconds=3600,
        flush_seconds=3600,
        offline_models=[],
        arm_retry_seconds=1.5,
        arm_retry_max_seconds=60,
    )
    server = recs_for(empty_shop, options)
    assert server.state.model is None  # nothing to train on: trending items are served
    service_experiments.create(empty_shop, {"key": "recs-ab", "variants": VARIANTS})
    assert server.recommend("shopper-1", 5, log_impression=False).experiment is None
    _wait(
        lambda: {a["state"] for a in server.arm_details().values()} == {"failed"},
        60,
        str(server.arm_details()),
    )
    details = server.arm_details()
    assert set(details) == {"itemknn", "popularity"}
    for arm in details.values():
        assert arm["attempts"] == 1 and arm["version"] is None
        assert arm["last_error"].startswith("InputError: No interactions were given")
        assert arm["next_retry_at"] is not None and arm["failed_at"] is not None
    assert server.model_info()["experiment_arms"]["popularity"].startswith("failed: InputError")

    # Requests within the backoff neither retry nor log again: one warning per failure.
    def warned() -> list[str]:
        return sorted(
            r.getMessage().split()[2] for r in caplog.records if "could not be prepared" in r.getMessage()
        )

    _wait(lambda: len(warned()) == 2, 10, str(warned()))  # logged by the arms' threads
    for i in range(30):
        assert server.recommend(f"shopper-{i}", 5, log_impression=False).experiment is None
    assert server.arm_details()["popularity"]["attempts"] == 1
    assert warned() == ["itemknn", "popularity"]

    items = [str(r[0]) for r in _rows(empty_shop, "SELECT item_id FROM items ORDER BY item_id LIMIT 6")]
    for k in range(12):
        _purchases(empty_shop, f"buyer-{k}", items[k % 3 : k % 3 + 3])
    _wait(
        lambda: server.recommend("buyer-1", 5, log_impression=False).experiment == "recs-ab",
        60,
        str(server.arm_details()),
    )
    details = server.arm_details()
    for arm in details.values():
        assert arm["state"] == "ready" and arm["attempts"] == 0 and arm["last_error"] is None
        assert arm["version"] is not None and arm["trained_at"] is not None


def _rows(service: Service, sql: str) -> list[tuple[object, ...]]:
    with service.require_gate() as store:
        return store.con.execute(sql).fetchall()


def test_an_arms_last_error_names_no_customer() -> None:
    text = describe_error(InputError("user_id 'ann@example.com' has no events; user \"u42\" neither"))
    assert text == "InputError: user_id '…' has no events; user '…' neither"
    assert describe_error(ValueError("mail bob@shop.example failed")) == "ValueError: mail <email> failed"
    long = describe_error(RuntimeError("x" * 2000))
    assert len(long) == 500 and long.endswith("…")


def test_the_wait_between_retries_doubles_up_to_its_cap() -> None:
    assert [retry_delay(n, 60, 3600) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert retry_delay(10_000, 1.5, 60) == 60


def test_a_retrain_fits_a_failed_arm_before_its_backoff_has_passed(empty_shop: Service) -> None:
    options = RecsOptions(poll_seconds=3600, flush_seconds=3600, offline_models=[], arm_retry_seconds=3600)
    server = recs_for(empty_shop, options)
    service_experiments.create(empty_shop, {"key": "recs-ab", "variants": VARIANTS})
    assert server.recommend("shopper-1", 5, log_impression=False).experiment is None
    _wait(lambda: server.arm_details().get("popularity", {}).get("state") == "failed", 60, "no failure")
    items = [str(r[0]) for r in _rows(empty_shop, "SELECT item_id FROM items ORDER BY item_id LIMIT 6")]
    for k in range(12):
        _purchases(empty_shop, f"buyer-{k}", items[k % 3 : k % 3 + 3])
    _wait(lambda: server.arm_details()["itemknn"]["state"] == "failed", 60, "itemknn still loading")
    report = server.retrain(model="itemknn")  # the serving model's own arm, and popularity beside it
    assert report["state"] == "done", report
    assert set(report["arms"]) == {"popularity"}
    details = server.arm_details()
    assert details["popularity"]["state"] == "ready" and details["popularity"]["attempts"] == 0
    assert details["itemknn"]["serving"] is True
    assert server.model_info()["experiment_arms"] == {
        "itemknn": f"ready {server.state.version}",
        "popularity": f"ready {details['popularity']['version']}",
    }
    assert server.recommend("buyer-1", 5, log_impression=False).experiment == "recs-ab"


def test_a_customer_erased_while_the_arms_refit_is_forgotten_by_every_refreshed_arm(
    trained: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cartwise.service.recs import arms as arms_module

    server = recs_for(trained, RecsOptions(poll_seconds=3600, flush_seconds=3600, offline_models=[]))
    service_experiments.create(trained, {"key": "recs-ab", "variants": VARIANTS})
    model = server.state.model
    assert model is not None
    who = str(model.user_ids_[0])
    _wait(lambda: server.recommend(who, 5, log_impression=False).experiment, 60, str(server.arm_details()))
    real_fit = arms_module.fit_on

    def fit_then_erase(data: object, name: str) -> Recommender:
        fitted = real_fit(data, name)  # type: ignore[arg-type]
        assert _knows(fitted, who)  # the retrain's snapshot holds her events
        trained.forget_customer(who)  # erased before the arms are saved and swapped in
        return fitted

    monkeypatch.setattr(arms_module, "fit_on", fit_then_erase)
    report = server.retrain(model="itemknn")
    assert report["state"] == "done" and set(report["arms"]) == {"popularity"}, report
    arm = server.arms.get("popularity")
    assert arm is not None and arm.model is not None
    assert not _knows(arm.model, who) and who not in arm.user_pos
    assert not _knows(load_model(server.model_dir.parent / "recommenders" / "popularity"), who)
    serving = server.state.model
    assert serving is not None and not _knows(serving, who)
