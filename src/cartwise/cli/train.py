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
    """Rebuild profiles (RFM, CLV, P(alive), clusters, segments) and retrain the recommender."""
    with opened(settings_for(db), create=False) as store, progress("Training", not as_json) as update:
        from cartwise.pipelines.train import train_all  # scikit-learn, LightGBM: only when training

        report = train_all(store, progress=update)
    emit(report, as_json)
