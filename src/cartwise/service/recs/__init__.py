"""Serving recommendations: the trained model in memory, business rules, impressions, online updates.

One `RecsServer` per running service (`recs_for(service)`), started with the API (its
router's lifespan) and stopped before the store closes. Its parts, one module each:

- `options`: `RecsOptions`, the `recs_options` setting.
- `state`: what a request reads, swapped as one reference. The model is loaded from
  `store.artefacts_path() / "recommender"` when present (otherwise trending items are served).
  A background thread batch-scores every known user into a table of `cache_k` candidates
  (recommenders are batch-first; one user at a time would cost the hybrid tens of
  milliseconds); users not scored yet are served by folding their history through the item
  similarity, the model's public `item_similarity()` (the hybrid's: its session model's
  transitions; models without their own: co-occurrence cosine).
- `retrain`: a retrain (`retrain()`, every `retrain_hours`, or `POST /api/v1/recommender/retrain`)
  fits a new model off the request path and replaces one reference; a request reads that
  reference once, so it is answered wholly by the old or wholly by the new model.
- `rules`: serve-time rules on `overfetch` x n candidates: never an inactive item, an item with
  `stock <= 0` (re-read every `catalogue_seconds`), or an item the user bought, unless its
  category path starts with one of `consumable_categories` (consumables are bought again); at
  most `category_cap` items per category (the first `category_depth` levels of its path); a
  seeded shuffle among near-ties (scores within `tie_tolerance` of the candidates' score range)
  so lists stay fresh.
- `online`: a background thread reads events newer than the last one it saw (by DuckDB row id,
  every `poll_seconds`). Each event joins its session at once and folds into the user's scores:
  fresh items add `sum_e w_e * S[item_e, :]`, with `S` the model's item similarity. For
  item-based models the user's vector is their interaction row, so this is the update a retrain
  would make, without one.
- `impressions`: every served list is buffered and written to `rec_impressions` (one row per
  item shown, with the request id) every `flush_seconds`. Attribution happens at read time: a
  view, add-to-cart or purchase of a shown item counts for the impression when the event's
  `properties.request_id` names the request, or, without a request id, when the same user acts
  on the item within `attribution_hours` after it was shown.
- `offline`: each model of `offline_models` and the baselines scored on a held-out split, for
  the Recommendations page (`cartwise.pages.recommendations`).
- `arms`: the recommenders of a running recommender experiment, prepared off the request path,
  refitted with the serving model at each retrain, retried with backoff when a fit fails.
- `server`: `RecsServer`, which ties them together; `registry`: `recs_for` / `stop_recs`.
"""

from cartwise.service.recs.options import RecsOptions
from cartwise.service.recs.registry import recs_for, stop_recs
from cartwise.service.recs.server import RecsServer, Served

__all__ = ["RecsOptions", "RecsServer", "Served", "recs_for", "stop_recs"]
