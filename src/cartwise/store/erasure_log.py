"""The erasure log's keyed hash: "was this id erased?" answerable, the id not guessable.

`erasures` keeps, per erasure, `subject_hash` = HMAC-SHA256 under the store's own secret
(`erasure_key`, made once per store) of the sha256 of the customer id. A plain sha256 of an id
can be reversed by hashing candidate ids (`u000001`, `u000002`, ... or a list of e-mail
addresses); without the secret nothing can be tested. The HMAC is taken over the sha256
rather than the id so that the logs of older stores, which held the bare sha256, could be
converted in place (migration 17) without the ids.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import duckdb


def erasure_secret(con: duckdb.DuckDBPyConnection) -> str:
    """The store's erasure key (64 hex digits), made on first use."""
    row = con.execute("SELECT secret FROM erasure_key LIMIT 1").fetchall()
    if row:
        return str(row[0][0])
    secret = secrets.token_hex(32)
    con.execute("INSERT INTO erasure_key VALUES (?)", [secret])
    return secret


def _keyed(secret: str, digest: str) -> str:
    return hmac.new(secret.encode("ascii"), digest.encode("ascii"), hashlib.sha256).hexdigest()


def keyed_subject_hash(secret: str, user_id: str) -> str:
    """HMAC-SHA256 under `secret` of the hex sha256 of `user_id` (what `erasures` holds)."""
    return _keyed(secret, hashlib.sha256(user_id.encode("utf-8")).hexdigest())


def key_the_erasure_log(con: duckdb.DuckDBPyConnection) -> None:
    """Migration 17's step: make the key and, while the log still has its bare `subject_sha256`
    column, rename it and replace each logged sha256 with its HMAC. A log already keyed is left
    alone, so running the step again (a replayed migration, an imported export) changes nothing."""
    secret = erasure_secret(con)
    unkeyed = con.execute(
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_name = 'erasures' AND column_name = 'subject_sha256'"
    ).fetchall()[0][0]
    if not unkeyed:
        return
    con.execute("ALTER TABLE erasures RENAME COLUMN subject_sha256 TO subject_hash")
    for (digest,) in con.execute(
        "SELECT DISTINCT subject_hash FROM erasures WHERE subject_hash IS NOT NULL"
    ).fetchall():
        con.execute(
            "UPDATE erasures SET subject_hash = ? WHERE subject_hash = ?",
            [_keyed(secret, str(digest)), digest],
        )
