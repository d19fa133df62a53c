"""Compiled SQL kept across reads: Ibis expressions of the same shape compile once per process.

Every dashboard read gets an Ibis backend of its own (over its own cursor and snapshot), and
Ibis compiles each query from its expression tree in Python: about 57 ms of a funnel's ~92 ms
of interpreter time at 10M events, taken on a reader thread while the collector's threads
wait for the interpreter (py-spy, BENCHMARKS.md "Reads beside the writer"). The SQL of an
expression depends only on its tree, so it is kept here, keyed by the tree with its tables
unbound from the backend that read them (`Expr.unbind`, Ibis's own way of naming an
expression apart from its connection): the next read of the same shape, on any reader,
skips the compile. In-memory and cached tables carry names unique to one read, so their
queries never match another's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

_MAX_ENTRIES = 256
_compiled: OrderedDict[Any, str] = OrderedDict()
_lock = threading.Lock()
stats = {"hits": 0, "misses": 0}


def remember_compiles(backend: Any) -> Any:
    """`backend` (an Ibis SQL backend) with its `compile` answering repeated shapes from memory."""
    compile_now: Callable[..., str] = backend.compile

    def compile(expr: Any, /, *, limit: Any = None, params: Any = None, pretty: bool = False) -> str:
        if params:  # scalar parameters are values, not shape: compile them every time
            return compile_now(expr, limit=limit, params=params, pretty=pretty)
        key = (expr.unbind().op(), limit, pretty)
        with _lock:
            sql = _compiled.get(key)
            if sql is not None:
                _compiled.move_to_end(key)
                stats["hits"] += 1
                return sql
        sql = compile_now(expr, limit=limit, pretty=pretty)
        with _lock:
            stats["misses"] += 1
            _compiled[key] = sql
            if len(_compiled) > _MAX_ENTRIES:
                _compiled.popitem(last=False)
        return sql

    backend.compile = compile
    return backend
