"""``megforms.notifications.twilio.TwilioClient`` on Outpost: SMS and voice
calls are enqueued (kinds ``sms`` and ``voice``) and translated and sent by
the daemon, which speaks Romanian too."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _builders
from ._db import execute_id
from ._options import PhoneOptions
from ._types import ConnectionArg

if TYPE_CHECKING:
    from typing_extensions import Unpack


class TwilioClient:
    """Same methods as the original. ``twilio_id`` None means Outpost's
    ``[twilio] from`` (default ``+15005550006``, the original default)."""

    def send_sms(
        self, to: str, language: str | None, msg: str, twilio_id: str | None = None,
        *, connection: ConnectionArg = None, **options: Unpack[PhoneOptions],
    ) -> int:
        """Queues ``msg`` as an SMS to the E.164 number ``to``; returns the message id."""
        return execute_id(_builders.send_sms(to, language, msg, twilio_id, connection=connection, **options))

    def make_call(
        self, to: str, language: str | None, voice_msg: str, twilio_id: str | None = None,
        *, connection: ConnectionArg = None, **options: Unpack[PhoneOptions],
    ) -> int:
        """Queues a call reading ``voice_msg`` in ``language``; returns the message id."""
        return execute_id(_builders.make_call(to, language, voice_msg, twilio_id, connection=connection, **options))


#: The original module's singleton.
twilio_client = TwilioClient()
