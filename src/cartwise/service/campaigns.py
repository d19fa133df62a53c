"""Campaigns inside the running service: broadcasts, tracking and unsubscribes through the gate.

The sender takes the service's gate (the store's single writer) only for its short database
steps, so collection and reads go on while messages are delivered.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from cartwise.pipelines import campaign_results, campaigns

if TYPE_CHECKING:
    from cartwise.service.service import Service

log = logging.getLogger("cartwise.service.campaigns")
RESUME_SECONDS = 60.0
"""How often the service looks for due pending messages (held for quiet hours, or left by a crash)."""
# One sender at a time per process: a broadcast and the resumer must never deliver the same rows.
_SENDING = threading.Lock()


class CampaignSender:
    """Background thread: on start, then every `RESUME_SECONDS`, delivers due pending messages."""

    def __init__(self, service: Service, interval: float = RESUME_SECONDS) -> None:
        self.service = service
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cartwise-campaign-sender", daemon=True)

    def start(self) -> CampaignSender:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a failed round is logged; the next one tries again
                log.exception("resuming campaign sends failed")
            self._stop.wait(self.interval)

    def tick(self) -> dict[str, int]:
        gate = self.service.require_gate()
        with _SENDING:
            sent = campaigns.resume_due(gate.store, self.service.settings, access=lambda: gate)
        if sent:
            log.info("resumed campaign sends: %s", sent)
        return sent


def broadcast(
    service: Service,
    name: str,
    *,
    rule: str,
    template: str,
    channel: str = "email",
    holdout: float = 0.1,
    attribution_days: float | None = None,
) -> dict[str, Any]:
    """`cartwise campaigns send` while the server runs: same result, same send log."""
    gate = service.require_gate()
    with _SENDING:
        return campaigns.broadcast(
            gate.store,
            service.settings,
            name,
            rule=rule,
            template=template,
            channel=channel,
            holdout=holdout,
            attribution_days=attribution_days,
            access=lambda: gate,
        )


def results(service: Service) -> list[dict[str, Any]]:
    """Every campaign, measured (`pipelines.campaign_results`)."""
    with service.require_gate() as store:
        return campaign_results.campaign_results(store, service.settings)


def template_names(service: Service) -> list[str]:
    """Built-in templates and those in the `templates_dir` folder."""
    from cartwise.campaigns import Templates

    return Templates(service.settings.templates_dir).names()


def preview(service: Service, template: str, user_id: str) -> dict[str, Any]:
    with service.require_gate() as store:
        return campaigns.preview(store, service.settings, template, user_id)


def record_open(service: Service, token: str) -> None:
    with service.require_gate() as store:
        campaigns.record_open(store, token)


def record_click(service: Service, token: str) -> str:
    with service.require_gate() as store:
        return campaigns.record_click(store, token)


def unsubscribe(service: Service, token: str) -> dict[str, Any]:
    with service.require_gate() as store:
        return campaigns.unsubscribe(store, token)
