"""Broadcasts against a real SMTP server: holdout, consent, headers, resume, failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartwise.pipelines.campaigns import broadcast
from cartwise.store import open_store

from .smtp_support import SmtpServer, make_shop, settings_for_smtp


def test_broadcast_sends_each_recipient_one_message_and_records_the_holdout(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 200, consent=lambda i: i % 10 != 0)
        result = broadcast(store, settings, "spring", rule="orders >= 0", template="win_back", holdout=0.1)
        again = broadcast(store, settings, "spring", rule="orders >= 0", template="win_back", holdout=0.1)
        held = {
            r[0] for r in store.con.execute("SELECT user_id FROM campaign_members WHERE holdout").fetchall()
        }
    received = [m["To"] for m in smtp.sink.messages]
    assert result["audience"] == 200 and result["holdout"] == len(held) and 5 < len(held) < 40
    assert result["sent"] == len(received) == len(set(received))
    assert not held & {r.split("@")[0] for r in received}
    no_consent = {f"u{i:05d}" for i in range(0, 200, 10)} - held
    assert result["skipped"] == {"no_consent": len(no_consent)}
    assert result["sent"] + len(no_consent) + len(held) == 200
    assert again["sent"] == result["sent"] and len(smtp.sink.messages) == len(received)
    assert smtp.sink.greetings == 1  # one connection reused for every message


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--holdout", "1.5"], "--holdout: 1.5 must be at least 0 and below 1"),
        (["--template", "nope"], "--template: 'nope' has no part"),
        (["--channel", "fax"], "--channel: 'fax' is not a channel; use one of email, webhook"),
        (["--rule", "orders >>> 1"], "orders >>> 1"),
    ],
)
def test_bad_flags_are_refused_with_the_flag_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], expected: str
) -> None:
    from cartwise.cli import main

    settings = settings_for_smtp(tmp_path / "shop.duckdb", 1)
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 3)
    args = {"--rule": "orders >= 0", "--template": "welcome", "--holdout": "0.1", "--channel": "email"}
    args.update(dict(zip(flags[::2], flags[1::2], strict=True)))
    argv = ["campaigns", "send", "bad", "--db", str(settings.db), *[x for kv in args.items() for x in kv]]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err


def test_messages_carry_identity_unsubscribe_headers_and_both_parts(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port, public_url="https://shop.example")
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 3)
        broadcast(store, settings, "news", rule="orders >= 0", template="newsletter", holdout=0.0)
    message = smtp.sink.messages[0]
    assert message["Message-ID"].endswith("@cartwise.test>")
    assert message["List-Unsubscribe"].startswith("<https://shop.example/api/v1/campaigns/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    types = {part.get_content_type() for part in message.walk()}
    assert {"text/plain", "text/html"} <= types
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True)
    assert b"/api/v1/campaigns/open/" in html and b"/api/v1/campaigns/click/" in html


def test_different_flags_for_a_started_campaign_are_refused(tmp_path: Path, smtp: SmtpServer) -> None:
    from cartwise.core.errors import ConfigError

    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 5)
        broadcast(store, settings, "c1", rule="orders >= 0", template="win_back")
        with pytest.raises(ConfigError, match="started with 'win_back', not 'welcome'") as refused:
            broadcast(store, settings, "c1", rule="orders >= 0", template="welcome")
    assert refused.value.parameter == "template"


def test_a_hard_bounce_is_recorded_and_suppressed(tmp_path: Path, smtp: SmtpServer) -> None:
    smtp.sink.refuse["u00001@example.test"] = "550 5.1.1 no such user"
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 3)
        first = broadcast(store, settings, "a", rule="orders >= 0", template="win_back", holdout=0.0)
        second = broadcast(store, settings, "b", rule="orders >= 0", template="win_back", holdout=0.0)
        reason = store.con.execute(
            "SELECT reason FROM send_log WHERE source = 'a' AND user_id = 'u00001'"
        ).fetchall()[0][0]
    assert first["failed"] == {"failed_permanent": 1} and first["sent"] == 2
    assert "550" in reason
    assert second["skipped"] == {"bounced": 1}


def test_a_template_failing_for_one_customer_fails_only_that_send(tmp_path: Path, smtp: SmtpServer) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "odd.subject").write_text("Hi")
    (templates / "odd.html").write_text("<p>{{ 1 // (customer.user_id[-1] | int - 1) }}</p>")
    (templates / "odd.txt").write_text("x")
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port, templates_dir=templates)
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 3)
        result = broadcast(store, settings, "odd", rule="orders >= 0", template="odd", holdout=0.0)
        reason = store.con.execute("SELECT reason FROM send_log WHERE user_id = 'u00001'").fetchall()[0][0]
    assert result["sent"] == 2 and result["failed"] == {"failed_permanent": 1}
    assert "ZeroDivisionError" in reason


def test_a_server_that_is_down_pauses_sending_until_it_is_back(tmp_path: Path) -> None:
    server = SmtpServer()
    settings = settings_for_smtp(tmp_path / "shop.duckdb", server.port)
    pauses: list[float] = []

    def on_pause(reason: str, seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            server.start()

    try:
        with open_store(settings.db, settings=settings) as store:
            make_shop(store, 4)
            result = broadcast(
                store,
                settings,
                "later",
                rule="orders >= 0",
                template="welcome",
                holdout=0.0,
                on_pause=on_pause,
            )
        assert pauses[:2] == [1.0, 2.0] and result["sent"] == 4 and len(server.sink.messages) == 4
    finally:
        server.stop()
