"""The enqueue functions take explicit keywords: a misspelt one is a
TypeError naming it (it used to become a silently ignored option), and each
documented option still reaches the message's ``options`` JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest

import outpost
import outpost.aio as aio
from outpost import EmailOptions, PhoneOptions, PushOptions, tasks
from outpost.twilio import TwilioClient

#: Each public enqueue function with the positional arguments it needs.
SYNC: list[tuple[str, Callable[..., object], tuple[object, ...]]] = [
    ("send_mail_template", outpost.send_mail_template, ("welcome",)),
    ("send_simple_mail", outpost.send_simple_mail, ("Subject", "Text")),
    ("send_user_push_message", outpost.send_user_push_message, ("42", "Hi")),
    ("send_system_message_template", outpost.send_system_message_template, ("42", "welcome")),
    ("send_system_message", outpost.send_system_message, ("42", "Hi")),
    ("TwilioClient.send_sms", TwilioClient().send_sms, ("+353861234567", "en", "Hi")),
    ("TwilioClient.make_call", TwilioClient().make_call, ("+353861234567", "en", "Hi")),
    ("tasks.make_phone_call", tasks.make_phone_call, ("42",)),
    ("tasks.make_phone_call.delay", tasks.make_phone_call.delay, ("42",)),
    ("tasks.send_phone_sms_predefined", tasks.send_phone_sms_predefined, ("42",)),
    ("tasks.send_phone_sms", tasks.send_phone_sms, ("42", "Hi")),
    ("tasks.send_sms_to_number", tasks.send_sms_to_number, ("+40721234567", "ro", "Hi")),
]
ASYNC: list[tuple[str, Callable[..., Awaitable[object]], tuple[object, ...]]] = [
    ("aio.send_mail_template", aio.send_mail_template, ("welcome",)),
    ("aio.send_simple_mail", aio.send_simple_mail, ("Subject", "Text")),
    ("aio.send_user_push_message", aio.send_user_push_message, ("42", "Hi")),
    ("aio.send_system_message_template", aio.send_system_message_template, ("42", "welcome")),
    ("aio.TwilioClient.send_sms", aio.TwilioClient().send_sms, ("+353861234567", "en", "Hi")),
    ("aio.make_phone_call", aio.make_phone_call, ("42",)),
    ("aio.send_sms_to_number", aio.send_sms_to_number, ("+40721234567", "ro", "Hi")),
]


@pytest.mark.parametrize(("name", "function", "args"), SYNC, ids=[c[0] for c in SYNC])
def test_a_misspelt_keyword_is_a_type_error_naming_it(name: str, function: Callable[..., object],
                                                      args: tuple[object, ...]) -> None:
    # Raised before any connection is looked for: none is configured here.
    with pytest.raises(TypeError, match="'prioirty'"):
        function(*args, prioirty=5)


@pytest.mark.parametrize(("name", "function", "args"), ASYNC, ids=[c[0] for c in ASYNC])
def test_a_misspelt_keyword_is_a_type_error_naming_it_async(
        name: str, function: Callable[..., Awaitable[object]], args: tuple[object, ...]) -> None:
    async def main() -> object:
        return await function(*args, cc_list=["a@example.com"])

    with pytest.raises(TypeError, match="'cc_list'"):
        asyncio.run(main())


def test_a_keyword_of_another_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="'deep_link'"):
        outpost.send_simple_mail("S", "T", to_address="a@example.com", deep_link="meg://x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'cc'"):
        outpost.send_user_push_message("42", "Hi", cc="a@example.com")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'options'"):
        outpost.send_system_message_template("42", "welcome", options={"a": 1})  # type: ignore[call-arg]


EMAIL: EmailOptions = {
    "from_email": "MEG <noreply@meg.test>",
    "reply_to": ["help@meg.test", "support@meg.test"],
    "cc": ["cc@example.com"],
    "bcc": "bcc@example.com",
    "headers": {"X-Campaign": "monthly"},
    "attachments": [{"filename": "a.txt", "content": "aGk=", "type": "text/plain", "disposition": "attachment"}],
    "verbatim": True,
    "categories": ["monthly"],
    "custom_args": {"campaign": "monthly"},
    "mirror_to_chat": False,
    "digest_window": "1h",
}
PUSH: PushOptions = {"title": "New", "deep_link": "meg://inbox", "extra": {"k": "v"}, "app": "second",
                     "device_type": "ios", "digest_window": "30m"}
PHONE: PhoneOptions = {"from": "+15005550007", "digest_window": "1h"}


def expected(options: dict[str, Any]) -> dict[str, Any]:
    out = {("from" if k == "from_email" else k): v for k, v in options.items()}
    return json.loads(json.dumps(out))  # type: ignore[no-any-return]


def stored_options(conn: psycopg.Connection[Any], message_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT options FROM outpost.messages WHERE id = %s", (message_id,)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def test_each_documented_option_reaches_options(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:  # rolled back at the end
        conn.execute("INSERT INTO outpost.recipients (user_id, phone) VALUES ('42', '+353861234567')")
        cases: list[tuple[int, dict[str, Any]]] = [
            (outpost.send_mail_template("welcome", to_user="42", connection=conn, **EMAIL), dict(EMAIL)),
            (outpost.send_simple_mail("S", "T", to_address="a@example.com", connection=conn, **EMAIL),
             {**EMAIL, "links": []}),
            (outpost.send_user_push_message("42", "Hi", connection=conn, **PUSH), dict(PUSH)),
            (TwilioClient().send_sms("+353861234567", "en", "Hi", connection=conn, **PHONE), dict(PHONE)),
            (TwilioClient().make_call("+353861234567", "en", "Hi", connection=conn, **PHONE), dict(PHONE)),
            (tasks.make_phone_call("42", connection=conn, **PHONE), dict(PHONE)),
            (tasks.send_phone_sms_predefined("42", connection=conn, **PHONE), dict(PHONE)),
            (tasks.send_phone_sms("42", "Hi", connection=conn, **PHONE), dict(PHONE)),
            (tasks.send_sms_to_number("+40721234567", "ro", "Hi", connection=conn, **PHONE), dict(PHONE)),
        ]
        for message_id, options in cases:
            assert stored_options(conn, message_id) == expected(options)
        # A raw options= mapping is kept, the named keywords merged over it.
        merged = outpost.send_simple_mail("S", "T", to_address="a@example.com", connection=conn,
                                          options={"cc": "old@example.com", "custom": 1}, cc="new@example.com")
        assert stored_options(conn, merged) == {"cc": "new@example.com", "custom": 1, "links": []}
        # twilio_id wins over from=.
        sms = TwilioClient().send_sms("+353861234567", "en", "Hi", "+15005550009", connection=conn, **PHONE)
        assert stored_options(conn, sms)["from"] == "+15005550009"
        conn.rollback()
