"""Assignment by hashing: stable, shares within sampling error, layers exclusive, bad input refused."""

from __future__ import annotations

import hashlib

import pytest
from scipy import stats

from cartwise.core.errors import ConfigError
from cartwise.experiments import (
    assign,
    in_global_holdout,
    layer_conflict,
    make_experiment,
    parse_variants,
    uniform,
)


def _exp(key: str = "button", variants: str = "control:0.2,a:0.3,b:0.5", **extra: object):
    return make_experiment(key=key, variants=parse_variants(variants), **extra)


def test_uniform_is_the_documented_sha256_prefix() -> None:
    digest = hashlib.sha256(b"button:u42").digest()
    assert uniform("button", "u42") == int.from_bytes(digest[:8], "big") / 2**64
    # A pinned value: changing the hash would reshuffle every running experiment.
    assert uniform("button", "u42") == pytest.approx(0.3582046687, abs=1e-9)


def test_same_user_same_variant_and_salt_reshuffles() -> None:
    exp = _exp()
    first = [assign(exp, f"u{i}") for i in range(500)]
    assert first == [assign(_exp(), f"u{i}") for i in range(500)]
    salted = _exp(salt="other")
    assert (
        sum(a != b for a, b in zip(first, (assign(salted, f"u{i}") for i in range(500)), strict=True)) > 150
    )


def test_shares_match_weights_by_chi_square_over_20000_ids() -> None:
    exp = _exp()
    counts = {"control": 0, "a": 0, "b": 0}
    for i in range(20_000):
        counts[assign(exp, f"user-{i}")] += 1  # type: ignore[index]
    observed = [counts["control"], counts["a"], counts["b"]]
    expected = [0.2 * 20_000, 0.3 * 20_000, 0.5 * 20_000]
    assert stats.chisquare(observed, expected).pvalue > 0.001, observed


def test_weights_that_do_not_sum_to_one_are_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"`variants` weights sum to 0.9.*add up to 1"):
        _exp(variants="control:0.5,treatment:0.4")
    with pytest.raises(ConfigError, match="at least two"):
        _exp(variants="control:1")
    with pytest.raises(ConfigError, match="repeats control"):
        _exp(variants="control:0.5,control:0.5")
    with pytest.raises(ConfigError, match="`key`"):
        _exp(key="Has Spaces")
    with pytest.raises(ConfigError, match="not a number"):
        parse_variants("control:half,b:0.5")


def test_layers_are_mutually_exclusive() -> None:
    left = _exp("left", "a:0.5,b:0.5", layer="checkout", layer_start=0.0, layer_end=0.5)
    right = _exp("right", "a:0.5,b:0.5", layer="checkout", layer_start=0.5, layer_end=1.0)
    both = [(assign(left, f"u{i}"), assign(right, f"u{i}")) for i in range(4000)]
    assert all((x is None) != (y is None) for x, y in both)  # every user in exactly one
    assert 1800 < sum(x is not None for x, _ in both) < 2200
    overlapping = _exp("mid", "a:0.5,b:0.5", layer="checkout", layer_start=0.4, layer_end=0.6)
    assert layer_conflict(overlapping, [left, right]) == left
    assert layer_conflict(overlapping, [right.model_copy(update={"status": "stopped"})]) is None


def test_stopped_experiment_assigns_nobody() -> None:
    assert assign(_exp().model_copy(update={"status": "stopped"}), "u1") is None


def test_global_holdout_share_and_refusal() -> None:
    held = sum(in_global_holdout(f"c{i}", 0.1) for i in range(20_000))
    assert 1800 < held < 2200
    assert not any(in_global_holdout(f"c{i}", 0.0) for i in range(1000))
    assert in_global_holdout("c1", 0.1) == in_global_holdout("c1", 0.1)
    with pytest.raises(ConfigError, match="global_holdout_share"):
        in_global_holdout("c1", 1.5)


def test_global_holdout_reads_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTWISE_GLOBAL_HOLDOUT_SHARE", "0.5")
    ids = [f"c{i}" for i in range(200)]
    assert [in_global_holdout(i) for i in ids] == [in_global_holdout(i, 0.5) for i in ids]
