"""The Experiments page's uplift models in a real browser: each fitted model's cross-fitted Qini
and uplift curves against purchase propensity and random targeting, from the page's JSON twin,
with data strings escaped and no inline script (the pages' CSP)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from service_support import Running, serve_shop

from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.uplift import PAST_CAMPAIGN, fit_uplift
from cartwise.pipelines.uplift_curves import load_curves, save_curves
from cartwise.simulate import ShopConfig
from cartwise.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]
HOSTILE = "<img src=x onerror=window.__pwned=1>"


def _shop(store: Store) -> None:
    build_demo(store, ShopConfig(users=2500, items=120, days=120, seed=11, campaign_days_before_end=30))
    fit_uplift(store, PAST_CAMPAIGN, learner="t")
    # A second saved model under a hostile name: every data string must reach the page as text.
    saved = load_curves(store)[0]
    curves = {
        k: v for k, v in saved.items() if k not in ("campaign", "learner", "model_version", "fitted_at")
    }
    save_curves(
        store,
        HOSTILE,
        "x",
        saved["model_version"],
        curves
        | {
            "qini_coefficient": {
                **curves["qini_coefficient"],
                "x_learner": curves["qini_coefficient"]["t_learner"],
            },
            "qini": {**curves["qini"], "x_learner": curves["qini"]["t_learner"]},
            "uplift": {**curves["uplift"], "x_learner": curves["uplift"]["t_learner"]},
        },
    )


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serve_shop(tmp_path_factory.mktemp("uplift_e2e"), _shop) as run:
        yield run


def test_uplift_curves_against_propensity_and_random(page: Any, sign_in: Any, shop_server: Running) -> None:
    with shop_server.client("read") as api:
        twin = api.get("/api/v1/pages/experiments").json()["data"]
    models = twin["uplift_models"]
    assert {m["campaign"] for m in models} == {PAST_CAMPAIGN, HOSTILE}
    demo = next(m for m in models if m["campaign"] == PAST_CAMPAIGN)
    assert set(demo["qini"]) == {"t_learner", "propensity", "random"}
    assert len(demo["share"]) == len(demo["qini"]["t_learner"]) == 101
    assert demo["qini"]["random"][-1] == demo["qini"]["t_learner"][-1]  # random ends where the model does

    sign_in(shop_server.url, "experiments")
    page.wait_for_function(
        "document.querySelectorAll('#uplift-models .uplift-chart[data-traces]').length === 2"
    )
    index = models.index(demo)
    chart = f"#uplift-models figure[data-index='{index}'] .uplift-chart"
    page.wait_for_function(
        f'document.querySelector("{chart}").data && document.querySelector("{chart}").data.length === 3'
    )
    names = page.evaluate(f'() => document.querySelector("{chart}").data.map(t => t.name)')
    assert names == ["T-learner uplift", "purchase propensity", "random"]
    plotted = page.evaluate(f'() => Array.from(document.querySelector("{chart}").data[0].y)')
    assert plotted == demo["qini"]["t_learner"]

    page.select_option("#uplift-kind", "uplift")
    page.wait_for_function(f"document.querySelector(\"{chart}\").dataset.kind === 'uplift'")
    plotted = page.evaluate(f'() => Array.from(document.querySelector("{chart}").data[0].y)')
    assert plotted == demo["uplift"]["t_learner"]

    hostile = page.locator(
        f"#uplift-models figure[data-index='{models.index(next(m for m in models if m['campaign'] == HOSTILE))}'] .uplift-campaign"
    )
    assert hostile.inner_text() == HOSTILE
    assert page.locator("#uplift-models img").count() == 0
    assert page.evaluate("() => window.__pwned === undefined")
