"""`cartwise campaigns`: broadcasts with a holdout, their results, and message previews."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cartwise.cli.common import db_option, emit, json_option, settings_for
from cartwise.core.durations import format_duration
from cartwise.pipelines.stores import opened


@click.group()
def campaigns() -> None:
    """Broadcasts to an audience with a random holdout, sent exactly once, and measured."""


def _summary(r: dict[str, Any]) -> str:
    skipped = ", ".join(f"{k} {v:,}" for k, v in r["skipped"].items()) or "none"
    lines = [
        f"Campaign {r['campaign']}: audience {r['audience']:,}, holdout {r['holdout']:,}, sent {r['sent']:,}",
        f"skipped: {skipped}",
    ]
    if r.get("failed"):
        lines.append("failed: " + ", ".join(f"{k} {v:,}" for k, v in r["failed"].items()))
    if r.get("held"):
        lines.append(
            f"held for quiet hours: {r['held']:,} (re-run the command, or let `cartwise serve` send them)"
        )
    return "\n".join(lines)


@campaigns.command("send")
@click.argument("name")
@click.option(
    "--rule",
    required=True,
    help="Audience: a rule over profiles, e.g. 'p_alive < 0.3 and email_consent == true'.",
)
@click.option(
    "--template",
    required=True,
    help="Template name, e.g. win_back, newsletter (or a file in `templates_dir`).",
)
@click.option("--channel", default="email", show_default=True, help="Channel: email or webhook.")
@click.option(
    "--holdout",
    type=float,
    default=0.1,
    show_default=True,
    help="Share of the audience that gets nothing and is measured.",
)
@click.option(
    "--attribution-days",
    type=float,
    default=None,
    help="Days after the send in which an order counts as the campaign's conversion; kept with "
    "the campaign [default: the `attribution_days` setting when it starts].",
)
@db_option
@json_option
def send(
    name: str,
    rule: str,
    template: str,
    channel: str,
    holdout: float,
    attribution_days: float | None,
    db: Path | None,
    as_json: bool,
) -> None:
    """Send campaign NAME to everyone RULE matches but the holdout; re-running NAME resumes it
    and sends nobody a second message."""
    settings = settings_for(db)
    with opened(settings, create=False) as store:
        from cartwise.pipelines.campaigns import broadcast

        def paused(reason: str, seconds: float) -> None:
            click.echo(f"Paused: {reason}; retrying in {format_duration(seconds)}.", err=True)

        result = broadcast(
            store,
            settings,
            name,
            rule=rule,
            template=template,
            channel=channel,
            holdout=holdout,
            attribution_days=attribution_days,
            on_pause=paused,
        )
    emit(result, as_json, _summary)


@campaigns.command("list")
@db_option
@json_option
def list_(db: Path | None, as_json: bool) -> None:
    """Campaigns with audience, sends, skips, opens, clicks, conversions and incremental revenue."""
    settings = settings_for(db)
    with opened(settings, create=False) as store:
        from cartwise.pipelines.campaign_results import campaign_results

        result = {"campaigns": campaign_results(store, settings)}
    emit(result, as_json, lambda r: "\n\n".join(_summary(c) for c in r["campaigns"]) or "No campaigns yet.")


@campaigns.command("preview")
@click.argument("template")
@click.option("--user", "user_id", required=True, help="The customer to render the message for.")
@db_option
@json_option
def preview(template: str, user_id: str, db: Path | None, as_json: bool) -> None:
    """Render TEMPLATE for one customer (subject, HTML and text)."""
    settings = settings_for(db)
    with opened(settings, read_only=True) as store:
        from cartwise.pipelines.campaigns import preview as render

        result = render(store, settings, template, user_id)
    emit(result, as_json, lambda r: f"Subject: {r['subject']}\n\n{r['text']}")
