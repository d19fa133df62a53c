"""One recommendation server per running service: `recs_for(service)` starts it, `stop_recs` stops it."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from cartwise.core.errors import InputError
from cartwise.service.recs.options import RecsOptions
from cartwise.service.recs.server import RecsServer

if TYPE_CHECKING:
    from cartwise.service.service import Service

_SERVERS: weakref.WeakKeyDictionary[Service, RecsServer] = weakref.WeakKeyDictionary()
_SERVERS_LOCK = threading.Lock()


def recs_for(service: Service, options: RecsOptions | None = None) -> RecsServer:
    """The service's recommendation server, started on first use (its tables are created then)."""
    server = _SERVERS.get(service)
    if server is not None:
        return server
    with _SERVERS_LOCK:
        server = _SERVERS.get(service)
        if server is None:
            if service.gate is None:
                raise InputError("The service is not started.")
            from cartwise.service.experiments import experiments_for

            artefacts = service.gate.store.artefacts_path()
            server = RecsServer(
                service.gate,
                artefacts,
                options or RecsOptions.from_settings(service.settings),
                experiments=experiments_for(service),
            ).start()
            _SERVERS[service] = server
    return server


def stop_recs(service: Service, timeout: float = 10.0) -> None:
    """Stop the service's recommendation server (writes buffered impressions); before the store closes."""
    with _SERVERS_LOCK:
        server = _SERVERS.pop(service, None)
    if server is not None:
        server.stop(timeout=timeout)


def running_recs(service: Service) -> RecsServer | None:
    """The service's recommendation server if it was started, without starting one."""
    return _SERVERS.get(service)


def forget_in_recs(service: Service, user_ids: list[str]) -> dict[str, int]:
    """Erased customers leave the running recommendation server at once (`RecsServer.forget_users`);
    nothing to do when it has not started."""
    server = _SERVERS.get(service)
    return server.forget_users(user_ids) if server is not None else {}


@contextmanager
def erasing_in_recs(service: Service, user_ids: list[str]) -> Iterator[None]:
    """Around an erasure's rewrite of the saved models and `forget_in_recs`: a retrain of the
    running server that read the events before the erasure forgets `user_ids` before it saves
    or swaps its model (`RecsServer.erasing`); nothing to hold when no server runs."""
    server = _SERVERS.get(service)
    if server is None:
        yield
        return
    with server.erasing(user_ids):
        yield
