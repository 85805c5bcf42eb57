"""Signals fired by ``manage.py outpost_inbound``.

``email_received``: ``sender`` is ``InboundEmail``, ``email`` the received
e-mail (an ``EmailMultiAlternatives`` with the stored verdicts).
``message_status``: ``sender`` is the provider name, with ``message_id``
(None when the event matched no message), ``status`` (the message's status
now), ``event`` (``delivered``, ``bounce``, ...), ``event_id`` and ``payload``.
"""

from django.dispatch import Signal

email_received = Signal()
message_status = Signal()
