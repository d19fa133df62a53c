"""From long tables to demand series: parsing, frequency, zeros versus missing periods, covariates.

A *panel* holds many series on one grid of periods (days, weeks or integer periods). Within
a series' span, a period for which some other series has a row but this one has none is
zero demand (nothing sold); a period for which no series has a row is a gap in the data and
stays missing (NaN), never zero.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from cartwise.core.errors import ConfigError, DataWarning, InputError

Freq = Literal["D", "W"] | int
SEASON_BY_FREQ = {"D": 7, "W": 52}
"""Default season length per frequency: a week of days, a year of weeks."""

_TRUE = {"true", "yes", "y", "t", "1"}
_FALSE = {"false", "no", "n", "f", "0", ""}


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    # Row numbers as a user counts them in a file with a header: data row 1 is line 2.
    idx = np.flatnonzero(mask)[:limit]
    return ", ".join(str(i + 1) for i in idx) + (", …" if mask.sum() > limit else "")


def _require_columns(frame: pd.DataFrame, columns: dict[str, str], what: str) -> None:
    """`columns` maps each parameter (`id_col`) to the column it names."""
    for parameter, col in columns.items():
        if col not in frame.columns:
            raise InputError(
                f"Column `{col}` is not in the {what}; its columns are "
                f"{list(map(str, frame.columns))}. Name an existing column.",
                parameter=parameter,
            )


def _stripped_text(values: pd.Series, column: str, parameter: str | None, need: str) -> pd.Series:
    """The column as stripped text; InputError naming the rows when any is empty or blank."""
    text = values.astype("string").str.strip()
    missing = (text.isna() | (text == "")).to_numpy()
    if missing.any():
        raise InputError(
            f"Column `{column}` has {int(missing.sum())} empty values (rows {_rows(missing)}); "
            f"every row needs {need}. Fill or drop them, or map another column.",
            parameter=parameter,
        )
    return text


def parse_numbers(values: pd.Series, column: str, parameter: str | None = None) -> np.ndarray:
    """Numbers from a column; empty cells become NaN (missing); any other text is an error about
    `parameter`, the argument that named the column (None when the column's name is fixed)."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float).to_numpy()
    text = values.astype("string").str.strip()
    empty = text.isna() | (text == "")
    parsed = pd.to_numeric(text.where(~empty), errors="coerce")
    bad = (parsed.isna() & ~empty).to_numpy()
    if bad.any():
        examples = ", ".join(repr(v) for v in pd.unique(text[bad])[:3])
        raise InputError(
            f"Column `{column}` has {int(bad.sum())} non-numeric values (rows {_rows(bad)}, e.g. {examples}); "
            "clean them" + (" or map another column." if parameter else "."),
            parameter=parameter,
        )
    return parsed.astype(float).to_numpy()


def parse_periods(
    values: pd.Series, column: str, parameter: str | None
) -> tuple[np.ndarray, Literal["date", "int"]]:
    """Dates (as datetime64[D]) or integer periods, from a column of dates, integers or text."""
    if pd.api.types.is_integer_dtype(values):
        return values.to_numpy(dtype=np.int64), "int"
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.to_numpy().astype("datetime64[D]"), "date"
    if values.dtype == object and values.map(lambda v: isinstance(v, dt.date)).all():
        return pd.to_datetime(values).to_numpy().astype("datetime64[D]"), "date"
    text = _stripped_text(values, column, parameter, "a period")
    if text.str.fullmatch(r"-?\d+").all():
        return text.astype("int64").to_numpy(), "int"
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        examples = ", ".join(repr(v) for v in pd.unique(text[bad])[:3])
        raise InputError(
            f"Column `{column}` has {int(bad.sum())} values that are neither dates (YYYY-MM-DD) nor integer "
            f"periods (rows {_rows(bad)}, e.g. {examples}); fix them or map another column.",
            parameter=parameter,
        )
    return parsed.to_numpy().astype("datetime64[D]"), "date"


@dataclass
class Panel:
    """Many demand series on one grid of periods.

    Period p (an integer position) means `anchor + p·step` (days for dates, units for
    integer periods). `ys[i]` covers positions `starts[i] … starts[i] + len(ys[i]) − 1`.
    `Xs[i]` (if covariates are attached) covers the same positions plus the forecast horizon.
    """

    ids: list[str]
    ys: list[np.ndarray]
    starts: list[int]
    kind: Literal["date", "int"]
    anchor: Any
    step: int
    freq: str
    season_length: int
    Xs: list[np.ndarray] | None = None
    covariate_names: list[str] = field(default_factory=list)
    covariates_filled: dict[str, list[int]] = field(default_factory=dict)
    """Series id → grid positions of future periods whose covariates were filled (`attach_covariates`)."""
    omitted: dict[str, list[int]] = field(default_factory=dict)
    """Series id → future grid positions to leave out of the forecast (fill policy `drop`)."""
    without_covariates: list[str] = field(default_factory=list)
    """Series with no covariate value at all: forecast by the per-series models alone."""

    def label(self, positions: np.ndarray) -> list[Any]:
        """The period labels (datetime.date or int) of grid positions."""
        if self.kind == "int":
            return [int(self.anchor + p * self.step) for p in positions]
        base = np.datetime64(self.anchor, "D")
        return [(base + np.timedelta64(int(p) * self.step, "D")).astype(dt.date) for p in positions]

    def truncated(self, cut: int) -> Panel:
        """The panel with the last `cut` periods of every series removed (series left empty are dropped)."""
        keep = [i for i, y in enumerate(self.ys) if y.size - cut > 0]
        return Panel(
            ids=[self.ids[i] for i in keep],
            ys=[self.ys[i][: self.ys[i].size - cut] for i in keep],
            starts=[self.starts[i] for i in keep],
            kind=self.kind,
            anchor=self.anchor,
            step=self.step,
            freq=self.freq,
            season_length=self.season_length,
            Xs=None if self.Xs is None else [self.Xs[i] for i in keep],
            covariate_names=self.covariate_names,
            without_covariates=[s for s in self.without_covariates if s in {self.ids[i] for i in keep}],
        )


def _infer_step(ids: np.ndarray, periods: np.ndarray, kind: str, freq: Freq | str) -> tuple[int, str]:
    order = np.lexsort((periods, ids))
    p = periods[order].astype(np.int64)
    same = ids[order][1:] == ids[order][:-1]
    diffs = np.diff(p)[same]
    unit = "days" if kind == "date" else "periods"
    if freq != "auto":
        if kind == "date":
            if freq not in SEASON_BY_FREQ:
                raise InputError(
                    f"{freq!r} does not fit dates; use D (daily), W (weekly) or auto.", parameter="freq"
                )
            step = 1 if freq == "D" else 7
        else:
            try:
                step = int(freq)
            except (TypeError, ValueError):
                raise InputError(
                    f"{freq!r} does not fit integer periods; use an integer step or auto.", parameter="freq"
                ) from None
    else:
        if diffs.size == 0:
            step = 7 if kind == "date" else 1
        else:
            # The grid step is the gcd of all gaps. A series on a fixed, coarser cadence (at least
            # three equal gaps, e.g. weekly rows) beside series that use the finer step means the
            # table mixes frequencies; zero-filling it at the finer step would invent zeros.
            step = int(np.gcd.reduce(diffs))
            gaps = pd.DataFrame({"id": ids[order][1:][same], "d": diffs}).groupby("id")["d"]
            stats = pd.DataFrame({"n": gaps.size(), "lo": gaps.min(), "hi": gaps.max()})
            regular = stats[(stats["n"] >= 3) & (stats["lo"] == stats["hi"]) & (stats["lo"] > step)]
            fine = stats[stats["lo"] == step]
            if len(regular) and len(fine):
                raise InputError(
                    f"The series have mixed frequencies: series {regular.index[0]!r} has a row every "
                    f"{int(regular['lo'].iloc[0])} {unit}, series {fine.index[0]!r} every {step} {unit}. "
                    f"Aggregate them to one frequency, forecast them separately, or give the frequency.",
                    parameter="freq",
                )
    bad = diffs % step != 0
    if bad.any():
        raise InputError(
            f"Some consecutive periods are {int(diffs[bad][0])} {unit} apart, not a multiple of the step "
            f"({step} {unit}): mixed frequencies or weeks starting on different weekdays. "
            f"Aggregate the data to one frequency first."
        )
    label = {1: "D", 7: "W"}.get(step, f"{step}D") if kind == "date" else str(step)
    return step, label


def build_panel(
    history: pd.DataFrame,
    id_col: str,
    date_col: str,
    value_col: str,
    freq: Freq | str = "auto",
    season_length: int | None = None,
    lines: np.ndarray | None = None,
) -> Panel:
    """Series from a long table with one row per (id, period), on a common grid.

    Raises `InputError` for missing columns, unparseable dates or values, duplicate
    (id, period) rows and mixed frequencies. Empty values are missing periods. `lines`: the
    line of the file each row came from (as an editor numbers them), named in the duplicate
    rows' message instead of the row numbers (rows set aside before would shift those).
    """
    _require_columns(history, {"id_col": id_col, "date_col": date_col, "value_col": value_col}, "history")
    if len(history) == 0:
        raise InputError("The history has no rows; give a file with at least one row per series.")
    # A CSV file's empty cell reads as "": it would become a series of its own.
    _stripped_text(history[id_col], id_col, "id_col", "a series id")
    ids = history[id_col].astype("string").to_numpy(dtype=object)
    periods, kind = parse_periods(history[date_col], date_col, "date_col")
    values = parse_numbers(history[value_col], value_col, "value_col")
    key = pd.DataFrame({"id": ids, "p": periods})
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        first = key[dup].iloc[0]
        where = (
            f"rows {_rows(dup)}"
            if lines is None
            else f"lines {', '.join(str(int(v)) for v in np.asarray(lines)[dup][:5])}"
        )
        raise InputError(
            f"{int(key.duplicated().sum())} duplicate ({id_col}, {date_col}) rows ({where}, e.g. "
            f"{first['id']!r} at {first['p']}); keep one row per series and period (sum them first)."
        )
    step, label = _infer_step(ids, periods, kind, freq)
    if kind == "date":
        anchor = periods.min()
        pos = ((periods - anchor).astype(np.int64)) // step
        anchor_label: Any = anchor.astype(dt.date)
    else:
        anchor_label = int(periods.min())
        pos = (periods - anchor_label) // step
    seen = np.zeros(int(pos.max()) + 1, dtype=bool)
    seen[pos] = True
    frame = pd.DataFrame({"id": ids, "pos": pos, "y": values}).sort_values(["id", "pos"], kind="stable")
    out_ids, ys, starts = [], [], []
    for sid, group in frame.groupby("id", sort=True):
        p = group["pos"].to_numpy()
        start, stop = int(p[0]), int(p[-1]) + 1
        y = np.where(seen[start:stop], 0.0, np.nan)
        y[p - start] = group["y"].to_numpy()
        out_ids.append(str(sid))
        ys.append(y)
        starts.append(start)
    if season_length is None:
        season_length = SEASON_BY_FREQ.get(label, 1)
    return Panel(out_ids, ys, starts, kind, anchor_label, step, label, int(season_length))


def _encode_covariate(values: pd.Series, ids: np.ndarray, column: str) -> np.ndarray:
    """A covariate column as numbers: numeric text, flags (true/false, yes/no) or static labels."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.astype(float).to_numpy()
    text = values.astype("string").str.strip()
    numeric = pd.to_numeric(text.where(text != ""), errors="coerce")
    if (numeric.notna() | text.isna() | (text == "")).all():
        return numeric.astype(float).to_numpy()
    lower = text.str.lower()
    if lower.dropna().isin(_TRUE | _FALSE).all():
        return lower.map(lambda v: np.nan if pd.isna(v) else float(v in _TRUE)).astype(float).to_numpy()
    per_id = pd.DataFrame({"id": ids, "v": text}).groupby("id")["v"].nunique(dropna=True)
    if (per_id <= 1).all():
        # A label constant within each series (e.g. its category) is a static feature.
        codes, _ = pd.factorize(text)
        return np.where(codes < 0, np.nan, codes).astype(float)
    bad = (numeric.isna() & text.notna() & (text != "")).to_numpy()
    examples = ", ".join(repr(v) for v in pd.unique(text[bad])[:3])
    raise InputError(
        f"Covariate column `{column}` has text that is neither a number nor a flag (rows {_rows(bad)}, "
        f"e.g. {examples}) and changes within a series; give numbers, true/false flags or a label "
        f"constant per series."
    )


def calendar_features(panel: Panel, positions: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Calendar columns of grid positions: week of year and month (dates; plus weekday when daily),
    or the position within the season (integer periods)."""
    if panel.kind == "date":
        dates = pd.DatetimeIndex(np.datetime64(panel.anchor, "D") + positions.astype(np.int64) * panel.step)
        cols = [dates.isocalendar().week.to_numpy(dtype=float), dates.month.to_numpy(dtype=float)]
        names = ["week_of_year", "month"]
        if panel.step == 1:
            cols.append(dates.dayofweek.to_numpy(dtype=float))
            names.append("day_of_week")
        return np.column_stack(cols), names
    if panel.season_length > 1:
        labels = panel.anchor + positions * panel.step
        return (labels % panel.season_length).astype(float)[:, None], ["season_position"]
    return np.empty((positions.size, 0)), []


COVARIATE_FILLS = ("last", "drop", "error")
"""Policies for a future period missing from the covariates file (`--covariates-fill`):
`last` carries each column's last known value of the series forward, `drop` does the same for
the model but leaves the period out of the forecast, `error` refuses the file."""


def attach_covariates(
    panel: Panel,
    covariates: pd.DataFrame | None,
    id_col: str,
    date_col: str,
    horizon: int,
    fill: str = "last",
) -> Panel:
    """Give every series a covariate matrix over its history and the `horizon` periods after it.

    Columns other than the id and date are known regressors; calendar features are added.
    A future period without covariate values (a row missing from the file, or empty cells) is
    filled by `fill` (see `COVARIATE_FILLS`) and recorded in `panel.covariates_filled` (and in
    `panel.omitted` for `drop`), with one `DataWarning` for all of them; a series without any
    covariate value is listed in `panel.without_covariates` and forecast without them.
    Missing history rows stay missing (the global model handles them). With `fill="error"`
    a missing future row raises `InputError`.
    """
    if fill not in COVARIATE_FILLS:
        raise ConfigError(
            f"must be one of {', '.join(COVARIATE_FILLS)}; received {fill!r}.", parameter="covariates_fill"
        )
    names: list[str] = []
    table: pd.DataFrame | None = None
    if covariates is not None:
        _require_columns(covariates, {"id_col": id_col, "date_col": date_col}, "covariates file")
        ids = covariates[id_col].astype("string").fillna("").to_numpy(dtype=object)
        periods, kind = parse_periods(covariates[date_col], date_col, "date_col")
        if kind != panel.kind:
            raise InputError(
                f"The covariates' `{date_col}` holds {'dates' if kind == 'date' else 'integer periods'} but the "
                f"history's holds {'dates' if panel.kind == 'date' else 'integer periods'}; use the same kind."
            )
        if kind == "date":
            offset = (periods - np.datetime64(panel.anchor, "D")).astype(np.int64)
        else:
            offset = periods - panel.anchor
        if (offset % panel.step != 0).any():
            bad = offset % panel.step != 0
            raise InputError(
                f"{int(bad.sum())} covariate rows (rows {_rows(bad)}) fall between the history's periods; "
                f"give one row per period of the history's grid."
            )
        names = [str(c) for c in covariates.columns if c not in (id_col, date_col)]
        table = pd.DataFrame({"id": ids, "pos": offset // panel.step})
        if table.duplicated().any():
            dup = table.duplicated(keep=False).to_numpy()
            raise InputError(
                f"The covariates file has duplicate ({id_col}, {date_col}) rows (rows {_rows(dup)}); keep one per period."
            )
        for c in names:
            table[c] = _encode_covariate(covariates[c], ids, c)
        table = table.set_index(["id", "pos"])
    Xs, missing_future = [], []
    filled: dict[str, list[int]] = {}
    without: list[str] = []
    for sid, y, start in zip(panel.ids, panel.ys, panel.starts, strict=True):
        pos = np.arange(start, start + y.size + horizon)
        cal, cal_names = calendar_features(panel, pos)
        if table is not None:
            values = table.reindex(pd.MultiIndex.from_arrays([[sid] * pos.size, pos])).to_numpy(dtype=float)
            if names and np.isnan(values).all():
                without.append(sid)
            else:
                gaps = np.isnan(values[y.size :]).any(axis=1)
                if gaps.any():
                    missing_future.append(sid)
                    filled[sid] = [int(p) for p in pos[y.size :][gaps]]
                    # Each column's last known value, carried forward into the future periods only.
                    values[y.size :] = pd.DataFrame(values).ffill().to_numpy()[y.size :]
            X = np.column_stack([values, cal])
        else:
            X = cal
        Xs.append(X)
    if missing_future and fill == "error":
        raise InputError(
            f"The covariates file lacks values for some of the {horizon} future periods of {len(missing_future)} "
            f"series (e.g. {missing_future[:3]}); add their planned prices and promotions for the periods after "
            f"the history's last one, or choose the fill policy last (carry the last known values forward) "
            f"or drop (leave those periods out).",
            parameter="covariates_fill",
        )
    panel.Xs = Xs
    panel.covariate_names = names + (cal_names if panel.ys else [])
    panel.covariates_filled = filled
    panel.omitted = dict(filled) if fill == "drop" else {}
    panel.without_covariates = without
    if filled or without:
        parts = []
        if filled:
            first = next(iter(filled))
            what = "left out of the forecast" if fill == "drop" else "filled with the last known values"
            parts.append(
                f"{sum(map(len, filled.values()))} future periods of {len(filled)} series lack covariates and "
                f"were {what} (e.g. {first!r} at {panel.label(np.array(filled[first][:3]))})"
            )
        if without:
            parts.append(
                f"{len(without)} series have no covariates and are forecast without them (e.g. {without[0]!r})"
            )
        warnings.warn("; ".join(parts) + ".", DataWarning, stacklevel=2)
    return panel


def demand_series(
    transactions: pd.DataFrame,
    key_col: str,
    ts_col: str,
    value_col: str,
    freq: Literal["D", "W"] = "W",
) -> pd.DataFrame:
    """Per-period demand per key (item, category...) from transaction lines: a long table.

    Sums `value_col` (units or revenue) per key and period (days, or ISO weeks starting on
    Monday, labelled by that Monday). Each key gets every period from its first sale to the
    last period of the whole table: a period without sales of that key is 0, a period with
    no transactions at all (the data are missing, e.g. an outage) is NaN.

    Returns columns `id, date, value`, sorted by id then date.
    """
    if freq not in SEASON_BY_FREQ:
        raise InputError(f"must be 'D' or 'W' for transaction data; received {freq!r}.", parameter="freq")
    _require_columns(
        transactions, {"key_col": key_col, "ts_col": ts_col, "value_col": value_col}, "transactions"
    )
    ts = pd.to_datetime(transactions[ts_col], errors="coerce", format="ISO8601")
    bad = ts.isna().to_numpy()
    if bad.any():
        raise InputError(
            f"Column `{ts_col}` has {int(bad.sum())} values that are not timestamps (rows {_rows(bad)}); "
            f"fix or drop them."
        )
    day = ts.dt.tz_localize(None).dt.normalize() if ts.dt.tz is not None else ts.dt.normalize()
    period = day - pd.to_timedelta(day.dt.dayofweek, unit="D") if freq == "W" else day
    frame = pd.DataFrame(
        {
            "id": transactions[key_col].astype("string"),
            "date": period,
            "value": parse_numbers(transactions[value_col], value_col, "value_col"),
        }
    )
    sums = frame.groupby(["id", "date"], sort=True)["value"].sum(min_count=1)
    step = pd.Timedelta(days=1 if freq == "D" else 7)
    grid = pd.date_range(period.min(), period.max(), freq=step)
    seen = grid.isin(pd.DatetimeIndex(period.unique()))
    parts = []
    for key, s in sums.groupby(level="id", sort=True):
        dates = s.index.get_level_values("date")
        span = grid[grid >= dates.min()]
        values = np.where(seen[grid >= dates.min()], 0.0, np.nan)
        values[span.get_indexer(dates)] = s.to_numpy()
        parts.append(pd.DataFrame({"id": key, "date": span.date, "value": values}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["id", "date", "value"])
