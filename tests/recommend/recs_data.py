"""Small generated shops with planted structure, shared by the recommender tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TwoTastes:
    """Users of two taste groups: group A buys kitchen items `a*`, group B garden items `b*`.

    Each user interacts with 8 items of their own group (popular ones more often) and 1 of the
    other; `a_new`/`b_new` are catalogue items nobody interacted with yet.
    """

    frame: pd.DataFrame  # user_id, item_id, ts (epoch seconds)
    items: pd.DataFrame  # item_id, title, description, category, brand, price
    group: dict[str, str]  # user_id -> "a" or "b"


def two_tastes(seed: int = 0, n_users: int = 60, n_items_per_group: int = 20) -> TwoTastes:
    rng = np.random.default_rng(seed)
    groups = {
        "a": [f"a{i}" for i in range(n_items_per_group)],
        "b": [f"b{i}" for i in range(n_items_per_group)],
    }
    # Zipf-like popularity inside each group.
    weights = 1.0 / np.arange(1, n_items_per_group + 1) ** 0.7
    weights /= weights.sum()
    rows, group_of = [], {}
    t0 = 1_700_000_000.0
    for u in range(n_users):
        user = f"u{u}"
        own = "a" if u % 2 == 0 else "b"
        other = "b" if own == "a" else "a"
        group_of[user] = own
        picks = list(rng.choice(groups[own], size=8, replace=False, p=weights))
        picks.append(str(rng.choice(groups[other])))
        rng.shuffle(picks)
        start = t0 + rng.uniform(0, 30) * 86_400
        for j, item in enumerate(picks):
            rows.append((user, item, start + j * 3_600.0 * rng.uniform(1, 48)))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "ts"])
    catalogue = []
    for g, category, brand, noun in (
        ("a", "Home > Kitchen", "Chefco", "knife pan"),
        ("b", "Garden > Tools", "Greenly", "shovel rake"),
    ):
        for item in [*groups[g], f"{g}_new"]:
            catalogue.append(
                (
                    item,
                    f"{brand} {noun} {item}",
                    f"A {noun} for the {category.split(' > ')[1].lower()}",
                    category,
                    brand,
                    10.0 if g == "a" else 50.0,
                )
            )
    items = pd.DataFrame(catalogue, columns=["item_id", "title", "description", "category", "brand", "price"])
    return TwoTastes(frame=frame, items=items, group=group_of)


def chains(seed: int = 0, n_users: int = 80, n_chains: int = 4, length: int = 5) -> pd.DataFrame:
    """Sessions that walk fixed chains c{k}_0 -> c{k}_1 -> ...: the next item is planted."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        chain = rng.integers(n_chains)
        start = rng.integers(0, 2)
        t = 1_700_000_000.0 + u * 86_400.0
        for step in range(start, length):
            rows.append((f"u{u}", f"c{chain}_{step}", t, f"s{u}"))
            t += 60.0
    return pd.DataFrame(rows, columns=["user_id", "item_id", "ts", "basket_id"])


def staples(
    seed: int = 0, n_users: int = 60, n_items: int = 30, weeks: int = 6
) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """Each user re-buys 3 staple items every week, plus one random other item: repeat purchase is planted."""
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    for u in range(n_users):
        user = f"u{u}"
        own = [f"i{i}" for i in rng.choice(n_items, 3, replace=False)]
        truth[user] = set(own)
        for week in range(weeks):
            t = 1_700_000_000.0 + week * 7 * 86_400.0 + u * 60.0
            basket = [*own, f"i{rng.integers(n_items)}"]
            rng.shuffle(basket)
            rows += [(user, item, t + j, f"{user}-w{week}") for j, item in enumerate(basket)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "ts", "basket_id"]), truth
