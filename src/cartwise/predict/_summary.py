"""From a transaction log to the per-customer summaries the lifetime-value models use.

As in the literature (Fader, Hardie and Lee 2005), transactions are aggregated per customer
and calendar day: several orders on one day count as one purchase whose value is their sum.
A customer's first purchase day starts her clock; only later days are repeat purchases.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import numpy as np
import pandas as pd

from cartwise.core.errors import DataWarning, InputError

TimeUnit = Literal["day", "week"]
DAYS_PER_UNIT: dict[str, float] = {"day": 1.0, "week": 7.0}

SUMMARY_COLUMNS = (
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "monetary_count",
    "frequency_holdout",
    "monetary_holdout",
)


@dataclass(frozen=True)
class RFMSummary:
    """Per-customer summaries plus an account of what was left out.

    `customers` has one row per customer whose first purchase is on or before the
    calibration end, with columns:

    - ``frequency`` x: repeat purchase days in the calibration period (purchase days - 1);
    - ``recency`` t_x: time from the first to the last calibration purchase day;
    - ``T``: time from the first purchase day to the calibration end;
    - ``monetary_value``: mean value of the repeat purchase days with a positive total
      (NaN when there is none), ``monetary_count`` how many such days;
    - ``frequency_holdout``: purchase days after the calibration end, up to the observation end;
    - ``monetary_holdout``: mean positive value of those days (NaN when none).

    Times are in `time_unit`s. `holdout_duration` is observation end minus calibration end.
    """

    customers: pd.DataFrame
    calibration_end: date
    observation_end: date
    time_unit: TimeUnit
    holdout_duration: float
    transactions_used: int
    excluded_after_observation_end: int
    nonpositive_amount_rows: int
    customers_first_in_holdout: int

    def report(self) -> dict[str, object]:
        """The counts a user checks after summarising, as a JSON-ready dict."""
        return {
            "calibration_end": self.calibration_end.isoformat(),
            "observation_end": self.observation_end.isoformat(),
            "time_unit": self.time_unit,
            "holdout_duration": self.holdout_duration,
            "customers": len(self.customers),
            "transactions_used": self.transactions_used,
            "excluded_after_observation_end": self.excluded_after_observation_end,
            "nonpositive_amount_rows": self.nonpositive_amount_rows,
            "customers_first_in_holdout": self.customers_first_in_holdout,
        }


def _where(mask: np.ndarray, values: pd.Series) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:3])
    return f"{idx.size} rows (rows {shown}{', ...' if idx.size > 3 else ''}, e.g. {values.iloc[idx[0]]!r})"


def _column(frame: pd.DataFrame, name: Hashable, parameter: str) -> pd.Series:
    if name not in frame.columns:
        available = ", ".join(map(str, list(frame.columns)[:12]))
        raise InputError(
            f"Column `{name}` not found (received columns: {available}); name the right one.",
            parameter=parameter,
        )
    return frame[name]


def _to_day(value: str | date | datetime | None, name: str) -> np.int64 | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(f"`{name}` {value!r} is not a date; use YYYY-MM-DD, e.g. 1997-09-30.") from None
    if pd.isna(ts):
        raise InputError(f"`{name}` {value!r} is not a date; use YYYY-MM-DD, e.g. 1997-09-30.")
    return np.int64(ts.to_datetime64().astype("datetime64[D]").astype(np.int64))


def _as_date(day: np.int64) -> date:
    return pd.Timestamp(np.datetime64(int(day), "D")).date()


def parse_days(values: pd.Series, date_format: str | None, column: Hashable) -> np.ndarray:
    """Calendar days since 1970-01-01 (int64) of a date or timestamp column.

    Text is parsed with `date_format` (strftime codes, e.g. ``%Y%m%d``) or, without one, by
    pandas' inference from the first value, then as ISO 8601, then value by value. Timestamps with an offset are converted to UTC.
    Raises InputError naming the column, the rows that fail and an example.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values
    else:
        text = values.astype("string")
        # Without a format, pandas infers one from the first value; a log mixing dates and
        # timestamps then fails, so retry as ISO 8601 and finally value by value (slow).
        attempts = [date_format] if date_format else [None, "ISO8601", "mixed"]
        for attempt in attempts:
            try:
                parsed = pd.to_datetime(text, format=attempt, errors="coerce", utc=True)
            except (ValueError, TypeError) as exc:
                raise InputError(
                    f"Column `{column}` could not be read as dates ({exc}); give the date format, e.g. %Y-%m-%d.",
                    parameter="date_format",
                ) from None
            bad = (parsed.isna() & text.notna()).to_numpy()
            if not bad.any():
                break
        if bad.any():
            hint = (
                f"it does not match the date format {date_format!r}"
                if date_format
                else "give the date format"
            )
            raise InputError(
                f"Column `{column}` has {_where(bad, values)} that are not dates; {hint} "
                "(strftime codes, e.g. %Y%m%d or %Y-%m-%d %H:%M:%S).",
                parameter="date_format",
            )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    missing = parsed.isna().to_numpy()
    if missing.any():
        raise InputError(f"Column `{column}` has {_where(missing, values)} with no date; drop or fill them.")
    return parsed.to_numpy().astype("datetime64[D]").astype(np.int64)


