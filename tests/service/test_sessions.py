"""Server-side sessions over a real store: what is kept, what ends them, what a restart reloads."""

from __future__ import annotations

import time

import pytest

from cartwise.core.errors import InputError, NotFoundError
from cartwise.service import keys as keys_job
from cartwise.service import sessions as sessions_job
from cartwise.service.sessions import SessionRing, csrf_token, token_digest
from cartwise.store import Store


def test_only_the_tokens_hash_is_stored(store: Store) -> None:
    keys_job.add_user(store, "alice", "a long password")
    info, token = sessions_job.open_session(store, kind="user", name="alice", key_id=None, hours=12)
    rows = store.con.execute("SELECT * FROM sessions").fetchall()
    assert len(rows) == 1 and token not in {str(v) for v in rows[0]}
    assert token_digest(token) in rows[0]
    assert (info.expires_at - info.created_at).total_seconds() == 12 * 3600
    assert csrf_token(token) != token and csrf_token(token) != token_digest(token)


def test_a_session_expires_after_its_hours(store: Store) -> None:
    keys_job.add_user(store, "alice", "a long password")
    ring = SessionRing()
    info, token = sessions_job.open_session(store, kind="user", name="alice", key_id=None, hours=0.3 / 3600)
    ring.add(info, token)
    assert ring.lookup(token) == info
    time.sleep(0.4)
    assert ring.lookup(token) is None
    assert sessions_job.list_sessions(store) == []
    assert [s.session_id for s in sessions_job.list_sessions(store, include_ended=True)] == [info.session_id]
    ring.load(store)
    assert len(ring) == 0


def test_load_skips_ended_sessions_removed_users_and_revoked_keys(store: Store) -> None:
    for name in ("alice", "bob", "carol"):
        keys_job.add_user(store, name, "a long password")
    key, _ = keys_job.create_key(store, scope="admin", name="ops")
    opened = {
        name: sessions_job.open_session(store, kind="user", name=name, key_id=None, hours=1)
        for name in ("alice", "bob", "carol")
    }
    by_key = sessions_job.open_session(store, kind="key", name="ops", key_id=key.key_id, hours=1)
    sessions_job.end_session(store, opened["alice"][0].session_id, reason="logout")
    # A user removed without going through remove_user (an old store, a hand edit) stays out too.
    store.con.execute("DELETE FROM dashboard_users WHERE username = 'bob'")
    ring = SessionRing()
    assert ring.load(store) == 2
    assert ring.lookup(opened["carol"][1]) is not None and ring.lookup(by_key[1]) is not None
    keys_job.revoke_key(store, key.key_id)
    ring.load(store)
    assert ring.lookup(by_key[1]) is None and ring.lookup(opened["alice"][1]) is None
    assert ring.lookup(opened["bob"][1]) is None and ring.lookup("not a token") is None


def test_ending_twice_keeps_the_first_reason(store: Store) -> None:
    keys_job.add_user(store, "alice", "a long password")
    info, _ = sessions_job.open_session(store, kind="user", name="alice", key_id=None, hours=1)
    first = sessions_job.end_session(store, info.session_id, reason="logout")
    again = sessions_job.end_session(store, info.session_id, reason="ended by an admin")
    assert again.ended_reason == "logout" and again.ended_at == first.ended_at
    with pytest.raises(NotFoundError, match="users-admin sessions"):
        sessions_job.end_session(store, "nope", reason="logout")
    with pytest.raises(InputError, match="exactly one"):
        sessions_job.end_sessions_of(store, reason="x")
    with pytest.raises(InputError, match="kind"):
        sessions_job.open_session(store, kind="robot", name="x", key_id=None, hours=1)


def test_removing_a_user_or_a_new_password_ends_only_their_sessions(store: Store) -> None:
    for name in ("alice", "bob"):
        keys_job.add_user(store, name, "a long password")
    alice, _ = sessions_job.open_session(store, kind="user", name="alice", key_id=None, hours=1)
    bob, _ = sessions_job.open_session(store, kind="user", name="bob", key_id=None, hours=1)
    assert keys_job.add_user(store, "alice", "another long password")["sessions_ended"] == 1
    assert [s.session_id for s in sessions_job.list_sessions(store)] == [bob.session_id]
    assert keys_job.remove_user(store, "bob")["sessions_ended"] == 1
    ended = {s.name: s.ended_reason for s in sessions_job.list_sessions(store, include_ended=True)}
    assert ended == {"alice": "password changed", "bob": "user removed"}
    assert alice.session_id != bob.session_id


def test_sessions_expired_a_month_ago_are_forgotten(store: Store) -> None:
    keys_job.add_user(store, "alice", "a long password")
    old, _ = sessions_job.open_session(store, kind="user", name="alice", key_id=None, hours=1)
    recent, _ = sessions_job.open_session(store, kind="user", name="alice", key_id=None, hours=1)
    store.con.execute(
        "UPDATE sessions SET expires_at = expires_at - INTERVAL 31 DAY WHERE session_id = ?", [old.session_id]
    )
    assert sessions_job.forget_old_sessions(store) == 1
    kept = sessions_job.list_sessions(store, include_ended=True)
    assert [s.session_id for s in kept] == [recent.session_id]
