"""Facts about profile fields that readers need without building profiles (no Ibis import)."""

MONEY_FIELDS = frozenset({"revenue", "avg_order_value", "clv_12m", "amount", "price"})
"""Profile (and order) fields that are money: stored as computed, shown in cents (never rounded
in the store: a sum of prices carries binary noise such as 123.45000000000002)."""

HORIZON_WEEKS = 52
"""Horizon of the profiles' `expected_purchases_12m` and `clv_12m`, in weeks."""
