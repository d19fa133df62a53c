"""Behavioural clusters: k-means on standardised profile features, k chosen by silhouette.

Features (for customers with at least one order): log(1 + orders), log(1 + revenue),
log(1 + average order value), log(1 + days since last order), promo share, price
percentile, and sessions per order (log). Each is standardised (z-scores); missing values
are the feature's median. k is the value in `k_range` with the highest mean silhouette
coefficient on a sample of at most `sample_size` customers (the criterion). Each cluster
gets a plain-words description from the features whose cluster mean is at least 0.5
standard deviations from the overall mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FEATURES: dict[str, tuple[str, str]] = {
    # feature: (words when high, words when low)
    "log_orders": ("frequent buyers", "one-off buyers"),
    "log_revenue": ("high spenders", "low spenders"),
    "log_aov": ("large baskets", "small baskets"),
    "log_recency": ("lapsed for long", "recently active"),
    "promo_share": ("promotion hunters", "rarely buy on promotion"),
    "price_percentile": ("premium-priced items", "cheap items"),
    "log_sessions_per_order": ("browse a lot before buying", "buy quickly"),
}


@dataclass
class Clustering:
    labels: pd.Series  # cluster number per user_id
    summary: pd.DataFrame  # cluster, size, share, revenue, description, feature means (z)
    k: int
    silhouette: dict[int, float]


def feature_matrix(profiles: pd.DataFrame) -> pd.DataFrame:
    """The (unstandardised) clustering features, indexed by user_id, for buyers only."""
    buyers = profiles[profiles["orders"].fillna(0) > 0].set_index("user_id")
    frame = pd.DataFrame(index=buyers.index)
    frame["log_orders"] = np.log1p(buyers["orders"].astype(float))
    frame["log_revenue"] = np.log1p(buyers["revenue"].clip(lower=0).astype(float))
    frame["log_aov"] = np.log1p(buyers["avg_order_value"].clip(lower=0).astype(float))
    frame["log_recency"] = np.log1p(buyers["days_since_last_order"].clip(lower=0).astype(float))
    frame["promo_share"] = buyers["promo_share"].astype(float)
    frame["price_percentile"] = buyers["price_percentile"].astype(float)
    sessions = (
        buyers["sessions"].astype(float) if "sessions" in buyers else pd.Series(np.nan, index=buyers.index)
    )
    frame["log_sessions_per_order"] = np.log1p(sessions / buyers["orders"].astype(float))
    return frame


def _describe(center: pd.Series) -> str:
    words = []
    for feature, z in center.sort_values(key=np.abs, ascending=False).items():
        if abs(z) >= 0.5 and feature in FEATURES:
            words.append(FEATURES[str(feature)][0 if z > 0 else 1])
    return ", ".join(words[:3]).capitalize() if words else "Average on every behaviour"


def cluster_customers(
    profiles: pd.DataFrame, k_range: range = range(2, 9), sample_size: int = 3000, seed: int = 0
) -> Clustering:
    """Cluster buyers; returns labels, a per-cluster summary with descriptions, and the silhouette per k."""
    # scikit-learn costs ~2 s to import: only the command that clusters pays it, not every
    # command that reads profiles or audiences.
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    features = feature_matrix(profiles)
    usable = [c for c in features.columns if features[c].notna().any() and features[c].std(skipna=True) > 0]
    if len(features) < max(k_range.start, 2) + 1 or not usable:
        raise ValueError("too few buyers or no varying behaviour to cluster")
    values = features[usable].fillna(features[usable].median())
    z = (values - values.mean()) / values.std(ddof=0)
    rng = np.random.default_rng(seed)
    sample = z.to_numpy()[rng.choice(len(z), size=min(sample_size, len(z)), replace=False)]
    scores: dict[int, float] = {}
    for k in k_range:
        if k >= len(sample):
            break
        model = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(sample)
        if len(set(model.labels_)) < 2:
            continue
        scores[k] = float(silhouette_score(sample, model.labels_))
    best_k = max(scores, key=lambda k: scores[k])
    model = KMeans(n_clusters=best_k, n_init=2, random_state=seed).fit(z.to_numpy())
    labels = pd.Series(model.labels_, index=z.index, name="cluster")
    centers = z.groupby(labels).mean()
    revenue = profiles.set_index("user_id").loc[z.index, "revenue"].groupby(labels).sum()
    sizes = labels.value_counts().sort_index()
    summary = pd.DataFrame(
        {
            "cluster": sizes.index,
            "size": sizes.to_numpy(),
            "share": (sizes / sizes.sum()).to_numpy(),
            "revenue": revenue.reindex(sizes.index).to_numpy(),
            "description": [_describe(centers.loc[c]) for c in sizes.index],
        }
    )
    summary = pd.concat([summary, centers.reset_index(drop=True).add_prefix("z_")], axis=1)
    return Clustering(labels=labels, summary=summary, k=best_k, silhouette=scores)
