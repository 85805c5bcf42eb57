"""The app's settings: ``OUTPOST = {"DATABASE": "default"}``."""

from __future__ import annotations

from django.conf import settings

#: The newest Outpost migration this package needs (`outpost migrate`): the
#: newest that defines, alters or re-grants a helper, table or view the package
#: names (0029: outpost.inbox_token; 0028: outpost.messages' escalation
#: links, which escalate= and fallback= write; 0020: tenants' row-level security on what it reads, the
#: helpers' caller; 0019: send_system_message_template's options; 0016:
#: outpost.message_status). tests/test_schema_version.py checks it against
#: ../../sql.
REQUIRED_SCHEMA = "0029"


def database_alias() -> str:
    config = getattr(settings, "OUTPOST", None) or {}
    return str(config.get("DATABASE", "default"))
