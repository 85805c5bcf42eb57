"""``EMAIL_BACKEND = "outpost.django.EmailBackend"``: every message becomes
one Outpost e-mail row (``outpost.enqueue``), in the caller's transaction on
Django's connection for ``OUTPOST["DATABASE"]``. Nothing is pickled: the
subject, text, HTML, addresses, headers and each attachment (with its type,
disposition, Content-ID and own headers) are columns and ``options`` JSON,
sent as given (``options.verbatim``)."""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Iterable, Sequence
from email.message import Message as MimeMessage
from email.utils import getaddresses
from typing import Any

from django.core.mail import BadHeaderError
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import DEFAULT_ATTACHMENT_MIME_TYPE, EmailMessage
from django.db import transaction

from .._call import Call
from .._db import execute_id
from .._options import COLUMN_KEYS
from .._types import ConnectionArg
from .conf import database_alias


class UnsupportedEmail(ValueError):
    """The message uses something Outpost cannot carry; the text says what."""


#: Headers Outpost composes itself; an extra header may not set them.
_OWNED = {"to", "cc", "bcc", "date", "message-id", "subject", "mime-version",
          "content-type", "content-transfer-encoding", "sender"}
#: A part's headers that Outpost writes from the attachment's fields.
_PART_OWNED = {"content-type", "content-transfer-encoding", "content-disposition",
               "content-id", "mime-version"}


def _unfold(value: Any) -> str:
    return " ".join(str(value).split())


def _content_type(part: MimeMessage) -> str:
    text = part.get_content_type()
    for key, value in (part.get_params(header="content-type") or [])[1:]:
        if isinstance(value, tuple):  # RFC 2231
            from email.utils import collapse_rfc2231_value

            value = collapse_rfc2231_value(value)
        value = str(value).replace("\\", "\\\\").replace('"', '\\"')
        text += f'; {key}="{value}"'
    return text


def _mime_attachment(part: MimeMessage) -> dict[str, Any]:
    if part.is_multipart():
        raise UnsupportedEmail("a multipart attachment cannot be carried; attach its bytes instead")
    content = part.get_payload(decode=True)
    if not isinstance(content, bytes):
        content = str(part.get_payload()).encode()
    content_id = part.get("Content-ID")
    disposition = part.get_content_disposition() or ("inline" if content_id else "attachment")
    entry: dict[str, Any] = {
        "content": base64.b64encode(content).decode("ascii"),
        "type": _content_type(part),
        "disposition": disposition,
    }
    filename = part.get_filename()
    if filename:
        entry["filename"] = filename
    if content_id:
        entry["content_id"] = _unfold(content_id)
    headers = {k: _unfold(v) for k, v in part.items() if k.lower() not in _PART_OWNED}
    if headers:
        entry["headers"] = headers
    return entry


def _attachment(item: Any, encoding: str) -> dict[str, Any]:
    if isinstance(item, MimeMessage):
        return _mime_attachment(item)
    filename, content, mimetype = item
    mimetype = mimetype or (filename and mimetypes.guess_type(filename)[0]) or DEFAULT_ATTACHMENT_MIME_TYPE
    if isinstance(content, EmailMessage):
        content = content.message().as_bytes()
    elif isinstance(content, MimeMessage):
        content = content.as_bytes()
    if isinstance(content, str):
        content = content.encode(encoding)
        if mimetype.startswith("text/") and "charset" not in mimetype:
            mimetype += f"; charset={encoding}"
    entry: dict[str, Any] = {
        "content": base64.b64encode(bytes(content)).decode("ascii"),
        "type": mimetype,
        "disposition": "attachment",
    }
    if filename:
        entry["filename"] = str(filename)
    return entry


def _addresses(values: Iterable[Any], field: str) -> list[str]:
    out = []
    for value in values:
        text = str(value)
        if "\n" in text or "\r" in text:
            raise BadHeaderError(f"{field} address {text!r} contains a newline")
        out.append(text)
    return out


