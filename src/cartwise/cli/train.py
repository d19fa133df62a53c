"""`cartwise train`: train what the dashboard and the API serve, from the store."""

from __future__ import annotations

from pathlib import Path

import click

from cartwise.cli.common import db_option, emit, json_option, progress, settings_for
from cartwise.pipelines.stores import opened


@click.command()
@db_option
@json_option
def train(db: Path | None, as_json: bool) -> None:
    """Rebuild profiles (RFM, CLV, P(alive), clusters, segments), uplift and the recommender.

    Uplift is fitted when the store holds a campaign with a holdout (the latest one; the demo
    shop's past e-mail), so the profiles' `uplift` field is filled.

    Exits 1 when a part failed (the report says which and why; the other parts are saved).
    """
    with opened(settings_for(db), create=False) as store, progress("Training", not as_json) as update:
        from cartwise.pipelines.train import train_all  # scikit-learn, LightGBM: only when training

        report = train_all(store, progress=update)
    emit(report, as_json)
    failed = [name for name, part in report.items() if isinstance(part, dict) and "error" in part]
    if failed:
        # The report above holds every part's figures or error; the exit code tells scripts.
        trained = [name for name in report if name not in failed]
        click.echo(
            f"Error: {len(failed)} of {len(report)} parts failed ({', '.join(failed)}); "
            f"trained: {', '.join(trained) or 'none'}.",
            err=True,
        )
        raise SystemExit(1)
