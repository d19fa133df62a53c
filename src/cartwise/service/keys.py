"""API keys and dashboard users: creation, listing, revocation and verification.

Promises:
- A key is `cw_<key_id>_<secret>` with a 32-byte random secret; only `sha256(key)` is
  stored, and verification compares digests with `hmac.compare_digest` (constant time).
- A password is stored as `scrypt$n$r$p$salt_hex$hash_hex` (hashlib.scrypt, 16-byte salt)
  and checked in constant time.
- A failed sign-in costs the same for an unknown user name as for a known one: the unknown
  name's password is checked against `_DUMMY_HASH`, one scrypt with the same parameters.
- Removing a user or changing their password ends their sessions (`cartwise.service.sessions`).
- Nothing here logs or returns a key or password except `create_key`, once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from cartwise.core.errors import InputError, NotFoundError
from cartwise.service.sessions import end_sessions_of

if TYPE_CHECKING:
    from cartwise.store import Store

Scope = Literal["collect", "read", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
# What each scope may do: `collect` only sends events, `read` reads, `admin` does everything.
GRANTS: dict[str, frozenset[str]] = {
    "collect": frozenset({"collect"}),
    "read": frozenset({"read"}),
    "admin": frozenset({"collect", "read", "admin"}),
}
_PREFIX = "cw_"
# scrypt cost: n=2**14, r=8 takes ~50 ms and 16 MiB, the usual interactive-login setting.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
# The hash of a random password nobody kept, with the parameters above: an unknown user name's
# password is checked against it, so that path costs the same one scrypt as a known name's.
_DUMMY_HASH = (
    "scrypt$16384$8$1$59f2571f42c542565dce756a1a507544$81195221dc94b0d40e1ce1bdf982be300152163ec1f31d"
    "77a8371ac75f5ced7ca43772feaf421058abd508b0c66b6fe6b77ee6b3d6e6f4b2465de1cf886cce24"
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """A stored key, without its secret."""

    key_id: str
    name: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "scope": self.scope,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise InputError(f"Scope {scope!r} is unknown; use one of {', '.join(SCOPES)}.")


def create_key(store: Store, *, scope: str, name: str) -> tuple[KeyInfo, str]:
    """Create a key; returns its record and the key itself, which is never shown again."""
    _check_scope(scope)
    name = name.strip()
    if not name:
        raise InputError(
            "is empty; give the key a name that says where it is used, e.g. 'storefront'.", parameter="name"
        )
    key_id = secrets.token_hex(6)
    key = f"{_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    info = KeyInfo(key_id, name, scope, _now(), None)
    store.con.execute(
        "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, NULL)",
        [key_id, name, scope, _digest(key), info.created_at],
    )
    return info, key


def _rows_to_infos(rows: list[tuple[Any, ...]]) -> list[KeyInfo]:
    return [KeyInfo(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def list_keys(store: Store) -> list[KeyInfo]:
    """Every key, newest first, revoked ones included."""
    rows = store.con.execute(
        "SELECT key_id, name, scope, created_at, revoked_at FROM api_keys ORDER BY created_at DESC, key_id"
    ).fetchall()
    return _rows_to_infos(rows)


def revoke_key(store: Store, key_id: str) -> KeyInfo:
    """Revoke a key by its id (the part after `cw_`); revoking twice keeps the first time."""
    # fetchall, not fetchone: DuckDB keeps a half-read result open and blocks the next query.
    rows = store.con.execute("SELECT count(*) FROM api_keys WHERE key_id = ?", [key_id]).fetchall()
    if not rows[0][0]:
        raise NotFoundError(f"No key with id {key_id!r}; `cartwise keys list` shows the ids.")
    store.con.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE key_id = ?", [_now(), key_id]
    )
    found = store.con.execute(
        "SELECT key_id, name, scope, created_at, revoked_at FROM api_keys WHERE key_id = ?", [key_id]
    ).fetchall()
    return _rows_to_infos(found)[0]


class KeyRing:
    """In-memory view of the active keys for the service: verify without touching DuckDB.

    The service is the only writer, so keys created or revoked through it are applied to
    the ring and the store together; `load` reads the store once at start-up.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, tuple[str, KeyInfo]] = {}

    def load(self, store: Store) -> None:
        rows = store.con.execute(
            "SELECT key_id, name, scope, created_at, revoked_at, key_hash FROM api_keys WHERE revoked_at IS NULL"
        ).fetchall()
        with self._lock:
            self._active = {r[0]: (r[5], KeyInfo(r[0], r[1], r[2], r[3], r[4])) for r in rows}

    def add(self, info: KeyInfo, key: str) -> None:
        with self._lock:
            self._active[info.key_id] = (_digest(key), info)

    def remove(self, key_id: str) -> None:
        with self._lock:
            self._active.pop(key_id, None)

    def is_active(self, key_id: str) -> bool:
        with self._lock:
            return key_id in self._active

    def verify(self, key: str) -> KeyInfo | None:
        """The active key matching `key`, or None (unknown, malformed or revoked)."""
        if not key.startswith(_PREFIX):
            return None
        key_id = key[len(_PREFIX) :].split("_", 1)[0]
        with self._lock:
            entry = self._active.get(key_id)
        # Hash anyway so a miss costs the same as a hit.
        presented = _digest(key)
        if entry is None:
            hmac.compare_digest(presented, presented)
            return None
        return entry[1] if hmac.compare_digest(presented, entry[0]) else None


