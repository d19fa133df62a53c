"""Campaigns: what to send and to whom, and the rules every send obeys.

Channels (a registry with `email` and `webhook`), templates (sandboxed Jinja2, built-ins and
files), guards (consent, suppression, frequency caps, quiet hours), message identities and the
deterministic holdout. Nothing here opens the store or talks to the service: the pipelines and
the service give it rows and act on its answers.
"""

from cartwise.campaigns._builtin_journeys import BUILTIN_AUDIENCES, builtin_journey, builtin_journey_names
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
from cartwise.campaigns._journeys import (
    Branch,
    Exit,
    Journey,
    JourneyError,
    Send,
    Split,
    Step,
    Trigger,
    Variant,
    Wait,
    WaitFor,
    canonical_text,
    choose_variant,
    journey_dict,
    parse_duration,
    parse_journey,
    step_kind,
)
from cartwise.campaigns._templates import Rendered, TemplateFailed, Templates

__all__ = [
    "BUILTIN_AUDIENCES",
    "CHANNELS",
    "TEMPLATE_NAMES",
    "Branch",
    "Cap",
    "Channel",
    "Customer",
    "Decision",
    "EmailChannel",
    "Exit",
    "Journey",
    "JourneyError",
    "Message",
    "MessageIdentity",
    "Outcome",
    "Rendered",
    "Send",
    "Split",
    "Step",
    "TemplateFailed",
    "Templates",
    "Trigger",
    "Variant",
    "Wait",
    "WaitFor",
    "WebhookChannel",
    "builtin_journey",
    "builtin_journey_names",
    "canonical_text",
    "choose_variant",
    "decide",
    "in_holdout",
    "journey_dict",
    "make_channel",
    "parse_cap",
    "parse_duration",
    "parse_journey",
    "parse_quiet_hours",
    "quiet_until",
    "register_channel",
    "sign",
    "step_kind",
    "time_zone_of",
    "verify",
    "webhook_signature",
]
