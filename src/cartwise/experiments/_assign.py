"""Deterministic assignment of units (users) to experiment variants by hashing.

A unit's position in an experiment is `u = uniform(salt, unit_id)`: the first 8 bytes of
`sha256(f"{salt}:{unit_id}")` (UTF-8) read as a big-endian integer and divided by 2**64, so
`u` is uniform on [0, 1) and the same in every process, machine and restart. The variant is the
first whose cumulative weight exceeds `u`. Changing the salt reshuffles everyone.

Mutually exclusive layers: experiments that share a `layer` each own a disjoint slice
`[layer_start, layer_end)` of `uniform(f"layer:{layer}", unit_id)`, so a unit is in at most one
of them. The global holdout (`in_global_holdout`) is a slice of `uniform("cartwise:global-holdout",
unit_id)`: those customers receive no marketing at all.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cartwise.core.errors import ConfigError

GLOBAL_HOLDOUT_SALT = "cartwise:global-holdout"
_SCALE = float(2**64)
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
Status = Literal["running", "stopped"]


def uniform(salt: str, unit_id: str) -> float:
    """`u ∈ [0, 1)`: the first 8 bytes of sha256(f"{salt}:{unit_id}") / 2**64 (see the module)."""
    digest = hashlib.sha256(f"{salt}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def pick(u: float, cumulative: Sequence[float]) -> int:
    """Index of the first cumulative weight above `u` (the last one if rounding leaves a gap)."""
    for i, edge in enumerate(cumulative):
        if u < edge:
            return i
    return len(cumulative) - 1


class Variant(BaseModel):
    """One arm of an experiment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80, description="Variant name, e.g. `control`.")
    weight: float = Field(gt=0, le=1, description="Share of the experiment's units, in (0, 1].")
    value: str | None = Field(
        None, description="What the variant means to the caller, e.g. a recommender name (`als`)."
    )


class Experiment(BaseModel):
    """An experiment definition: key, salt, weighted variants, optional layer slice and audience.

    The first variant is the control. `audience` is a segment rule over the profiles
    (`cartwise segments`' language); units outside it get no variant.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(description="Identifier in URLs: lower-case letters, digits, `-` and `_`.")
    variants: tuple[Variant, ...] = Field(description="The arms; the first is the control.")
    salt: str = Field("", description="Hashing salt; empty means the key.")
    layer: str | None = Field(None, description="Experiments in one layer never share a unit.")
    layer_start: float = Field(0.0, ge=0, le=1, description="Start of this experiment's layer slice.")
    layer_end: float = Field(1.0, ge=0, le=1, description="End of this experiment's layer slice.")
    audience: str | None = Field(None, description="Segment rule of who may enter, e.g. `orders >= 2`.")
    description: str = Field("", description="What is tested and why.")
    status: Status = Field("running", description="`running` assigns; `stopped` assigns nobody.")

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError(
                f"key {value!r} must be 1-80 lower-case letters, digits, `-` or `_`, e.g. `checkout-button`"
            )
        return value

    @property
    def hash_salt(self) -> str:
        return self.salt or self.key

    @property
    def variant_names(self) -> list[str]:
        return [v.name for v in self.variants]

    def cumulative(self) -> list[float]:
        edges, total = [], 0.0
        for v in self.variants:
            total += v.weight
            edges.append(total)
        return edges


def make_experiment(**fields: object) -> Experiment:
    """An `Experiment` from plain values, refused with the field and the fix when invalid.

    Checks beyond the types: at least two variants with distinct names, weights summing to 1
    (within 1e-6), and `layer_start < layer_end`.
    """
    try:
        exp = Experiment.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in e['loc'])}`: {e['msg']} (got {e.get('input')!r})"
            for e in exc.errors()
        )
        raise ConfigError(f"Invalid experiment: {problems}.") from None
    if len(exp.variants) < 2:
        raise ConfigError(
            f"`variants` has {len(exp.variants)} entry; an experiment needs at least two, "
            "e.g. control:0.5,treatment:0.5."
        )
    names = exp.variant_names
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"`variants` repeats {', '.join(repeated)}; give each variant a distinct name.")
    total = math.fsum(v.weight for v in exp.variants)
    if abs(total - 1) > 1e-6:
        shown = ", ".join(f"{v.name}={v.weight:g}" for v in exp.variants)
        raise ConfigError(
            f"`variants` weights sum to {total:g}, not 1 ({shown}); give shares that add up to 1, "
            "e.g. control:0.5,treatment:0.5."
        )
    if not exp.layer_start < exp.layer_end:
        raise ConfigError(
            f"`layer_start` {exp.layer_start:g} is not below `layer_end` {exp.layer_end:g}; give a "
            "slice such as 0 to 0.5."
        )
    return exp


def parse_variants(text: str) -> list[dict[str, object]]:
    """`control:0.5,treatment:0.5` (or `a,b,c` for equal shares) as variant dicts.

    A part may name a value after a second colon: `b:0.5:als`.
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ConfigError("`variants` is empty; give e.g. control:0.5,treatment:0.5.")
    out: list[dict[str, object]] = []
    for part in parts:
        name, _, rest = part.partition(":")
        weight_text, _, value = rest.partition(":")
        if weight_text:
            try:
                weight = float(weight_text)
            except ValueError:
                raise ConfigError(
                    f"`variants` part {part!r} has weight {weight_text!r}, not a number; write NAME:SHARE, "
                    "e.g. treatment:0.5."
                ) from None
        else:
            weight = 1.0 / len(parts)
        out.append({"name": name, "weight": weight, **({"value": value} if value else {})})
    return out


def layer_conflict(exp: Experiment, others: Sequence[Experiment]) -> Experiment | None:
    """A running experiment in the same layer whose slice overlaps `exp`'s, if any."""
    if exp.layer is None:
        return None
    for other in others:
        if (
            other.key != exp.key
            and other.status == "running"
            and other.layer == exp.layer
            and other.layer_start < exp.layer_end
            and exp.layer_start < other.layer_end
        ):
            return other
    return None


def assign(exp: Experiment, unit_id: str, cumulative: Sequence[float] | None = None) -> str | None:
    """The variant of `unit_id`, or None when the experiment is stopped or the unit is outside
    the layer slice. Audience targeting is the caller's (it needs the profiles)."""
    if exp.status != "running":
        return None
    if exp.layer is not None:
        u_layer = uniform(f"layer:{exp.layer}", unit_id)
        if not exp.layer_start <= u_layer < exp.layer_end:
            return None
    edges = cumulative if cumulative is not None else exp.cumulative()
    return exp.variants[pick(uniform(exp.hash_salt, unit_id), edges)].name


def in_global_holdout(user_id: str, share: float | None = None) -> bool:
    """Whether `user_id` is in the global holdout of `share` (0 to 1): receives no marketing.

    `uniform("cartwise:global-holdout", user_id) < share`; without `share`, the setting
    `global_holdout_share` (default 0: nobody is held out). Campaigns call it before sending.
    """
    if share is None:
        from cartwise.core.settings import get_settings

        share = get_settings().global_holdout_share
    if not (math.isfinite(share) and 0 <= share < 1):
        raise ConfigError(
            f"`global_holdout_share` is {share:g}; give a share in [0, 1), e.g. 0.05 for 5% of customers."
        )
    return share > 0 and uniform(GLOBAL_HOLDOUT_SALT, user_id) < share
