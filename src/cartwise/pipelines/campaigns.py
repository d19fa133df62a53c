"""Broadcasts over a store: audience from a rule, deterministic holdout, the outbox, delivery.

`broadcast` is what `cartwise campaigns send` and `POST /api/v1/campaigns` run. The first run
of a NAME evaluates the rule over `profiles`, records every member with its holdout draw and
writes one `pending` send-log row per recipient in one transaction; any run (the first or a
re-run after a crash) then delivers the rows still pending. Re-running with the same NAME and
flags resumes; different flags for an existing NAME are refused.

A campaign keeps the attribution window it was started with (`campaigns.attribution_days`,
the `attribution_days` setting unless given): its results and its uplift model measure orders
over that window, whatever the setting says later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

import pyarrow as pa

from cartwise.campaigns import CHANNELS, MessageIdentity, Templates, in_holdout, verify
from cartwise.core.errors import ConfigError, InputError, NotFoundError
from cartwise.core.settings import Settings
from cartwise.pipelines.choices import PAST_CAMPAIGN
from cartwise.pipelines.sender import ContextFor, Sender, SendReport, insert_pending, link_secret, now_utc
from cartwise.profiles import rule_filter
from cartwise.store import Store

STEP = "send"  # a broadcast's single step


def _validate(
    settings: Settings, name: str, template: str, channel: str, holdout: float, attribution_days: float | None
) -> None:
    if not name.strip():
        raise ConfigError("the campaign needs a name, e.g. `spring-win-back`.", parameter="name")
    if not 0 <= holdout < 1:
        raise ConfigError(f"{holdout} must be at least 0 and below 1, e.g. 0.1 for 10%.", parameter="holdout")
    if channel not in CHANNELS:
        raise ConfigError(
            f"{channel!r} is not a channel; use one of {', '.join(sorted(CHANNELS))}.", parameter="channel"
        )
    if attribution_days is not None and not 0 < attribution_days <= 365:  # NaN fails too
        raise ConfigError(
            f"{attribution_days} days is not an attribution window; give more than 0 and at most 365, e.g. 5.",
            parameter="attribution_days",
        )
    Templates(settings.templates_dir).check(template)


def audience(store: Store, rule: str) -> list[str]:
    """User ids in `profiles` matching `rule` (the profiles package's rule language), sorted."""
    if not store.has_table("profiles"):
        raise NotFoundError(
            "No profiles yet; run `cartwise profiles build` first (audiences are rules over them)."
        )
    profiles = store.ibis().table("profiles")
    ids = profiles.filter(rule_filter(profiles, rule)).select("user_id").to_pyarrow()
    return sorted(str(u) for u in ids.column("user_id").to_pylist())


_INSERT_CAMPAIGN = """INSERT INTO campaigns (name, rule, template, channel, holdout, created_at,
    started_at, finished_at, attribution_days) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""


def _start(
    store: Store,
    name: str,
    rule: str,
    template: str,
    channel: str,
    holdout: float,
    attribution_days: float,
    now: datetime,
) -> None:
    """Record the campaign, its members and holdout, and its pending rows, all at once."""
    members = audience(store, rule)
    held = [in_holdout(name, u, holdout) for u in members]
    recipients = [MessageIdentity(name, STEP, u) for u, h in zip(members, held, strict=True) if not h]
    with store.transaction() as con:
        con.execute(
            _INSERT_CAMPAIGN, [name, rule, template, channel, holdout, now, now, None, attribution_days]
        )
        store.append(
            "campaign_members",
            pa.table({"campaign": [name] * len(members), "user_id": members, "holdout": held}),
        )
        insert_pending(store, recipients, channel, template)


def broadcast(
    store: Store,
    settings: Settings,
    name: str,
    *,
    rule: str,
    template: str,
    channel: str = "email",
    holdout: float = 0.1,
    attribution_days: float | None = None,
    access: Callable[[], AbstractContextManager[Store]] | None = None,
    context_for: ContextFor | None = None,
    on_pause: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Send (or resume sending) campaign `name`; returns `{"campaign", "audience", "holdout",
    "sent", "skipped": {reason: count}}` over the whole campaign, plus `failed` and `held`.

    `attribution_days` (default: the setting) is the campaign's measuring window, kept with it;
    resuming without it keeps the one it started with."""
    _validate(settings, name, template, channel, holdout, attribution_days)
    gate = access or (lambda: nullcontext(store))
    with gate() as s:
        existing = s.con.execute(
            "SELECT rule, template, channel, holdout, attribution_days FROM campaigns WHERE name = ?", [name]
        ).fetchall()
        if existing:
            for parameter, given, kept in zip(
                ("rule", "template", "channel", "holdout", "attribution_days"),
                (rule, template, channel, holdout, attribution_days),
                existing[0],
                strict=True,
            ):
                if given != kept and not (parameter == "attribution_days" and given is None):
                    if kept is None:  # the window of a campaign started before campaigns kept one
                        raise ConfigError(
                            f"campaign {name!r} was started before campaigns kept their own attribution "
                            "window, and is measured over the `attribution_days` setting; resume it "
                            "without one, or choose a new campaign name.",
                            parameter=parameter,
                        )
                    raise ConfigError(
                        f"campaign {name!r} was started with {kept!r}, not {given!r}; give the same value "
                        "to resume it, or choose a new campaign name.",
                        parameter=parameter,
                    )
        else:
            days = settings.attribution_days if attribution_days is None else attribution_days
            _start(s, name, rule, template, channel, holdout, days, now_utc())
    if context_for is None:
        context_for = recommendations_context(store, settings, gate)
    with Sender(store, settings, access=gate, context_for=context_for, on_pause=on_pause) as sender:
        run: SendReport = sender.deliver_pending(name)
    with gate() as s:
        s.con.execute(
            """UPDATE campaigns SET finished_at = ? WHERE name = ? AND finished_at IS NULL AND NOT EXISTS
            (SELECT 1 FROM send_log WHERE source = ? AND state IN ('pending', 'failed_temporary'))""",
            [now_utc(), name, name],
        )
        summary = campaign_counts(s, name)
    summary["held"] = run.held
    return summary


def campaign_counts(store: Store, name: str) -> dict[str, Any]:
    """The contract's counts for campaign `name`, from the members and the send log."""
    members = store.con.execute(
        "SELECT count(*), count(*) FILTER (WHERE holdout) FROM campaign_members WHERE campaign = ?", [name]
    ).fetchall()[0]
    states = dict(
        store.con.execute(
            "SELECT state, count(*) FROM send_log WHERE source = ? GROUP BY state", [name]
        ).fetchall()
    )
    skipped = {k.split(":", 1)[1]: int(v) for k, v in sorted(states.items()) if k.startswith("skipped:")}
    failed = {k: int(v) for k, v in sorted(states.items()) if k.startswith("failed")}
    return {
        "campaign": name,
        "audience": int(members[0]),
        "holdout": int(members[1]),
        "sent": int(states.get("sent", 0)),
        "skipped": skipped,
        "failed": failed,
        "pending": int(states.get("pending", 0)),
    }


def recommendations_context(
    store: Store, settings: Settings, gate: Callable[[], AbstractContextManager[Store]]
) -> ContextFor | None:
    """Each reader's recommendations from the saved recommender artefacts, when a store has them
    (see `cartwise recs`); None otherwise, and templates then show no recommendations."""
    from cartwise.pipelines import recs_context

    return recs_context.for_store(store, settings, gate)


# -- previews ------------------------------------------------------------------------------------
def preview(
    store: Store, settings: Settings, template: str, user_id: str, context: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What `template` renders for `user_id` (links point at the service but record nothing)."""
    Templates(settings.templates_dir).check(template)
    row = store.con.execute("SELECT email, country FROM users WHERE user_id = ?", [user_id]).fetchall()
    if not row:
        raise NotFoundError(f"No customer {user_id!r} in the users table; check the id.")
    extra: dict[str, Any] = dict(context or {})
    if not extra:
        provider = recommendations_context(store, settings, lambda: nullcontext(store))
        if provider is not None:
            extra = dict(provider([user_id]).get(user_id, {}))
    base = settings.public_url.rstrip("/")
    values = {
        "customer": {"user_id": user_id, "email": row[0][0], "country": row[0][1]},
        "items": [],
        "recommendations": [],
        "shop_url": base + "/",
        "unsubscribe_url": base + "/api/v1/campaigns/unsubscribe/preview",
        **extra,
    }
    rendered = Templates(settings.templates_dir).render(template, values)
    return {
        "template": template,
        "user_id": user_id,
        "subject": rendered.subject,
        "html": rendered.html,
        "text": rendered.text,
    }


# -- what customers do with a message ------------------------------------------------------------
def _message(store: Store, key: str) -> tuple[str, str, str]:
    row = store.con.execute(
        "SELECT source, user_id, channel FROM send_log WHERE message_key = ?", [key]
    ).fetchall()
    if not row:
        raise NotFoundError("The link names no message this shop sent.")
    return str(row[0][0]), str(row[0][1]), str(row[0][2])


def _record(store: Store, key: str, kind: str, url: str | None = None) -> tuple[str, str, str]:
    source, user_id, channel = _message(store, key)
    store.con.execute(
        "INSERT INTO message_events VALUES (?, ?, ?, ?, ?, ?)", [now_utc(), key, source, user_id, kind, url]
    )
    return source, user_id, channel


def record_open(store: Store, token: str) -> None:
    """The pixel was loaded: record an open (every load; measurement counts distinct messages)."""
    parts = verify(link_secret(store), token.removesuffix(".gif"))
    if parts[0] != "o":
        raise InputError("The link's token is not an open pixel's.")
    _record(store, parts[1], "open")


def record_click(store: Store, token: str) -> str:
    """A tracked link was followed: record the click and return the URL to redirect to."""
    parts = verify(link_secret(store), token)
    if parts[0] != "c":
        raise InputError("The link's token is not a click link's.")
    _record(store, parts[1], "click", parts[2])
    return parts[2]


def unsubscribe(store: Store, token: str) -> dict[str, Any]:
    """Withdraw the customer's consent for the message's channel at once (one-click, RFC 8058)."""
    parts = verify(link_secret(store), token)
    if parts[0] != "u":
        raise InputError("The link's token is not an unsubscribe link's.")
    key = parts[1]
    _source, user_id, channel = _message(store, key)
    column = {"email": "email_consent", "webhook": "sms_consent"}[channel]
    now = now_utc()
    with store.transaction() as con:
        con.execute(f"UPDATE users SET {column} = false, {column}_at = ? WHERE user_id = ?", [now, user_id])
        con.execute(
            "INSERT INTO message_events SELECT ?, ?, source, user_id, 'unsubscribe', NULL FROM send_log WHERE message_key = ?",
            [now, key, key],
        )
    return {"user_id": user_id, "channel": channel, "unsubscribed_at": now.isoformat()}


def campaign_window(store: Store, name: str) -> float | None:
    """The attribution window (days) campaign `name` was started with; None for a campaign
    started before campaigns kept one, or no such campaign."""
    found = store.con.execute("SELECT attribution_days FROM campaigns WHERE name = ?", [name]).fetchall()
    return found[0][0] if found else None


# -- the demo's past campaign ---------------------------------------------------------------------
def register_past_campaign(store: Store, truth: pa.Table) -> int:
    """Record the simulator's past randomised campaign (`truth_campaign`) as a finished broadcast
    named `demo-past-campaign`: its members with their holdout draw, and one `sent` send-log row
    per recipient at the simulated send time. Its attribution window is the simulator's outcome
    window, the one its true effect is known for. Returns the recipients. Call inside a
    transaction."""
    frame = truth.select(["user_id", "treated", "sent_at", "window_days"]).to_pylist()
    if not frame:
        return 0
    sent_at = max(r["sent_at"] for r in frame if r["sent_at"] is not None)
    holdout = sum(1 for r in frame if not r["treated"]) / len(frame)
    window = max(r["window_days"] for r in frame)
    rule = "email_consent == true and orders >= 1"
    store.con.execute(
        _INSERT_CAMPAIGN,
        [PAST_CAMPAIGN, rule, "newsletter", "email", holdout, sent_at, sent_at, sent_at, window],
    )
    store.append(
        "campaign_members",
        pa.table(
            {
                "campaign": [PAST_CAMPAIGN] * len(frame),
                "user_id": [r["user_id"] for r in frame],
                "holdout": [not r["treated"] for r in frame],
            }
        ),
    )
    recipients = [MessageIdentity(PAST_CAMPAIGN, STEP, r["user_id"]) for r in frame if r["treated"]]
    insert_pending(store, recipients, "email", "newsletter")
    store.con.execute(
        """UPDATE send_log SET state = 'sent', attempts = 1, sent_at = ?, created_at = ?, updated_at = ?,
            address = (SELECT email FROM users WHERE users.user_id = send_log.user_id)
        WHERE source = ?""",
        [sent_at, sent_at, sent_at, PAST_CAMPAIGN],
    )
    return len(recipients)


def resume_due(
    store: Store,
    settings: Settings,
    *,
    access: Callable[[], AbstractContextManager[Store]] | None = None,
) -> dict[str, int]:
    """Deliver the due pending rows of every campaign (left by a crash, or held for quiet
    hours until now); returns messages sent per campaign. The service runs this on start and
    then every minute."""
    gate = access or (lambda: nullcontext(store))
    with gate() as s:
        sources = [
            r[0]
            for r in s.con.execute(
                """SELECT DISTINCT source FROM send_log WHERE state IN ('pending', 'failed_temporary')
                AND (not_before IS NULL OR not_before <= ?) AND source IN (SELECT name FROM campaigns)
                ORDER BY source""",
                [now_utc()],
            ).fetchall()
        ]
    sent: dict[str, int] = {}
    if not sources:
        return sent
    context_for = recommendations_context(store, settings, gate)
    with Sender(store, settings, access=gate, context_for=context_for) as sender:
        for source in sources:
            sent[source] = sender.deliver_pending(source).sent
    return sent