# -- dashboard users -------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt_hex$hash_hex` of `password` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether `password` matches a `hash_password` result (constant-time comparison)."""
    try:
        scheme, n, r, p, salt_hex, hash_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(hash_hex)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt_hex),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


def add_user(store: Store, username: str, password: str) -> dict[str, Any]:
    """Add a dashboard user, or replace the password of an existing one (which ends their sessions)."""
    username = username.strip()
    if not username:
        raise InputError("The user name is empty; give a name such as 'alice'.")
    if len(password) < 8:
        raise InputError(f"The password has {len(password)} characters; use at least 8.")
    now = _now()
    with store.transaction() as con:
        con.execute("DELETE FROM dashboard_users WHERE username = ?", [username])
        con.execute("INSERT INTO dashboard_users VALUES (?, ?, ?)", [username, hash_password(password), now])
        ended = end_sessions_of(store, reason="password changed", username=username)
    return {"username": username, "created_at": now.isoformat(), "sessions_ended": len(ended)}


def list_users(store: Store) -> list[dict[str, Any]]:
    """Dashboard users (names and creation times only)."""
    rows = store.con.execute("SELECT username, created_at FROM dashboard_users ORDER BY username").fetchall()
    return [{"username": r[0], "created_at": r[1].isoformat()} for r in rows]


def remove_user(store: Store, username: str) -> dict[str, Any]:
    """Remove a dashboard user and end their sessions; raises NotFoundError when absent."""
    rows = store.con.execute("SELECT count(*) FROM dashboard_users WHERE username = ?", [username]).fetchall()
    if not rows[0][0]:
        raise NotFoundError(f"No dashboard user {username!r}; `cartwise users-admin list` shows them.")
    with store.transaction() as con:
        con.execute("DELETE FROM dashboard_users WHERE username = ?", [username])
        ended = end_sessions_of(store, reason="user removed", username=username)
    return {"username": username, "removed": True, "sessions_ended": len(ended)}


def password_hash_of(store: Store, username: str) -> str | None:
    """The stored password hash of `username`, or None when there is no such user."""
    rows = store.con.execute(
        "SELECT password_hash FROM dashboard_users WHERE username = ?", [username]
    ).fetchall()
    return str(rows[0][0]) if rows else None


def check_user_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored` (a `password_hash_of` result); one scrypt either way.

    For an unknown user (`stored` None) the password is checked against `_DUMMY_HASH` and the
    answer is False, so the two paths do the same work and user names cannot be told by timing.
    """
    matches = check_password(password, stored if stored is not None else _DUMMY_HASH)
    return matches and stored is not None


def verify_user(store: Store, username: str, password: str) -> bool:
    """Whether `username` exists and `password` is theirs (one scrypt whether or not it exists)."""
    return check_user_password(password_hash_of(store, username), password)
