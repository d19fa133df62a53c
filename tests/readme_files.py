"""Small input files named by the README's CLI examples (issue 24.1), written into a folder.

Each file has the shape the README's command expects (column names, format), with few rows so
the whole tour runs in a test: exports of events with renamed columns (and one bad row, so a
quarantine file exists), a catalogue, a CDNOW sample log, a MovieLens-style RecBole `.inter`
file, weekly sales with prices, an events export, basket lines and an experiment summary.
"""

from __future__ import annotations

import csv
import gzip
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CDNOW = Path(__file__).resolve().parent / "predict" / "fixtures" / "cdnow_transactions_250.txt"


def write_readme_files(root: Path, seed: int = 24) -> None:
    """Every input file the README's `cartwise ...` lines read, under `root`."""
    rng = np.random.default_rng(seed)
    _exports(root / "exports", rng)
    pq.write_table(
        pa.table(
            {
                "sku": [f"NEW-{i:03d}" for i in range(5)],
                "title": [f"Mug {i}" for i in range(5)],
                "category": ["Home > Kitchen"] * 5,
                "price": [9.5 + i for i in range(5)],
            }
        ),
        root / "catalogue.parquet",
    )
    shutil.copy(CDNOW, root / "CDNOW_sample.txt")
    _ratings(root, rng)
    _sales(root, rng)
    _export(root / "export.csv", rng)
    _lines(root / "lines.csv", rng)
    _summary(root / "summary.csv", rng)


def _exports(folder: Path, rng: np.random.Generator) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for month in (1, 2):
        rows = []
        start = datetime(2024, month, 3, 9, 0)
        for i in range(40):
            user = f"u{1 + i % 12:06d}"
            when = start + timedelta(minutes=37 * i)
            kind = ["view", "add_to_cart", "purchase"][int(rng.integers(0, 3))]
            rows.append([kind, when.strftime("%Y-%m-%d %H:%M:%S"), user, f"SKU-{1 + i % 9:05d}", "12.50"])
        if month == 1:
            rows.append(["view", "yesterday at noon", "u000003", "SKU-00003", "12.50"])  # quarantined
        with gzip.open(folder / f"events-2024-{month:02d}.csv.gz", "wt", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["event_name", "happened_at", "customer_id", "sku", "price"])
            writer.writerows(rows)


def _ratings(root: Path, rng: np.random.Generator) -> None:
    """MovieLens-style ratings (`ml-100k.inter`): 60 users with 12 ratings each over 40 items."""
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for user in range(1, 61):
        taste = user % 2
        items = rng.choice(np.arange(1 + 20 * taste, 21 + 20 * taste), size=12, replace=False)
        for k, item in enumerate(items):
            lines.append(
                f"{user}\t{item}\t{1 + int(rng.integers(0, 5))}\t{881250949 + 3600 * (user * 20 + k)}"
            )
    (root / "ml-100k.inter").write_text("\n".join(lines) + "\n")
    (root / "users.txt").write_text("1\n2\n3\n")


def _sales(root: Path, rng: np.random.Generator) -> None:
    """Weekly units of 4 skus over 60 weeks, and their prices and promotions 12 weeks further."""
    first = date(2024, 1, 1)
    with (
        (root / "sales.csv").open("w", newline="") as sales,
        (root / "prices.csv").open("w", newline="") as prices,
    ):
        s, p = csv.writer(sales), csv.writer(prices)
        s.writerow(["sku", "week", "units"])
        p.writerow(["sku", "week", "price", "promo"])
        for sku in range(4):
            for week in range(72):
                promo = int(rng.random() < 0.2)
                day = (first + timedelta(weeks=week)).isoformat()
                p.writerow([f"SKU-{sku + 1:05d}", day, 10.0 - 2 * promo, promo])
                if week < 60:
                    s.writerow([f"SKU-{sku + 1:05d}", day, int(rng.poisson(8 * (1 + promo)))])


def _export(path: Path, rng: np.random.Generator) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event", "timestamp", "user_id"])
        for user in range(30):
            when = datetime(2024, 5, 1, 10) + timedelta(hours=user)
            steps = ["product_view", "add_to_cart", "purchase"][: 1 + int(rng.integers(0, 3))]
            for k, step in enumerate(steps):
                writer.writerow([step, (when + timedelta(minutes=5 * k)).isoformat(), f"v{user}"])


def _lines(path: Path, rng: np.random.Generator) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "product_id"])
        for order in range(200):
            basket = {int(rng.integers(0, 6))}
            if rng.random() < 0.6:
                basket.add((min(basket) + 1) % 6)
            writer.writerows([f"o{order}", f"p{item}"] for item in sorted(basket))


def _summary(path: Path, rng: np.random.Generator) -> None:
    """Per variant and metric: users, sums, sums of squares, and the pre-period sums for CUPED."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["variant", "metric", "users", "sum", "sum_squares", "pre_sum", "pre_sum_squares", "sum_product"]
        )
        for variant, lift in (("A", 1.0), ("B", 1.05)):
            pre = rng.gamma(2.0, 2.5, size=1000)
            post = lift * (0.6 * pre + rng.gamma(2.0, 1.0, size=1000))
            bought = (rng.random(1000) < 0.05 * lift).astype(float)
            for metric, values in (("revenue", post), ("conversion", bought)):
                writer.writerow(
                    [
                        variant,
                        metric,
                        1000,
                        repr(float(values.sum())),
                        repr(float((values**2).sum())),
                        repr(float(pre.sum())),
                        repr(float((pre**2).sum())),
                        repr(float((values * pre).sum())),
                    ]
                )
