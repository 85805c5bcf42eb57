"""The app's settings: ``OUTPOST = {"DATABASE": "default"}``."""

from __future__ import annotations

from django.conf import settings

#: The newest Outpost migration this package needs (`outpost migrate`): the
#: newest that defines, alters or re-grants a helper, table or view the package
#: names (0019: send_system_message_template; 0016: outpost.message_status;
#: 0015: the helpers' category and digest_key). tests/test_schema_version.py
#: checks it against ../../sql.
REQUIRED_SCHEMA = "0019"


def database_alias() -> str:
    config = getattr(settings, "OUTPOST", None) or {}
    return str(config.get("DATABASE", "default"))
