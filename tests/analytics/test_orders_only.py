"""A store loaded from a transaction log alone has analytics (issue 24.14): revenue, orders,
AOV, new and returning customers, repeat rate and first-purchase retention come from the
orders; visitors, sessions and conversion need events and say so (null, not 0). When events
and orders both exist, a log of the same orders gives the same order measures."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from cartwise.core.errors import InputError
from cartwise.core.settings import get_settings
from cartwise.ingest import LoadOptions, ingest_file
from cartwise.pages.analytics import kpis_view, retention_view
from cartwise.pipelines.analytics import Source, run_funnel, run_kpis, run_retention
from cartwise.pipelines.demo import build_demo
from cartwise.simulate import ShopConfig
from cartwise.store import Store, open_store

CDNOW = Path(__file__).resolve().parents[1] / "predict" / "fixtures" / "cdnow_transactions_250.txt"
ORDER_MEASURES = ["revenue", "orders", "units", "aov", "customers", "new_customers", "returning_customers"]


def _open(db: Path) -> Store:
    return open_store(db, settings=get_settings(db=db, threads=1, memory_limit="512MB"))


@pytest.fixture(scope="module")
def cdnow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("cdnow") / "log.duckdb"
    with _open(db) as store:
        ingest_file(store, "transactions", CDNOW, LoadOptions(format="cdnow"))
    return db


def _log() -> pd.DataFrame:
    rows = [line.split() for line in CDNOW.read_text().splitlines()]
    log = pd.DataFrame(rows, columns=["user", "index", "date", "cds", "amount"])
    log["month"] = pd.to_datetime(log.date, format="%Y%m%d").dt.to_period("M")
    return log.astype({"cds": int, "amount": float})


def test_monthly_kpis_of_a_transaction_log_alone(cdnow_db: Path) -> None:
    result = run_kpis(Source(db=cdnow_db), "month")
    periods = {str(p["period_start"])[:7]: p for p in result["periods"]}
    log = _log()
    assert len(periods) == log.month.nunique() == 18
    first_month = log.groupby("user").month.min()
    for month, rows in log.groupby("month"):
        p = periods[str(month)]
        assert p["revenue"] == pytest.approx(rows.amount.sum())
        assert p["orders"] == len(rows) and p["units"] == rows.cds.sum()
        assert p["aov"] == pytest.approx(rows.amount.mean())
        buyers = set(rows.user)
        new = {u for u in buyers if first_month[u] == month}
        assert (p["customers"], p["new_customers"], p["returning_customers"]) == (
            len(buyers),
            len(new),
            len(buyers - new),
        )
        # visits and sessions need events: null, not a zero that reads as "nobody came"
        assert p["visitors"] is None and p["sessions"] is None and p["conversion_rate"] is None
    assert result["needs_events"] == [
        "visitors",
        "sessions",
        "converting_sessions",
        "conversion_rate",
        "revenue_per_visitor",
    ]
    # every customer of this sample first bought in January 1997; 43 of the 250 came back in February
    assert periods["1997-02"]["returning_customers"] == 43
    assert periods["1997-01"]["repeat_purchase_rate"] > 0


def test_first_purchase_retention_of_a_transaction_log_alone(cdnow_db: Path) -> None:
    cells = run_retention(Source(db=cdnow_db), "month", activity="purchase")["cells"]
    log = _log()
    cohort = log.groupby("user").month.transform("min")
    log["period"] = (log.month - cohort).apply(lambda d: d.n)
    first = [c for c in cells if str(c["cohort_start"])[:7] == "1997-01"]
    assert first[0]["cohort_users"] == log.user.nunique() == 250
    for cell in first[:12]:
        active = log[log.period == cell["period"]].user.nunique()
        assert cell["active_users"] == active
        assert cell["retention"] == pytest.approx(active / 250)


def test_the_analytics_page_reads_the_same_functions(cdnow_db: Path) -> None:
    with open_store(cdnow_db, read_only=True) as store:
        view = kpis_view(store, "month")
        cohorts = retention_view(store, "month")
    assert view["last_event"] is None and view["last_data"].startswith("1998-06")
    # the log stops before June ends: the tiles show May, the last complete month
    assert view["tiles"]["period_start"] == "1998-05-01" and not view["tiles"]["partial"]
    tiles = {t["kpi"]: t for t in view["tiles"]["kpis"]}
    assert tiles["orders"]["value"] == 16 and tiles["visitors"]["value"] is None
    assert "visitors" in view["needs_events"]
    assert cohorts["cohorts"][0]["cohort_users"] == 250 and cohorts["cohorts"][0]["retention"][0] == 1.0


@pytest.fixture(scope="module")
def shops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A simulated shop (events, orders derived from them) and a store of its orders alone,
    loaded back as a transaction log."""
    root = tmp_path_factory.mktemp("both")
    with _open(root / "events.duckdb") as store:
        build_demo(store, ShopConfig(seed=5, users=300, items=60, days=75))
        orders = store.con.execute("SELECT order_id, user_id, ts, amount FROM orders ORDER BY ts").fetchall()
    log = root / "orders.csv"
    with log.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "user_id", "ts", "amount"])
        writer.writerows((o, u, t.isoformat() + "Z", repr(a)) for o, u, t, a in orders)
    with _open(root / "orders.duckdb") as store:
        ingest_file(store, "transactions", log, LoadOptions())
    yield root / "events.duckdb", root / "orders.duckdb"


