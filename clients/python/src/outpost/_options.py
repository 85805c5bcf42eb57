"""The keyword arguments of the enqueue functions, per kind of message: the
columns every helper takes, and the ``options`` JSON keys the daemon reads
for that kind (README, "Options", "SMS and voice calls", "Push
notifications", "In-app messaging", "Digests"). Any other keyword is a
TypeError naming it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal, TypedDict


class Columns(TypedDict, total=False):
    """Columns of ``outpost.messages`` every enqueue function takes."""

    run_at: datetime | str
    expires_at: datetime | str
    priority: int
    idempotency_key: str
    tenant: str
    provider: str
    max_attempts: int
    category: str
    digest_key: str


class FollowUp(TypedDict, total=False):
    """The message an escalation sends (``escalate["then"]``): its kind and
    content; context defaults to the first message's."""

    kind: Literal["email", "sms", "voice", "push", "chat"]
    template: str
    body: str
    subject: str
    html: str
    context: Mapping[str, object]
    locale: str
    options: Mapping[str, object]
    provider: str
    priority: int
    category: str
    escalate: Escalation


class Escalation(TypedDict):
    """``escalate=``: send ``then`` to the same user ``after`` this long
    (``"10m"``, ``"1 hour"``) unless the first message was read, delivered
    or sent by then (docs/escalation.md)."""

    after: str
    unless: Literal["read", "delivered", "sent"]
    then: FollowUp


class Fallback(TypedDict, total=False):
    """``fallback=``: when the user lacks the address for the message's
    kind, send it as ``kind`` instead (an e-mail takes ``subject``, else the
    first line of the body)."""

    kind: Literal["email", "sms", "voice", "push", "chat"]
    subject: str


class _Options(Columns, total=False):
    options: Mapping[str, object]
    """Raw ``options`` JSON; the named keywords below are merged over it."""
    digest_window: str
    """With ``digest_key``: messages due within this duration (``1h``) are sent as one."""
    escalate: Escalation
    """A follow-up to the same user unless this message is read, delivered or sent in time."""
    fallback: Fallback
    """Another kind to send this as when the user has no address for its own."""


#: ``from`` is a Python keyword: pass ``from_email=`` (or ``**{"from": ...}``).
_From = TypedDict("_From", {"from": str}, total=False)


class Attachment(TypedDict, total=False):
    """One entry of ``attachments``; ``content`` is base64."""

    filename: str
    content: str
    type: str
    disposition: Literal["attachment", "inline"]
    content_id: str
    headers: Mapping[str, str]


class EmailOptions(_Options, _From, total=False):
    """``send_mail_template`` and ``send_simple_mail``."""

    from_email: str
    """The From address, ``"Name <addr>"`` (``options.from``)."""
    reply_to: str | Sequence[str]
    cc: str | Sequence[str]
    bcc: str | Sequence[str]
    headers: Mapping[str, str]
    attachments: Sequence[Attachment]
    verbatim: bool
    categories: Sequence[str]
    """SendGrid categories."""
    custom_args: Mapping[str, str]
    """SendGrid custom arguments (``outpost_id`` is always added)."""
    mirror_to_chat: bool
    """Also append the e-mail to the user's in-app chat (or not), over ``[chat]``'s default."""


class PushOptions(_Options, total=False):
    """``send_user_push_message``."""

    title: str
    deep_link: str
    extra: Mapping[str, object]
    app: str
    """A row of ``outpost.push_apps`` instead of ``[push]``'s app."""
    device_type: Literal["ios", "android", "web", "amazon"]
    """With a channel id as ``to_address``."""


class PhoneOptions(_Options, _From, total=False):
    """SMS and voice calls; ``from`` is the sender number (``twilio_id``
    wins when both are given)."""


EMAIL_KEYS = EmailOptions.__required_keys__ | EmailOptions.__optional_keys__
PUSH_KEYS = PushOptions.__required_keys__ | PushOptions.__optional_keys__
PHONE_KEYS = PhoneOptions.__required_keys__ | PhoneOptions.__optional_keys__
COLUMN_KEYS = Columns.__required_keys__ | Columns.__optional_keys__
