"""`cartwise profiles` and `cartwise segments`: customer profiles, predictions and saved segments."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from cartwise.cli.common import db_option, emit, json_option, progress, settings_for
from cartwise.pipelines.stores import opened


@click.group()
def profiles() -> None:
    """Customer profiles: RFM, segments, clusters, lifetime value and P(alive)."""


@profiles.command("build")
@click.option(
    "--as-of",
    type=click.DateTime(),
    default=None,
    help="Build as of this time [default: the latest event or order].",
)
@click.option("--no-clusters", is_flag=True, help="Skip behavioural clustering.")
@db_option
@json_option
def build(as_of: datetime | None, no_clusters: bool, db: Path | None, as_json: bool) -> None:
    """Rebuild every profile, its predictions and cluster, and the members of saved segments."""
    with opened(settings_for(db), create=False) as store, progress("Building profiles", not as_json):
        from cartwise.pipelines.profiles import refresh_profiles  # scikit-learn: only when building

        report = refresh_profiles(store, as_of, clusters=not no_clusters)
    emit(report, as_json)


@profiles.command("show")
@click.argument("user_id")
@db_option
@json_option
def show(user_id: str, db: Path | None, as_json: bool) -> None:
    """One customer's profile."""
    with opened(settings_for(db), read_only=True) as store:
        from cartwise.pipelines.profiles import profile_of

        profile = profile_of(store, user_id)
    emit(profile, as_json)


@click.group()
def segments() -> None:
    """Saved customer segments: rules over profile fields, recomputed on every profile build."""


@segments.command("list")
@db_option
@json_option
def list_(db: Path | None, as_json: bool) -> None:
    """Saved segments with their size and size history."""
    with opened(settings_for(db), create=False) as store:
        from cartwise.pipelines.profiles import list_segments

        result = list_segments(store)
    emit(
        {"segments": result},
        as_json,
        lambda r: (
            "\n".join(f"{s['name']}: {s['size']:,}  ({s['rule']})" for s in r["segments"])
            or "No segments saved."
        ),
    )


@segments.command("count")
@click.option("--rule", required=True, help="A rule, e.g. 'p_alive < 0.3 and clv_12m > 200'.")
@db_option
@json_option
def count(rule: str, db: Path | None, as_json: bool) -> None:
    """How many customers match RULE now."""
    with opened(settings_for(db), create=False) as store:
        from cartwise.pipelines.profiles import segment_count

        emit({"rule": rule, "size": segment_count(store, rule)}, as_json)


@segments.command("save")
@click.argument("name")
@click.option(
    "--rule",
    required=True,
    help="A rule over profile fields, e.g. 'rfm_segment in [\"At risk\"] and email_consent == true'.",
)
@click.option("--description", default="", help="What the segment is for.")
@db_option
@json_option
def save(name: str, rule: str, description: str, db: Path | None, as_json: bool) -> None:
    """Save segment NAME (replacing one of that name)."""
    with opened(settings_for(db), create=False) as store:
        from cartwise.pipelines.profiles import save_segment

        emit(save_segment(store, name, rule, description), as_json)


@segments.command("delete")
@click.argument("name")
@db_option
@json_option
def delete(name: str, db: Path | None, as_json: bool) -> None:
    """Delete segment NAME."""
    with opened(settings_for(db), create=False) as store:
        from cartwise.pipelines.profiles import delete_segment

        delete_segment(store, name)
    emit({"deleted": name}, as_json)


@segments.command("members")
@click.argument("name")
@db_option
@json_option
def members(name: str, db: Path | None, as_json: bool) -> None:
    """The user ids in segment NAME."""
    with opened(settings_for(db), create=False) as store:
        from cartwise.pipelines.profiles import segment_members

        ids = segment_members(store, name)
    emit({"segment": name, "users": ids}, as_json, lambda r: "\n".join(r["users"]))
