"""`cartwise experiments create|list|show|stop` and `analyze KEY --db` on a real store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartwise.cli import main
from cartwise.experiments import assign, make_experiment, parse_variants
from cartwise.pipelines import experiments as px
from cartwise.store import open_store


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def test_create_list_show_analyze_stop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "shop.duckdb")
    open_store(db).close()
    code, out, err = run(
        capsys, "experiments", "create", "hero", "--variants", "control:0.5,big:0.5", "--db", db, "--json"
    )
    assert code == 0, err
    assert json.loads(out)["exposed"] == {"control": 0, "big": 0}
    code, _, err = run(capsys, "experiments", "create", "bad", "--variants", "a:0.5,b:0.6", "--db", db)
    assert code == 2 and "weights sum to 1.1" in err and "add up to 1" in err

    # 600 exposed users; `big` converts more often (0.3 against 0.2).
    exp = make_experiment(key="hero", variants=parse_variants("control:0.5,big:0.5"))
    t0 = datetime(2026, 2, 1)
    rng = np.random.default_rng(3)
    users = [f"u{i}" for i in range(600)]
    variants = [assign(exp, u) for u in users]
    buyers = [u for u, v in zip(users, variants, strict=True) if rng.random() < (0.3 if v == "big" else 0.2)]
    with open_store(db) as store:
        px.write_exposures(store, [("hero", u, v, t0, "api") for u, v in zip(users, variants, strict=True)])
        frame = pd.DataFrame(
            {
                "event_id": [f"e{u}" for u in buyers],
                "ts": [t0 + timedelta(days=1)] * len(buyers),
                "user_id": buyers,
                "type": "purchase",
                "revenue": 25.0,
            }
        )
        store.con.register("new_events", frame)
        store.con.execute("INSERT INTO events BY NAME SELECT * FROM new_events")

    code, out, err = run(capsys, "experiments", "analyze", "hero", "--db", db, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["experiment", "srm_p", "results"]
    conversion = next(r for r in data["results"] if r["metric"] == "conversion")
    n_big = variants.count("big")
    assert conversion["users"] == n_big
    assert conversion["mean"] == pytest.approx(
        sum(v == "big" for u, v in zip(users, variants, strict=True) if u in set(buyers)) / n_big
    )
    assert {r["metric"] for r in data["results"]} == set(px.METRICS)

    code, out, err = run(capsys, "experiments", "analyze", "hero", "--db", db, "--cuped")
    assert code == 0 and "CUPED" in out and "revenue_per_order" in out, err
    code, _, err = run(capsys, "experiments", "analyze", "--db", db)
    assert code == 2 and "KEY" in err

    code, out, _ = run(capsys, "experiments", "list", "--db", db, "--json")
    assert [e["key"] for e in json.loads(out)["experiments"]] == ["hero"]
    code, out, _ = run(capsys, "experiments", "show", "hero", "--db", db)
    assert code == 0 and "hero [running]" in out and f"big {n_big:,}" in out
    code, out, _ = run(capsys, "experiments", "stop", "hero", "--db", db, "--json")
    assert json.loads(out)["status"] == "stopped"
    code, _, err = run(capsys, "experiments", "show", "nope", "--db", db)
    assert code != 0 and "experiments list" in err
