"""Signals fired by ``manage.py outpost_inbound``.

``email_received``: ``sender`` is ``InboundEmail``, ``email`` the received
e-mail (an ``EmailMultiAlternatives`` with the stored verdicts).

``message_status``: ``sender`` is the provider name; ``status_event`` is a
``StatusEvent`` (below) with everything about the provider event. The same
fields also arrive as separate keyword arguments (``message_id``, ``status``,
``event``, ``event_id``, ``provider_event_id``, ``occurred_at``,
``payload``), as before ``StatusEvent`` existed, so older receivers work
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.dispatch import Signal

email_received = Signal()
message_status = Signal()


@dataclass(frozen=True)
class StatusEvent:
    """A provider event (a row of ``outpost.events``) with its message's status now."""

    provider: str
    """The provider that reported it (``sendgrid``, ``twilio``, ...); also the signal's ``sender``."""
    message_id: int | None
    """The Outpost message, or None when the event matched no message."""
    status: str | None
    """The message's status now (``delivered``, ``bounced``, ...); None without a message."""
    event: str
    """What the provider reported: ``delivered``, ``bounce``, ``open``, ..."""
    event_id: int
    """The row's id in ``outpost.events``."""
    provider_event_id: str | None
    occurred_at: datetime | None
    payload: dict[str, Any]
    """The provider's event as it was posted (JSON)."""

    def legacy_kwargs(self) -> dict[str, object]:
        """The separate keyword arguments receivers got before ``StatusEvent``."""
        return {"message_id": self.message_id, "status": self.status, "event": self.event,
                "event_id": self.event_id, "provider_event_id": self.provider_event_id,
                "occurred_at": self.occurred_at, "payload": self.payload}
