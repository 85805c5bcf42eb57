"""The app's settings: ``OUTPOST = {"DATABASE": "default"}``."""

from __future__ import annotations

from django.conf import settings

#: The newest Outpost migration this package needs (`outpost migrate`).
REQUIRED_SCHEMA = "0012"


def database_alias() -> str:
    config = getattr(settings, "OUTPOST", None) or {}
    return str(config.get("DATABASE", "default"))
