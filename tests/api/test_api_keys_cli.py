"""`cartwise keys` and `cartwise users-admin`, and how keys and passwords are kept."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from cartwise.cli.keys import keys
from cartwise.cli.users_admin import users_admin
from cartwise.core.settings import get_settings
from cartwise.service.keys import KeyRing, check_password, hash_password
from cartwise.service.service import open_ready_store


def _run(command: object, args: list[str], stdin: str | None = None) -> dict[str, object]:
    result = CliRunner().invoke(command, args, input=stdin)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    db = str(tmp_path / "k.duckdb")
    created = _run(keys, ["create", "--scope", "collect", "--name", "storefront", "--db", db, "--json"])
    key = str(created["key"])
    assert key.startswith("cw_") and len(key) > 40
    listed = _run(keys, ["list", "--db", db, "--json"])["keys"]
    assert listed == [{k: v for k, v in created.items() if k != "key"}]  # type: ignore[comparison-overlap]
    revoked = _run(keys, ["revoke", str(created["key_id"]), "--db", db, "--json"])
    assert revoked["revoked_at"] is not None

    settings = get_settings(db=Path(db))
    with open_ready_store(settings) as store:
        rows = store.con.execute("SELECT key_hash FROM api_keys").fetchall()
        ring = KeyRing()
        ring.load(store)
    assert rows == [(hashlib.sha256(key.encode()).hexdigest(),)]
    assert ring.verify(key) is None  # revoked keys are not loaded


def test_bad_scope_and_unknown_key_fail_clearly(tmp_path: Path) -> None:
    db = str(tmp_path / "k.duckdb")
    bad = CliRunner().invoke(keys, ["create", "--scope", "superuser", "--name", "x", "--db", db])
    assert bad.exit_code == 2 and "superuser" in bad.output
    missing = CliRunner().invoke(keys, ["revoke", "nope", "--db", db])
    assert missing.exit_code != 0 and "keys list" in str(missing.exception)


def test_users_admin_add_list_remove(tmp_path: Path) -> None:
    db = str(tmp_path / "u.duckdb")
    _run(users_admin, ["add", "alice", "--password-stdin", "--db", db, "--json"], stdin="a long password\n")
    assert [u["username"] for u in _run(users_admin, ["list", "--db", db, "--json"])["users"]] == ["alice"]  # type: ignore[index]
    with open_ready_store(get_settings(db=Path(db))) as store:
        stored = store.con.execute("SELECT password_hash FROM dashboard_users").fetchall()[0][0]
    assert stored.startswith("scrypt$") and "a long password" not in stored
    assert check_password("a long password", stored) and not check_password("a long passwore", stored)
    _run(users_admin, ["remove", "alice", "--db", db, "--json"])
    assert _run(users_admin, ["list", "--db", db, "--json"])["users"] == []


def test_short_password_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        users_admin, ["add", "bob", "--password-stdin", "--db", str(tmp_path / "u.duckdb")], input="short\n"
    )
    assert result.exit_code != 0 and "at least 8" in str(result.exception)


def test_password_hashes_are_salted() -> None:
    assert hash_password("same password") != hash_password("same password")
    assert not check_password("x", "garbage")