def rfm_summary(
    transactions: pd.DataFrame,
    *,
    customer_col: Hashable = "customer_id",
    date_col: Hashable = "date",
    amount_col: Hashable | None = "amount",
    calibration_end: str | date | None = None,
    observation_end: str | date | None = None,
    time_unit: TimeUnit = "week",
    date_format: str | None = None,
) -> RFMSummary:
    """Summarise a transaction log into frequency, recency, T and monetary value per customer.

    Rows are aggregated per (customer, calendar day), summing amounts. Purchase days up to and
    including `calibration_end` form the calibration history; days after it, up to and including
    `observation_end`, form the holdout. Defaults: `observation_end` is the last transaction
    day or `calibration_end` if that is later; `calibration_end` equals `observation_end`
    (no holdout). Rows after `observation_end`
    are left out with a DataWarning; rows with amount <= 0 count as purchase days but days
    whose total is not positive are left out of the monetary averages (counted in
    `nonpositive_amount_rows`). Customers whose first purchase is after `calibration_end` are
    left out of `customers` and counted.

    Columns are named by label (a header name, or a position for a frame read without a
    header). Raises InputError for a missing column, unreadable ids, dates or amounts, a calibration end
    before the first transaction or after the observation end, and an unknown time unit.
    """
    if time_unit not in DAYS_PER_UNIT:
        raise InputError(
            f"must be one of {', '.join(DAYS_PER_UNIT)}; received {time_unit!r}.", parameter="time_unit"
        )
    unit = DAYS_PER_UNIT[time_unit]
    customers = _column(transactions, customer_col, "customer_col")
    # Blank text too: a CSV file's missing cell reads as "", which would become one customer.
    missing = (customers.isna() | (customers.astype(str).str.strip() == "")).to_numpy()
    if missing.any():
        raise InputError(
            f"Column `{customer_col}` has {_where(missing, customers)} with no customer id; drop them first."
        )
    days = parse_days(_column(transactions, date_col, "date_col"), date_format, date_col)
    if amount_col is not None:
        raw = _column(transactions, amount_col, "amount_col")
        amounts_series = pd.to_numeric(raw, errors="coerce")
        bad = (amounts_series.isna() | ~np.isfinite(amounts_series.fillna(0))).to_numpy()
        if bad.any():
            raise InputError(
                f"Column `{amount_col}` has {_where(bad, raw)} that are not numbers; clean them or map "
                "another column.",
                parameter="amount_col",
            )
        amounts = amounts_series.to_numpy(dtype=np.float64)
    else:
        amounts = np.ones(days.size)
    if days.size == 0:
        raise InputError("The transaction log is empty; there is nothing to summarise.")

    first_day, last_day = days.min(), days.max()
    obs = _to_day(observation_end, "observation_end")
    cal = _to_day(calibration_end, "calibration_end")
    if obs is None:
        obs = last_day if cal is None else max(last_day, cal)
    cal = obs if cal is None else cal
    if cal < first_day:
        raise InputError(
            f"`calibration_end` {_as_date(cal)} is before the first transaction ({_as_date(first_day)}); "
            "choose a calibration end inside the data."
        )
    if cal > obs:
        raise InputError(
            f"`calibration_end` {_as_date(cal)} is after `observation_end` {_as_date(obs)}; "
            "the calibration period must end on or before the observation end."
        )
    after = days > obs
    n_after = int(after.sum())
    if n_after:
        warnings.warn(
            f"{n_after} transactions after the observation end {_as_date(obs)} were left out "
            f"(the last is on {_as_date(last_day)}).",
            DataWarning,
            stacklevel=2,
        )
        keep = ~after
        days, amounts, customers = days[keep], amounts[keep], customers[keep]
    nonpositive = int((amounts <= 0).sum())

    codes, ids = pd.factorize(customers, sort=False)
    width = np.int64(obs - days.min() + 1)
    key = codes.astype(np.int64) * width + (days - days.min())
    # One sort gives the (customer, day) cells in order; their totals by bincount.
    cell, inverse = np.unique(key, return_inverse=True)
    cell_amount = np.bincount(inverse.reshape(-1), weights=amounts, minlength=cell.size)
    cell_cust = cell // width
    cell_day = cell % width + days.min()
    n_cust = ids.size
    is_first = np.ones(cell.size, dtype=bool)
    is_first[1:] = cell_cust[1:] != cell_cust[:-1]
    cust_first = np.zeros(n_cust, dtype=np.int64)
    cust_first[cell_cust[is_first]] = cell_day[is_first]

    in_cal = cell_day <= cal
    n_cal_days = np.bincount(cell_cust[in_cal], minlength=n_cust)
    last_cal = np.full(n_cust, np.iinfo(np.int64).min)
    np.maximum.at(last_cal, cell_cust[in_cal], cell_day[in_cal])
    repeat_pos = in_cal & ~is_first & (cell_amount > 0)
    m_count = np.bincount(cell_cust[repeat_pos], minlength=n_cust)
    m_sum = np.bincount(cell_cust[repeat_pos], weights=cell_amount[repeat_pos], minlength=n_cust)
    hold = ~in_cal
    f_hold = np.bincount(cell_cust[hold], minlength=n_cust)
    hold_pos = hold & (cell_amount > 0)
    h_count = np.bincount(cell_cust[hold_pos], minlength=n_cust)
    h_sum = np.bincount(cell_cust[hold_pos], weights=cell_amount[hold_pos], minlength=n_cust)

    cohort = n_cal_days > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame(
            {
                "customer_id": np.asarray(ids)[cohort],
                "frequency": (n_cal_days - 1)[cohort],
                "recency": ((last_cal - cust_first) / unit)[cohort],
                "T": ((cal - cust_first) / unit)[cohort],
                "monetary_value": np.where(m_count > 0, m_sum / m_count, np.nan)[cohort],
                "monetary_count": m_count[cohort],
                "frequency_holdout": f_hold[cohort],
                "monetary_holdout": np.where(h_count > 0, h_sum / h_count, np.nan)[cohort],
            }
        )
    return RFMSummary(
        customers=table,
        calibration_end=_as_date(cal),
        observation_end=_as_date(obs),
        time_unit=time_unit,
        holdout_duration=float((obs - cal) / unit),
        transactions_used=int(days.size),
        excluded_after_observation_end=n_after,
        nonpositive_amount_rows=nonpositive,
        customers_first_in_holdout=int((~cohort).sum()),
    )


__all__ = ["SUMMARY_COLUMNS", "RFMSummary", "TimeUnit", "parse_days", "rfm_summary"]