@pytest.mark.parametrize("by", ["week", "month"])
def test_order_measures_from_a_log_agree_with_the_events(shops: tuple[Path, Path], by: str) -> None:
    events_db, orders_db = shops
    from_events = pd.DataFrame(run_kpis(Source(db=events_db), by)["periods"]).set_index("period_start")
    from_log = pd.DataFrame(run_kpis(Source(db=orders_db), by)["periods"]).set_index("period_start")
    measures = [m for m in ORDER_MEASURES if m != "units"] + ["repeat_purchase_rate"]
    assert from_events.orders.sum() > 100
    pd.testing.assert_frame_equal(
        from_log.loc[from_events.index, measures], from_events[measures], check_dtype=False, rtol=1e-9
    )
    assert from_events.visitors.notna().all() and from_log.visitors.isna().all()


def test_retention_from_a_log_agrees_with_the_events(shops: tuple[Path, Path]) -> None:
    events_db, orders_db = shops
    kwargs = {"activity": "purchase"}
    from_events = pd.DataFrame(run_retention(Source(db=events_db), "week", **kwargs)["cells"])
    from_log = pd.DataFrame(run_retention(Source(db=orders_db), "week", **kwargs)["cells"])
    columns = ["cohort_start", "period", "cohort_users", "active_users", "retention", "revenue"]
    pd.testing.assert_frame_equal(from_log[columns], from_events[columns], check_dtype=False, rtol=1e-9)


def test_a_store_with_events_keeps_its_figures_when_a_log_is_added_elsewhere(
    shops: tuple[Path, Path],
) -> None:
    """Orders derived from events are not counted twice: the events already hold them."""
    events_db, _ = shops
    with open_store(events_db, read_only=True) as store:
        total = store.con.execute("SELECT sum(amount), count(*) FROM orders").fetchone()
    periods = run_kpis(Source(db=events_db), "month")["periods"]
    assert total is not None
    assert sum(p["revenue"] for p in periods) == pytest.approx(total[0])
    assert sum(p["orders"] for p in periods) == total[1]


def test_a_funnel_of_a_transaction_log_alone_says_it_needs_events(cdnow_db: Path) -> None:
    with pytest.raises(InputError, match="A funnel needs events, and this store has none"):
        run_funnel(Source(db=cdnow_db), "view,add_to_cart,purchase")


def test_a_log_beside_events_nulls_visits_only_where_there_are_no_events(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "ts,user_id,type,item_id,price\n1998-06-10T10:00:00Z,u1,view,i1,\n1998-06-10T10:05:00Z,u1,purchase,i1,5.0\n"
    )
    with _open(tmp_path / "mixed.duckdb") as store:
        ingest_file(store, "transactions", CDNOW, LoadOptions(format="cdnow"))
        ingest_file(store, "events", events, LoadOptions())
    periods = run_kpis(Source(db=tmp_path / "mixed.duckdb"), "month")["periods"]
    june, may = periods[-1], periods[-2]
    assert (june["visitors"], june["sessions"], june["converting_sessions"]) == (1, 1, 1)
    assert june["orders"] == 14 + 1 and june["revenue"] == pytest.approx(505.87 + 5.0)
    assert may["visitors"] is None and may["orders"] == 16
