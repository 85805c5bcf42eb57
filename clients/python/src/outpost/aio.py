"""The same functions as coroutines: ``connection=`` takes a
``psycopg.AsyncConnection``; without one, inside Django the call runs on
Django's connection (in Django's thread for sync code, so it joins the same
transaction), outside Django on a connection to ``OUTPOST_DATABASE_URL`` or
``DATABASE_URL`` (autocommit, one per event loop)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, ParamSpec

from . import _builders
from ._call import Call, user_id
from ._db import aexecute_id, aexecute_optional_id, aquery
from ._options import PhoneOptions
from ._sql import load
from ._types import AsyncConnectionArg, UserRef
from .status import MessageStatus, build, latest_attempt

if TYPE_CHECKING:
    from typing_extensions import Unpack

P = ParamSpec("P")


def _async(builder: Callable[P, Call]) -> Callable[P, Awaitable[int]]:
    async def run(*args: P.args, **kwargs: P.kwargs) -> int:
        return await aexecute_id(builder(*args, **kwargs))

    run.__name__ = builder.__name__
    run.__qualname__ = builder.__qualname__
    run.__doc__ = builder.__doc__
    return run


send_mail_template = _async(_builders.send_mail_template)
send_simple_mail = _async(_builders.send_simple_mail)
send_user_push_message = _async(_builders.send_user_push_message)
send_system_message = _async(_builders.send_system_message)
send_system_message_template = _async(_builders.send_system_message_template)
send_sms = _async(_builders.send_sms)
make_call = _async(_builders.make_call)
make_phone_call = _async(_builders.make_phone_call)
send_phone_sms_predefined = _async(_builders.send_phone_sms_predefined)
send_phone_sms = _async(_builders.send_phone_sms)
send_sms_to_number = _async(_builders.send_sms_to_number)


class TwilioClient:
    """``outpost.twilio.TwilioClient`` with coroutine methods."""

    async def send_sms(self, to: str, language: str | None, msg: str, twilio_id: str | None = None,
                       *, connection: AsyncConnectionArg = None, **options: Unpack[PhoneOptions]) -> int:
        return await send_sms(to, language, msg, twilio_id, connection=connection, **options)

    async def make_call(self, to: str, language: str | None, voice_msg: str, twilio_id: str | None = None,
                        *, connection: AsyncConnectionArg = None, **options: Unpack[PhoneOptions]) -> int:
        return await make_call(to, language, voice_msg, twilio_id, connection=connection, **options)


async def inbox_token(user: UserRef, ttl: timedelta | str = timedelta(hours=1), *,
                      connection: AsyncConnectionArg = None) -> str:
    """A token for ``user``'s real-time inbox, valid for ``ttl`` (at most 7 days)."""
    ttl_text = f"{ttl.total_seconds()} seconds" if isinstance(ttl, timedelta) else ttl
    rows = await aquery(load("inbox_token"), {"user_id": user_id(user), "ttl": ttl_text}, connection)
    return str(rows[0]["token"])


async def cancel(message_id: int, *, connection: AsyncConnectionArg = None) -> int | None:
    return await aexecute_optional_id(_builders.cancel(message_id, connection=connection))


async def retry(message_id: int, extra_attempts: int = 3, *, connection: AsyncConnectionArg = None) -> int | None:
    return await aexecute_optional_id(_builders.retry(message_id, extra_attempts, connection=connection))


async def status(message_id: int, *, connection: AsyncConnectionArg = None) -> MessageStatus | None:
    params = {"id": int(message_id)}
    rows = await aquery(load("status"), params, connection)
    if not rows:
        return None
    attempts = (await aquery(load("status_attempts"), params, connection) if rows[0]["can_read_attempts"]
                else latest_attempt(rows[0]))
    return build(rows[0], attempts, await aquery(load("status_events"), params, connection))