def message_call(message: EmailMessage, *, provider: str | None = None, connection: ConnectionArg = None) -> Call:
    """The ``outpost.enqueue`` call that carries ``message``."""
    encoding = message.encoding or "utf-8"
    to = _addresses(message.to, "To")
    if not to:
        raise UnsupportedEmail("Outpost needs at least one To address (cc/bcc alone are not enough)")
    for address in to:
        if len(getaddresses([address])) != 1:
            raise UnsupportedEmail("a To address holds a comma (in its display name?); Outpost cannot carry it")
    subject = str(message.subject or "")
    if "\n" in subject or "\r" in subject:
        raise BadHeaderError("the subject contains a newline")

    text: str | None = str(message.body or "")
    html: str | None = None
    if message.content_subtype == "html":
        text, html = None, text
    for alternative in getattr(message, "alternatives", None) or ():
        content, mimetype = alternative[0], alternative[1]
        content = content.decode(encoding) if isinstance(content, bytes) else str(content)
        if mimetype == "text/html" and html is None:
            html = content
        elif mimetype == "text/plain" and text is None:
            text = content
        else:
            raise UnsupportedEmail(
                f"an alternative of type {mimetype} cannot be carried (only one text/plain and one text/html)"
            )

    options: dict[str, Any] = {"verbatim": True, "from": str(message.from_email)}
    headers: dict[str, str] = {}
    for name, value in (message.extra_headers or {}).items():
        lowered = name.lower()
        value = str(value)
        if "\n" in value or "\r" in value:
            raise BadHeaderError(f"header {name} contains a newline")
        if lowered == "from":
            options["from"] = value
        elif lowered == "reply-to":
            options["reply_to"] = [value]
        elif lowered in _OWNED:
            raise UnsupportedEmail(f"header {name} is composed by Outpost and cannot be set")
        else:
            headers[name] = value
    if message.reply_to and "reply_to" not in options:
        options["reply_to"] = _addresses(message.reply_to, "Reply-To")
    if message.cc:
        options["cc"] = _addresses(message.cc, "Cc")
    if message.bcc:
        options["bcc"] = _addresses(message.bcc, "Bcc")
    if headers:
        options["headers"] = headers
    if message.attachments:
        options["attachments"] = [_attachment(a, encoding) for a in message.attachments]

    columns = dict(getattr(message, "outpost", None) or {})
    unknown = sorted(set(columns) - COLUMN_KEYS)
    if unknown:
        raise TypeError(f"message.outpost does not take {', '.join(unknown)}")
    columns.setdefault("provider", provider)
    return Call(
        "enqueue",
        {"kind": "email", "to_address": ", ".join(to), "subject": subject, "body": text,
         "html": html, "options": options, **columns},
        connection,
    )


class EmailBackend(BaseEmailBackend):
    """Queues messages in Outpost instead of sending them.

    Options (``get_connection(...)`` keywords, or ``MAILERS[alias]["OPTIONS"]``
    under Django 6.1): ``database`` (a ``DATABASES`` alias; default
    ``OUTPOST["DATABASE"]``), ``provider`` (force ``smtp``, ``sendgrid``, ...),
    ``fail_silently``. Each enqueued message gets ``message.outpost_id``.
    Set ``message.outpost = {"priority": 5, "idempotency_key": "..."}`` for
    the other columns.
    """

    def __init__(self, fail_silently: bool = False, *, database: str | None = None,
                 provider: str | None = None, **kwargs: Any) -> None:
        # fail_silently is handled here, not by the base class (Django 6.1
        # deprecates the base class's handling).
        super().__init__(**kwargs)
        self.fail_silently = fail_silently
        self.database = database
        self.provider = provider

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        if not email_messages:
            return 0
        alias = self.database or database_alias()
        sent = 0
        for message in email_messages:
            try:
                if not message.recipients():
                    continue
                call = message_call(message, provider=self.provider, connection=alias)
                if self.fail_silently:
                    # A savepoint, so a failure leaves the caller's transaction usable.
                    with transaction.atomic(using=alias):
                        message_id = execute_id(call)
                else:
                    message_id = execute_id(call)
            except Exception:
                if not self.fail_silently:
                    raise
                continue
            # The documented attribute EmailMessage does not declare.
            message.outpost_id = message_id  # type: ignore[attr-defined]
            sent += 1
        return sent
