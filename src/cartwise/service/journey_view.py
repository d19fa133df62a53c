"""Journeys as the Campaigns page shows them: each journey's newest version with its steps as a
tree (per-step counts and, for sends and splits, what they earned), read under the gate.

The page's JSON twin (`/api/v1/pages/campaigns`, key `journeys`) is this list; the page's
script draws the diagram from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cartwise.pipelines import journey_results
from cartwise.pipelines import journeys as journeys_job

if TYPE_CHECKING:
    from cartwise.service.service import Service

__all__ = ["journey_overview", "step_totals"]


def step_totals(counts: dict[str, int]) -> dict[str, Any]:
    """One step's outcomes folded into what the diagram shows: `entered`, `waiting` (customers
    there now), `sent`, `skipped` by reason (send states other than sent, e.g. `skipped_no_consent`,
    `failed_permanent`, and `pending` ones held for quiet hours or a server that is down),
    `exited` (runs that ended there, any reason) and `done`."""
    skipped: dict[str, int] = {}
    exited = 0
    for outcome, n in counts.items():
        if outcome.startswith("exited"):
            exited += n
        elif outcome.startswith(("skipped", "failed")) or outcome == "pending":
            skipped[outcome] = skipped.get(outcome, 0) + n
    return {
        "entered": counts.get("entered", 0),
        "waiting": counts.get("here_now", 0),
        "sent": counts.get("sent", 0),
        "skipped": skipped,
        "exited": exited,
        "done": counts.get("done", 0),
    }


def _tree(
    steps: list[dict[str, Any]],
    counts: dict[str, dict[str, int]],
    measured: dict[str, Any],
) -> list[dict[str, Any]]:
    out = []
    for step in steps:
        node = {k: v for k, v in step.items() if k not in ("then", "else", "on_timeout", "variants")}
        node["counts"] = step_totals(counts.get(step["path"], {}))
        node["outcomes"] = counts.get(step["path"], {})
        branches: list[dict[str, Any]] = []
        if step["kind"] == "branch":
            branches = [
                {"label": "then", "steps": _tree(step["then"], counts, measured)},
                {"label": "else", "steps": _tree(step["else"], counts, measured)},
            ]
        elif step["kind"] == "wait_for":
            branches = [{"label": "on timeout", "steps": _tree(step["on_timeout"], counts, measured)}]
        elif step["kind"] == "split":
            branches = [
                {
                    "label": f"{v['variant']} ({v['weight']:g})",
                    "variant": v["variant"],
                    "steps": _tree(v["steps"], counts, measured),
                }
                for v in step["variants"]
            ]
            node["variants"] = measured["splits"].get(step["path"], [])
        elif step["kind"] == "send":
            node["measured"] = measured["sends"].get(
                step["path"], {"sent": 0, "conversions": 0, "conversion_rate": None, "revenue": 0.0}
            )
        if branches:
            node["branches"] = branches
        out.append(node)
    return out


def journey_overview(service: Service) -> list[dict[str, Any]]:
    """Every journey's newest version: `journey`, `version`, `active`, `trigger`, `exit_on`,
    `runs` by state, `definition` (the file), `attribution_days` and `steps`, a tree of nodes
    (`path`, `kind`, `line`, the step's options, `counts` from `step_totals`, raw `outcomes`,
    `branches` of sub-steps for branch, split and wait_for, `measured` for a send and `variants`
    for a split, see `pipelines.journey_results`)."""
    settings = service.settings
    out = []
    with service.require_gate() as store:
        for listed in journeys_job.list_journeys(store):
            shown = journeys_job.show_journey(store, listed["journey"])
            newest = shown["versions"][0]
            measured = journey_results.journey_results(store, settings, listed["journey"]).get(
                newest["version"], {"sends": {}, "splits": {}}
            )
            counts = {s["path"]: s["counts"] for s in newest["steps"]}
            parsed = newest["parsed"]
            out.append(
                {
                    "journey": listed["journey"],
                    "version": newest["version"],
                    "active": newest["active"],
                    "trigger": parsed["trigger"],
                    "exit_on": parsed["exit_on"],
                    "runs": listed["runs"],
                    "entered": sum(listed["runs"].values()),  # one run per entry, all versions
                    "definition": newest["definition"],
                    "attribution_days": settings.attribution_days,
                    "steps": _tree(parsed["steps"], counts, measured),
                }
            )
    return out
