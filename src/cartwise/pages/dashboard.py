"""The dashboard's pages: a registry of what each page shows and the data behind it.

Each page has a JSON twin, `GET /api/v1/pages/<slug>`, and the HTML page renders from the
same dictionary. A feature adds its page with `register_page(Page(...))` (the built-in
pages use the same call); a page without a `data` function says what it will show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cartwise.core.errors import InputError
from cartwise.core.times import utc_iso

if TYPE_CHECKING:
    from cartwise.service.service import Service

PageData = Callable[["Service"], dict[str, Any]]


@dataclass(frozen=True)
class Page:
    """One dashboard page.

    `template` is the template file under `web/templates/pages/`; pages without one render
    their JSON generically. `planned` lists what a page will show until its feature lands.
    """

    slug: str
    title: str
    order: int
    summary: str
    data: PageData | None = None
    template: str | None = None
    planned: tuple[str, ...] = field(default_factory=tuple)


PAGES: dict[str, Page] = {}


def register_page(page: Page) -> Page:
    """Add or replace a page in the navigation."""
    PAGES[page.slug] = page
    return page


def pages() -> list[Page]:
    """Pages in navigation order."""
    return sorted(PAGES.values(), key=lambda p: (p.order, p.slug))


def page_payload(service: Service, slug: str) -> dict[str, Any] | None:
    """The JSON of page `slug` (None if no such page)."""
    page = PAGES.get(slug)
    if page is None:
        return None
    base: dict[str, Any] = {"page": page.slug, "title": page.title, "summary": page.summary}
    if page.data is None:
        return {**base, "status": "planned", "planned": list(page.planned), "data": None}
    return {**base, "status": "ready", "planned": [], "data": page.data(service)}


def parse_sort(sort: str, sortable: tuple[str, ...] | list[str], example: str) -> tuple[str, str]:
    """`"-field"` -> (field, "DESC"), `"field"` -> (field, "ASC"); InputError naming the sortable fields."""
    field = sort.strip()
    direction = "ASC"
    if field.startswith("-"):
        field, direction = field[1:], "DESC"
    if field not in sortable:
        raise InputError(
            f"`sort` {sort!r} is not a sortable field; use one of {', '.join(sortable)}, "
            f"with a leading - for descending (e.g. sort=-{example})."
        )
    return field, direction


def check_page(limit: int, offset: int, most: int) -> None:
    """A list page of `limit` rows (1 to `most`) from `offset` (0 or more); InputError naming the bad one."""
    if not 1 <= limit <= most:
        raise InputError(f"must be between 1 and {most}; received {limit}.", parameter="limit")
    if offset < 0:
        raise InputError(f"must be 0 or more; received {offset}.", parameter="offset")


def _today_start() -> datetime:
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def overview(service: Service) -> dict[str, Any]:
    """Live KPIs (see `cartwise.service.live`), top items and categories since midnight UTC, recent orders."""
    since = _today_start()
    with service.read(what="dashboard overview") as store:
        con = store.con
        top_items = con.execute(
            """
            SELECT e.item_id, any_value(i.title) AS title, any_value(i.category) AS category,
                   count(*) FILTER (WHERE e.type = 'view') AS views,
                   count(*) FILTER (WHERE e.type = 'add_to_cart') AS add_to_carts,
                   count(*) FILTER (WHERE e.type = 'purchase') AS purchases,
                   coalesce(sum(e.revenue) FILTER (WHERE e.type = 'purchase'), 0) AS revenue
            FROM events e LEFT JOIN items i USING (item_id)
            WHERE e.ts >= ? AND e.item_id IS NOT NULL
            GROUP BY e.item_id ORDER BY revenue DESC, purchases DESC, views DESC, e.item_id LIMIT 10""",
            [since],
        ).fetchall()
        top_categories = con.execute(
            """
            SELECT coalesce(i.category, '(uncategorised)') AS category,
                   count(*) FILTER (WHERE e.type = 'view') AS views,
                   count(*) FILTER (WHERE e.type = 'purchase') AS purchases,
                   coalesce(sum(e.revenue) FILTER (WHERE e.type = 'purchase'), 0) AS revenue
            FROM events e LEFT JOIN items i USING (item_id)
            WHERE e.ts >= ? AND e.item_id IS NOT NULL
            GROUP BY 1 ORDER BY revenue DESC, views DESC, category LIMIT 10""",
            [since],
        ).fetchall()
        recent = con.execute(
            "SELECT order_id, user_id, ts, amount, lines FROM orders ORDER BY ts DESC, order_id LIMIT 10"
        ).fetchall()
        counts = con.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM orders), "
            "(SELECT count(*) FROM users), (SELECT count(*) FROM items)"
        ).fetchall()[0]
        totals = dict(zip(("events", "orders", "users", "items"), counts, strict=True))
    return {
        "live": service.live.snapshot(),
        "today_since": utc_iso(since),
        "top_items": [
            {
                "item_id": r[0],
                "title": r[1],
                "category": r[2],
                "views": r[3],
                "add_to_carts": r[4],
                "purchases": r[5],
                "revenue": round(float(r[6]), 2),
            }
            for r in top_items
        ],
        "top_categories": [
            {"category": r[0], "views": r[1], "purchases": r[2], "revenue": round(float(r[3]), 2)}
            for r in top_categories
        ],
        "recent_orders": [
            {
                "order_id": r[0],
                "user_id": r[1],
                "ts": utc_iso(r[2]),  # DuckDB hands a time past year 9999 back as text (kept as such)
                "amount": round(float(r[3]), 2),
                "lines": r[4],
            }
            for r in recent
        ],
        "totals": totals,
    }


register_page(
    Page(
        "overview",
        "Overview",
        10,
        "What is happening in the shop right now.",
        data=overview,
        template="overview.html",
    )
)
register_page(
    Page(
        "analytics",
        "Analytics",
        20,
        "Sales, traffic and behaviour over time.",
        planned=(
            "Revenue, orders and sessions by day and week",
            "Conversion funnel from view to purchase",
            "Retention cohorts",
            "Items bought together",
        ),
    )
)
register_page(
    Page(
        "customers",
        "Customers",
        30,
        "Who buys, how much they are worth and who is slipping away.",
        planned=(
            "Customer profiles and RFM segments",
            "Predicted lifetime value (BG/NBD + Gamma-Gamma)",
            "Churn risk",
            "Segment sizes and their value",
        ),
    )
)
register_page(
    Page(
        "recommendations",
        "Recommendations",
        40,
        "What each shopper is likely to want next.",
        planned=(
            "Recommendations for any customer",
            "Similar items for any product",
            "Offline evaluation of each recommender (precision, recall, NDCG)",
        ),
    )
)
register_page(
    Page(
        "forecasts",
        "Forecasts",
        50,
        "Demand ahead, per item and category.",
        planned=(
            "Demand forecasts with 80% and 95% intervals",
            "Reorder suggestions against stock",
            "Forecast accuracy per model",
        ),
    )
)
register_page(
    Page(
        "campaigns",
        "Campaigns",
        60,
        "Audiences, journeys and what they earned.",
        planned=(
            "Audiences built from segments",
            "Journeys and their send log",
            "Revenue attributed per campaign",
        ),
    )
)
register_page(
    Page(
        "experiments",
        "Experiments",
        70,
        "A/B tests and their results.",
        planned=("Running and finished experiments", "Lift with confidence intervals", "Uplift by segment"),
    )
)
