"""Dashboard sessions kept on the server: opened at sign-in, ended by logout, an admin, removing
the user, changing their password or revoking the key they signed in with.

Promises:
- The cookie carries a random 32-byte token; the store keeps only `sha256(token)`, so a copy of
  the store cannot be turned into a cookie. `session_id` is a separate public handle used to
  list and end sessions.
- A session lasts `session_hours` from sign-in (no sliding renewal) and survives a restart
  unless it was ended, expired, its user was removed or its key revoked.
- The CSRF token of a session is derived from its token (`csrf_token`), so it needs no storage
  and survives a restart with the session.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cartwise.core.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from cartwise.store import Store

_COLUMNS = "session_id, kind, name, key_id, created_at, expires_at, ended_at, ended_reason"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def token_digest(token: str) -> str:
    """What the store keeps of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token of the session whose cookie holds `token` (a one-way derivation)."""
    return hashlib.sha256(b"cartwise-csrf\x00" + token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    """A stored session, without its token."""

    session_id: str
    kind: str  # "user" or "key"
    name: str
    key_id: str | None
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    ended_reason: str | None

    def live(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.expires_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "kind": self.kind,
            "name": self.name,
            "key_id": self.key_id,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "ended_reason": self.ended_reason,
        }


def _infos(rows: list[tuple[Any, ...]]) -> list[SessionInfo]:
    return [SessionInfo(*r[:8]) for r in rows]


def open_session(
    store: Store, *, kind: str, name: str, key_id: str | None, hours: float
) -> tuple[SessionInfo, str]:
    """Record a new session; returns it and the token for the cookie (never stored)."""
    if kind not in ("user", "key"):
        raise InputError(f"Session kind {kind!r} is unknown; use `user` or `key`.")
    token = secrets.token_urlsafe(32)
    now = _now()
    info = SessionInfo(
        secrets.token_hex(8), kind, name, key_id, now, now + timedelta(hours=hours), None, None
    )
    store.con.execute(
        "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
        [info.session_id, token_digest(token), kind, name, key_id, info.created_at, info.expires_at],
    )
    return info, token


def list_sessions(store: Store, *, include_ended: bool = False) -> list[SessionInfo]:
    """Sessions, newest first: live ones only, or with `include_ended` also ended and expired ones."""
    where = "" if include_ended else "WHERE ended_at IS NULL AND expires_at > ?"
    params = [] if include_ended else [_now()]
    rows = store.con.execute(
        f"SELECT {_COLUMNS} FROM sessions {where} ORDER BY created_at DESC, session_id", params
    ).fetchall()
    return _infos(rows)


def end_session(store: Store, session_id: str, *, reason: str) -> SessionInfo:
    """End one session by its id; ending it twice keeps the first time and reason."""
    rows = store.con.execute("SELECT count(*) FROM sessions WHERE session_id = ?", [session_id]).fetchall()
    if not rows[0][0]:
        raise NotFoundError(
            f"No session with id {session_id!r}; `cartwise users-admin sessions` or "
            "GET /api/v1/sessions lists them."
        )
    store.con.execute(
        "UPDATE sessions SET ended_at = ?, ended_reason = ? WHERE session_id = ? AND ended_at IS NULL",
        [_now(), reason, session_id],
    )
    found = store.con.execute(
        f"SELECT {_COLUMNS} FROM sessions WHERE session_id = ?", [session_id]
    ).fetchall()
    return _infos(found)[0]


def end_sessions_of(
    store: Store, *, reason: str, username: str | None = None, key_id: str | None = None
) -> list[str]:
    """End every live session of user `username` (or opened with key `key_id`); returns their ids."""
    if (username is None) == (key_id is None):
        raise InputError("Name exactly one of a user name or a key id whose sessions to end.")
    column, kind, value = ("name", "user", username) if username is not None else ("key_id", "key", key_id)
    rows = store.con.execute(
        f"SELECT session_id FROM sessions WHERE kind = ? AND {column} = ? AND ended_at IS NULL", [kind, value]
    ).fetchall()
    ids = [r[0] for r in rows]
    if ids:
        store.con.execute(
            f"UPDATE sessions SET ended_at = ?, ended_reason = ? WHERE kind = ? AND {column} = ? "
            "AND ended_at IS NULL",
            [_now(), reason, kind, value],
        )
    return ids


def forget_old_sessions(store: Store, *, days: float = 30) -> int:
    """Delete sessions that expired more than `days` ago (ended or not); returns how many.

    Keeps the table, and `GET /api/v1/sessions?all=true`, bounded; a recent ended session stays
    listed with its reason.
    """
    cutoff = _now() - timedelta(days=days)
    rows = store.con.execute("SELECT count(*) FROM sessions WHERE expires_at < ?", [cutoff]).fetchall()
    if rows[0][0]:
        store.con.execute("DELETE FROM sessions WHERE expires_at < ?", [cutoff])
    return int(rows[0][0])


class SessionRing:
    """In-memory view of the live sessions: a request's cookie is checked without touching DuckDB.

    The service is the only writer, so sessions it opens or ends are applied to the ring and
    the store together; `load` reads the store once at start-up.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_digest: dict[str, SessionInfo] = {}

    def load(self, store: Store) -> int:
        """Live sessions whose user still exists or whose key is still active; returns how many."""
        rows = store.con.execute(
            f"""SELECT token_hash, {_COLUMNS} FROM sessions s
                WHERE ended_at IS NULL AND expires_at > ?
                  AND ((kind = 'user' AND EXISTS (SELECT 1 FROM dashboard_users u WHERE u.username = s.name))
                    OR (kind = 'key' AND EXISTS (
                        SELECT 1 FROM api_keys k WHERE k.key_id = s.key_id AND k.revoked_at IS NULL)))""",
            [_now()],
        ).fetchall()
        with self._lock:
            self._by_digest = {r[0]: SessionInfo(*r[1:9]) for r in rows}
            return len(self._by_digest)

    def add(self, info: SessionInfo, token: str) -> None:
        with self._lock:
            self._by_digest[token_digest(token)] = info

    def lookup(self, token: str) -> SessionInfo | None:
        """The live session whose cookie holds `token`, or None (unknown, ended or expired)."""
        digest = token_digest(token)
        with self._lock:
            info = self._by_digest.get(digest)
            if info is not None and not info.live(_now()):
                del self._by_digest[digest]
                return None
            return info

    def remove(self, session_ids: list[str]) -> None:
        wanted = set(session_ids)
        with self._lock:
            self._by_digest = {d: i for d, i in self._by_digest.items() if i.session_id not in wanted}

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_digest)
