"""The work a broadcast does ahead of delivery (pages of due rows, encoded bytes, template globals),
and a recipient address the SMTP client cannot send to."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from cartwise.campaigns import EmailChannel, Message, Templates
from cartwise.pipelines import sender
from cartwise.pipelines.campaigns import broadcast
from cartwise.store import open_store

from .smtp_support import SmtpServer, make_shop, settings_for_smtp


def test_a_broadcast_read_in_many_pages_sends_each_recipient_once(
    tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender, "_BATCH", 7)  # 61 recipients: nine pages, the last one short
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 70, consent=lambda i: i % 8 != 0)
        result = broadcast(store, settings, "paged", rule="orders >= 0", template="newsletter", holdout=0.0)
        states = dict(
            store.con.execute(
                "SELECT state, count(*) FROM send_log WHERE source = 'paged' GROUP BY 1"
            ).fetchall()
        )
    received = Counter(m["To"] for m in smtp.sink.messages)
    assert result["sent"] == 61 and result["skipped"] == {"no_consent": 9}
    assert len(received) == 61 and set(received.values()) == {1}
    assert states == {"sent": 61, "skipped:no_consent": 9}


def _message(subject: str = "Hello") -> Message:
    return Message(
        key="0123456789abcdef0123456789abcdef",
        message_id="<0123456789abcdef0123456789abcdef@cartwise.test>",
        to="u1@example.test",
        subject=subject,
        html="<html><body><p>Gr\u00fc\u00dfe</p></body></html>\n",
        text="Gr\u00fc\u00dfe\n" + "x" * 200 + "\n",
        headers={"List-Unsubscribe": "<https://shop.example/u/1>"},
    )


def test_an_encoded_message_goes_out_as_the_same_bytes(tmp_path: Path, smtp: SmtpServer) -> None:
    channel = EmailChannel(settings_for_smtp(tmp_path / "shop.duckdb", smtp.port))
    plain, encoded = _message(), channel.encode(_message())
    assert encoded.wire is not None and encoded.wire.startswith(b"From: shop@cartwise.test\r\n")
    assert channel.send(plain).state == "sent" and channel.send(encoded).state == "sent"
    channel.close()
    first, second = (m.as_bytes() for m in smtp.sink.messages)
    assert first.replace(smtp.sink.messages[0]["Date"].encode(), b"") == second.replace(
        smtp.sink.messages[1]["Date"].encode(), b""
    )


def test_a_message_that_cannot_be_encoded_still_fails_with_its_reason(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    channel = EmailChannel(settings_for_smtp(tmp_path / "shop.duckdb", smtp.port))
    message = channel.encode(_message("Hello\r\nBcc: everyone@example.test"))
    assert message.wire is None
    outcome = channel.send(message)
    channel.close()
    assert outcome.state == "permanent" and "header Subject contains a line break" in outcome.reason
    assert smtp.sink.messages == []


def test_jinja_globals_stay_available_to_templates(tmp_path: Path) -> None:
    (tmp_path / "count.subject").write_text("{% for i in range(3) %}{{ i }}{% endfor %}")
    (tmp_path / "count.html").write_text("{% set ns = namespace(n=0) %}{% set ns.n = 2 %}{{ ns.n }}")
    (tmp_path / "count.txt").write_text("{{ dict(a=1)['a'] }} {{ customer.user_id }}")
    templates = Templates(tmp_path)
    for user in ("u1", "u2"):  # a second render sees the same globals, none of the first's values
        rendered = templates.render("count", {"customer": {"user_id": user}})
        assert (rendered.subject, rendered.html, rendered.text) == ("012", "2", f"1 {user}")


def test_a_non_ascii_address_fails_that_send_not_the_broadcast(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 5)
        store.con.execute("UPDATE users SET email = 'j\u00fcrgen@example.test' WHERE user_id = 'u00002'")
        result = broadcast(store, settings, "umlaut", rule="orders >= 0", template="welcome", holdout=0.0)
        reason = store.con.execute("SELECT reason FROM send_log WHERE user_id = 'u00002'").fetchall()[0][0]
    assert result["sent"] == 4 and result["failed"] == {"failed_permanent": 1}
    assert "is not ASCII" in reason and "users table" in reason
    assert len(smtp.sink.messages) == 4
