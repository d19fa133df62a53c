"""A retrain while a recommender experiment runs: what refitting its other arms costs.

On a simulated shop served by `itemknn`, `RecsServer.retrain(model="itemknn")` runs first with
no experiment, then with a running recommender experiment whose variants are `itemknn` (the
serving model) and `ARMS` (refitted on the same events and swapped in with it). A thread asks
for recommendations all the while (known users, n=10, one thread): the table gives the retrain's
seconds, the requests answered during it, how many of those were not enrolled in the experiment
(the target is none: the old arms serve until the new ones are in) and their latency.

Run: OPENBLAS_NUM_THREADS=1 python bench/recs_arms_retrain.py [--users 3000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.train import train_recommender
from cartwise.service import experiments as service_experiments
from cartwise.service.recs import RecsOptions, RecsServer
from cartwise.service.recs.registry import recs_for, stop_recs
from cartwise.service.service import Service
from cartwise.simulate import ShopConfig
from cartwise.store import open_store

ARMS = ["popularity", "als"]


def _retrain_under_load(server: RecsServer, users: list[str]) -> dict[str, float]:
    latencies: list[float] = []
    unenrolled = 0
    done = threading.Event()

    def hammer() -> None:
        nonlocal unenrolled
        i = 0
        while not done.is_set():
            started = time.perf_counter()
            served = server.recommend(users[i % len(users)], 10, log_impression=False)
            latencies.append(time.perf_counter() - started)
            unenrolled += served.experiment is None
            i += 1

    thread = threading.Thread(target=hammer)
    thread.start()
    started = time.perf_counter()
    try:
        report = server.retrain(model="itemknn")
    finally:
        seconds = time.perf_counter() - started
        done.set()
        thread.join()
    assert report["state"] == "done", report
    ms = np.asarray(latencies) * 1000
    return {
        "seconds": seconds,
        "requests": len(latencies),
        "unenrolled": unenrolled,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "shop.duckdb"
        settings = get_settings(db=db, memory_limit="2GB", threads=1)
        with open_store(db, settings=settings) as store:
            build_demo(store, ShopConfig(seed=3, users=args.users, items=300, days=90))
            train_recommender(store, "itemknn")
            events = store.con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        service = Service(settings)
        service.start()
        try:
            server = recs_for(service, RecsOptions(poll_seconds=3600, flush_seconds=3600, offline_models=[]))
            model = server.state.model
            assert model is not None
            users = [str(u) for u in model.user_ids_[:500]]
            rows = [("none", _retrain_under_load(server, users))]
            variants = [{"name": "control", "weight": 0.5, "value": "itemknn"}]
            share = 0.5 / len(ARMS)
            variants += [{"name": arm, "weight": share, "value": arm} for arm in ARMS]
            service_experiments.create(service, {"key": "bench-recs", "variants": variants})
            deadline = time.monotonic() + 600
            while server.recommend(users[0], 10, log_impression=False).experiment is None:
                assert time.monotonic() < deadline, server.arm_details()
                time.sleep(0.2)
            rows.append((f"itemknn + {' + '.join(ARMS)}", _retrain_under_load(server, users)))
        finally:
            stop_recs(service)
            service_experiments.stop_experiments(service)
            service.stop()
    print(f"{args.users} users, 300 items, {events} events; serving itemknn; one request thread\n")
    print("| experiment arms | retrain s | requests during it | not enrolled | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        unenrolled = "—" if name == "none" else str(r["unenrolled"])
        print(
            f"| {name} | {r['seconds']:.1f} | {r['requests']:.0f} | {unenrolled} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} |"
        )


if __name__ == "__main__":
    main()
