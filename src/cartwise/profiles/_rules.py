"""Segment rules: a small, safe expression language over profile fields.

A rule is a Python-like boolean expression: comparisons (`<`, `<=`, `>`, `>=`, `==`,
`!=`), `in` / `not in` a list, `and`, `or`, `not`, parentheses, numbers, strings, `true`,
`false` and `null`, e.g. `p_alive < 0.3 and clv_12m > 200` or
`rfm_segment in ["At risk", "Can't lose them"] and email_consent == true`. It is parsed with
`ast` and translated to an Ibis predicate; nothing is evaluated as Python.
"""

from __future__ import annotations

import ast
import difflib
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from cartwise.core.errors import ConfigError

if TYPE_CHECKING:
    import ibis.expr.types as ir

_COMPARE = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a.isnull() if b is None else a == b,
    ast.NotEq: lambda a, b: a.notnull() if b is None else a != b,
}
_CONSTANTS = {"true": True, "false": False, "null": None}


def _constant(node: ast.AST, rule: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
    ):
        number = node.operand.value
        if isinstance(number, int | float):
            return -number
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    raise ConfigError(
        f"In rule {rule!r}: expected a number, a quoted text, true, false or null, got `{ast.unparse(node)}`."
    )


def _column(node: ast.AST, table: ir.Table, rule: str) -> ir.Column:
    if not isinstance(node, ast.Name) or node.id in _CONSTANTS:
        raise ConfigError(
            f"In rule {rule!r}: expected a profile field on the left of a comparison, got `{ast.unparse(node)}`."
        )
    if node.id not in table.columns:
        near = difflib.get_close_matches(node.id, table.columns, n=1)
        hint = f" Did you mean `{near[0]}`?" if near else ""
        raise ConfigError(
            f"In rule {rule!r}: `{node.id}` is not a profile field.{hint} Fields: {', '.join(table.columns)}."
        )
    return table[node.id]


def _checked(column: ir.Column, value: Any, name: str, rule: str) -> Any:
    """`value` made comparable with `column`, or ConfigError saying what the field holds."""
    dtype = column.type()
    if value is None:
        return value
    if dtype.is_boolean():
        ok = isinstance(value, bool)
        kind = "true or false"
    elif dtype.is_numeric():
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        kind = "a number"
    elif dtype.is_timestamp() or dtype.is_date():
        kind = 'a date such as "2025-01-31"'
        if isinstance(value, str):
            try:
                return pd.Timestamp(value).to_pydatetime()
            except ValueError:
                pass
        ok = False
    else:
        ok = isinstance(value, str)
        kind = "a quoted text"
    if not ok:
        raise ConfigError(f"In rule {rule!r}: `{name}` holds {kind}; {value!r} cannot be compared with it.")
    return value


def _translate(node: ast.AST, table: ir.Table, rule: str) -> ir.BooleanValue:
    if isinstance(node, ast.BoolOp):
        parts = [_translate(v, table, rule) for v in node.values]
        result = parts[0]
        for part in parts[1:]:
            result = (result & part) if isinstance(node.op, ast.And) else (result | part)
        return result
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ~_translate(node.operand, table, rule)
    if isinstance(node, ast.Compare):
        result = None
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            column = _column(left, table, rule)
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ast.List | ast.Tuple):
                    raise ConfigError(
                        f'In rule {rule!r}: `in` needs a list, e.g. rfm_segment in ["Lost", "At risk"].'
                    )
                values = [_checked(column, _constant(v, rule), left.id, rule) for v in right.elts]  # type: ignore[attr-defined]
                part = column.isin(values) if isinstance(op, ast.In) else ~column.isin(values)
            elif type(op) in _COMPARE:
                part = _COMPARE[type(op)](column, _checked(column, _constant(right, rule), left.id, rule))  # type: ignore[attr-defined]
            else:
                raise ConfigError(f"In rule {rule!r}: operator `{ast.unparse(node)}` is not supported.")
            # Missing values never match a comparison (a customer without a score is not in "score < 3").
            part = part.fill_null(False)
            result = part if result is None else result & part
            left = right
        assert result is not None
        return result
    raise ConfigError(
        f"In rule {rule!r}: `{ast.unparse(node)}` is not a condition; combine comparisons such as "
        "`p_alive < 0.3` with and, or, not."
    )


def rule_filter(table: ir.Table, rule: str) -> ir.BooleanValue:
    """The Ibis predicate for `rule` over `table`; ConfigError naming the problem when it is not valid."""
    if not rule or not rule.strip():
        raise ConfigError(
            "A segment rule is empty; write one such as `orders >= 3 and days_since_last_order > 90`."
        )
    text = rule.strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        # Python reports a rule cut short ("orders >") at offset 0: say "at the end" instead.
        where = f"at column {exc.offset}" if exc.offset and exc.offset <= len(text) else "at the end"
        hint = " Compare with `==`, not `=`." if re.search(r"(?<![=!<>])=(?!=)", text) else ""
        raise ConfigError(f"Rule {rule!r} does not parse ({exc.msg} {where}).{hint}") from exc
    return _translate(tree.body, table, rule)
