"""Card figures rendered by the server read like those common.js writes: compact from 100,000
with the exact value as the title, thousands separators below."""

from __future__ import annotations

import pytest

from cartwise.api.html import templates


@pytest.mark.parametrize(
    ("value", "kind", "text", "title"),
    [
        (2_097_258, "number", "2.1M", "2,097,258"),
        (2_097_258.5, "money", "2.1M", "2,097,258.50"),
        (150_000, "number", "150K", "150,000"),
        (999_950, "number", "1M", "999,950"),
        (99_999, "number", "99,999", ""),
        (11_173.7, "money", "11,173.70", ""),
        (0.253, "percent", "25.3%", ""),
        (None, "money", "—", ""),
    ],
)
def test_card_figure_is_compact_with_the_exact_value_as_title(
    value: float | None, kind: str, text: str, title: str
) -> None:
    env = templates.env
    rendered = env.from_string("{{ v | compact(k) }}|{{ v | figure_title(k) }}").render(v=value, k=kind)
    assert rendered == f"{text}|{title}"
