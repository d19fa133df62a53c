"""Saving and deleting rule segments in the running service, for the Customers API.

A save recomputes the segment's members and adds to its size history, so it is a write:
it goes through `pipelines.profiles` behind the service's gate (the single writer), here
rather than in `pages`, whose modules only read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cartwise.core.errors import InputError
from cartwise.pipelines import profiles as profiles_job
from cartwise.profiles import RFM_SEGMENTS, check_segment_rule, segment_count

if TYPE_CHECKING:
    from cartwise.service.service import Service

RFM_NAMES = frozenset(name for name, _, _ in RFM_SEGMENTS)


def save_rule_segment(service: Service, name: str, rule: str, description: str = "") -> dict[str, Any]:
    """Save (or replace) segment `name`; returns its size and whether it replaced one."""
    clean = name.strip()
    if not clean:
        raise InputError("`name` is empty; give the segment a name such as `lapsing-vips`.")
    if clean in RFM_NAMES:
        raise InputError(
            f"`name` {clean!r} is an RFM segment's name; choose another name for a saved segment."
        )
    if "/" in clean:
        raise InputError(f"`name` {clean!r} contains `/`; use letters, digits, spaces, - or _.")
    with service.require_gate() as store:
        segment_count(store, check_segment_rule(rule))  # the live count's checks and messages
        existed = store.con.execute("SELECT count(*) FROM segments WHERE name = ?", [clean]).fetchall()[0][0]
        saved = profiles_job.save_segment(store, clean, rule, description)
    return {**saved, "description": description, "replaced": bool(existed)}


def delete_rule_segment(service: Service, name: str) -> dict[str, Any]:
    """Delete saved segment `name` with its members and history (NotFoundError naming it)."""
    with service.require_gate() as store:
        profiles_job.delete_segment(store, name)
    return {"name": name, "deleted": True}
