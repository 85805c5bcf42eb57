"""The enqueue functions as `Call`s of Outpost's SQL helpers, with the
original system's names and arguments. `outpost` runs them synchronously,
`outpost.aio` asynchronously."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, cast

from ._call import Call, user_id
from ._options import COLUMN_KEYS, EMAIL_KEYS, PHONE_KEYS, PUSH_KEYS, Columns, EmailOptions, PhoneOptions, PushOptions
from ._types import AsyncConnectionArg, UserRef

if TYPE_CHECKING:
    from typing_extensions import Unpack

#: TwilioClient's default sender in the original system. Outpost's own
#: default (`[twilio] from`) is the same number; None lets that setting decide.
ORIGINAL_TWILIO_ID = "+15005550006"


def _split(function: str, options: Mapping[str, object],
           allowed: frozenset[str]) -> tuple[dict[str, object], dict[str, object] | None]:
    """Common options (columns) apart from the message's `options` JSON.
    ``options=`` given as a dict is merged; ``from_email`` becomes ``from``.
    A keyword outside ``allowed`` is a TypeError naming it."""
    for name in options:
        if name not in allowed:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")
    common = {k: options[k] for k in COLUMN_KEYS if k in options}
    extra = {k: v for k, v in options.items() if k not in COLUMN_KEYS}
    merged = dict(cast("Mapping[str, object]", extra.pop("options", None) or {}))
    if "from_email" in extra:
        extra["from"] = extra.pop("from_email")
    merged.update(extra)
    for name in ("run_at", "expires_at"):
        value = common.get(name)
        if value is not None and not isinstance(value, (datetime, str)):
            raise TypeError(f"{name} must be a datetime or an ISO 8601 string")
    return common, (merged or None)


def _user(user: UserRef | None) -> str | None:
    return None if user is None else user_id(user)


def send_mail_template(
    template_name: str,
    *,
    to_user: UserRef | None = None,
    to_address: str | None = None,
    context: Mapping[str, object] | None = None,
    locale: str | None = None,
    connection: AsyncConnectionArg = None,
    **options: Unpack[EmailOptions],
) -> Call:
    common, extra = _split("send_mail_template", options, EMAIL_KEYS)
    return Call(
        "send_mail_template",
        {"template": template_name, "to_user": _user(to_user), "to_address": to_address,
         "context": dict(context) if context is not None else None, "locale": locale,
         "options": extra, **common},
        connection,
    )


def _links(links: Iterable[Mapping[str, object] | tuple[object, object]]) -> list[dict[str, str]]:
    out = []
    for link in links:
        if isinstance(link, Mapping):
            out.append({"label": str(link["label"]), "url": str(link["url"])})
        else:
            label, url = link
            out.append({"label": str(label), "url": str(url)})
    return out


def send_simple_mail(
    subject: str,
    text: str,
    links: Iterable[Mapping[str, object] | tuple[object, object]] = (),
    *,
    to_user: UserRef | None = None,
    to_address: str | None = None,
    locale: str | None = None,
    connection: AsyncConnectionArg = None,
    **options: Unpack[EmailOptions],
) -> Call:
    common, extra = _split("send_simple_mail", options, EMAIL_KEYS)
    return Call(
        "send_simple_mail",
        {"subject": subject, "body": text, "links": _links(links), "to_user": _user(to_user),
         "to_address": to_address, "locale": locale, "options": extra, **common},
        connection,
    )


def send_user_push_message(
    user: UserRef, message: str, *, connection: AsyncConnectionArg = None, **options: Unpack[PushOptions]
) -> Call:
    common, extra = _split("send_user_push_message", options, PUSH_KEYS)
    return Call(
        "send_user_push_message",
        {"to_user": user_id(user), "message": message, "options": extra, **common},
        connection,
    )


def send_system_message(
    to: UserRef,
    message: str,
    format: str = "plaintext",
    *,
    tenant: str | None = None,
    connection: AsyncConnectionArg = None,
) -> Call:
    """Appends at once and returns the chat message id (not an outbox id)."""
    return Call(
        "send_system_message",
        {"to_user": user_id(to), "message": message, "format": format, "tenant": tenant},
        connection,
    )


def send_system_message_template(
    to: UserRef,
    template_name: str,
    context: Mapping[str, object] | None = None,
    format: str = "plaintext",
    *,
    locale: str | None = None,
    connection: AsyncConnectionArg = None,
    **options: Unpack[Columns],
) -> Call:
    common, _ = _split("send_system_message_template", options, COLUMN_KEYS)
    return Call(
        "send_system_message_template",
        {"to_user": user_id(to), "template": template_name,
         "context": dict(context or {}), "format": format, "locale": locale, **common},
        connection,
    )


def send_sms(
    to: str,
    language: str | None,
    msg: str,
    twilio_id: str | None = None,
    *,
    connection: AsyncConnectionArg = None,
    **options: Unpack[PhoneOptions],
) -> Call:
    """TwilioClient.send_sms: ``msg`` to the number ``to`` in ``language``."""
    common, extra = _split("send_sms", options, PHONE_KEYS)
    return Call(
        "send_sms",
        {"body": msg, "to_address": to, "locale": language, "sender": twilio_id,
         "options": extra, **common},
        connection,
    )


def make_call(
    to: str,
    language: str | None,
    voice_msg: str,
    twilio_id: str | None = None,
    *,
    connection: AsyncConnectionArg = None,
    **options: Unpack[PhoneOptions],
) -> Call:
    """TwilioClient.make_call: ``voice_msg`` read out to ``to`` in ``language``."""
    common, extra = _split("make_call", options, PHONE_KEYS)
    return Call(
        "make_call",
        {"body": voice_msg, "to_address": to, "locale": language, "sender": twilio_id,
         "options": extra, **common},
        connection,
    )


def make_phone_call(
    auditor_id: UserRef, *, connection: AsyncConnectionArg = None, **options: Unpack[PhoneOptions]
) -> Call:
    """The predefined message (template ``predefined.voice.txt``) read out to the user."""
    common, extra = _split("make_phone_call", options, PHONE_KEYS)
    return Call(
        "make_phone_call",
        {"to_user": user_id(auditor_id), "options": extra, **common},
        connection,
    )


def send_phone_sms_predefined(
    auditor_id: UserRef,
    note: str | None = None,
    *,
    connection: AsyncConnectionArg = None,
    **options: Unpack[PhoneOptions],
) -> Call:
    """The predefined text (template ``predefined.sms.txt``) with an optional note."""
    common, extra = _split("send_phone_sms_predefined", options, PHONE_KEYS)
    return Call(
        "send_phone_sms_predefined",
        {"to_user": user_id(auditor_id), "note": note, "options": extra, **common},
        connection,
    )


def send_phone_sms(
    auditor_id: UserRef, content: str, *, connection: AsyncConnectionArg = None, **options: Unpack[PhoneOptions]
) -> Call:
    common, extra = _split("send_phone_sms", options, PHONE_KEYS)
    return Call(
        "send_phone_sms",
        {"to_user": user_id(auditor_id), "content": content, "options": extra, **common},
        connection,
    )


def send_sms_to_number(
    phone_number: str,
    language: str,
    content: str,
    twilio_id: str | None = None,
    *,
    connection: AsyncConnectionArg = None,
    **options: Unpack[PhoneOptions],
) -> Call:
    common, extra = _split("send_sms_to_number", options, PHONE_KEYS)
    return Call(
        "send_sms_to_number",
        {"phone_number": phone_number, "language": language, "content": content,
         "twilio_id": twilio_id, "options": extra, **common},
        connection,
    )


def cancel(message_id: int, *, connection: AsyncConnectionArg = None) -> Call:
    return Call("cancel", {"message_id": int(message_id)}, connection)


def retry(message_id: int, extra_attempts: int = 3, *, connection: AsyncConnectionArg = None) -> Call:
    return Call("retry", {"message_id": int(message_id), "extra_attempts": int(extra_attempts)}, connection)
