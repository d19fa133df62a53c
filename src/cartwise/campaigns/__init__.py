"""Campaigns: what to send and to whom, and the rules every send obeys.

Channels (a registry with `email` and `webhook`), templates (sandboxed Jinja2, built-ins and
files), guards (consent, suppression, frequency caps, quiet hours), message identities and the
deterministic holdout. Nothing here opens the store or talks to the service: the pipelines and
the service give it rows and act on its answers.
"""

from cartwise.campaigns._builtin_templates import TEMPLATE_NAMES
from cartwise.campaigns._channels import (
    CHANNELS,
    Channel,
    EmailChannel,
    Message,
    Outcome,
    WebhookChannel,
    make_channel,
    register_channel,
    webhook_signature,
)
from cartwise.campaigns._guards import (
    Cap,
    Customer,
    Decision,
    decide,
    parse_cap,
    parse_quiet_hours,
    quiet_until,
    time_zone_of,
)
from cartwise.campaigns._identity import MessageIdentity, in_holdout, sign, verify
from cartwise.campaigns._templates import Rendered, TemplateFailed, Templates

__all__ = [
    "CHANNELS",
    "TEMPLATE_NAMES",
    "Cap",
    "Channel",
    "Customer",
    "Decision",
    "EmailChannel",
    "Message",
    "MessageIdentity",
    "Outcome",
    "Rendered",
    "TemplateFailed",
    "Templates",
    "WebhookChannel",
    "decide",
    "in_holdout",
    "make_channel",
    "parse_cap",
    "parse_quiet_hours",
    "quiet_until",
    "register_channel",
    "sign",
    "time_zone_of",
    "verify",
    "webhook_signature",
]
