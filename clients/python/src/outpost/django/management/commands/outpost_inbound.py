"""``python manage.py outpost_inbound``: fires ``email_received`` for every
e-mail Outpost stores and ``message_status`` for every provider event, in id
order, from a durable cursor; keeps running through database restarts."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...conf import database_alias
from ...inbound import Consumer


class Command(BaseCommand):
    help = "Fire email_received and message_status for what Outpost receives."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--consumer", default="django",
                            help="cursor name; each name receives every row once (default: django)")
        parser.add_argument("--database", default=None,
                            help="DATABASES alias (default: OUTPOST['DATABASE'])")
        parser.add_argument("--poll-interval", type=float, default=5.0,
                            help="seconds between polls when no NOTIFY arrives (default: 5)")
        parser.add_argument("--once", action="store_true",
                            help="handle what is stored, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        consumer = Consumer(options["consumer"], alias=options["database"] or database_alias(),
                            poll_interval=options["poll_interval"])

        def stop(signum: int, frame: Any) -> None:
            consumer.stopping = True

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            consumer.run(once=options["once"])
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
