"""One call of an Outpost SQL helper: its name and named arguments, rendered
as ``SELECT outpost.NAME(arg => %(arg)s::type, ...)``. Arguments left as
None are omitted, so the helper's own defaults apply."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ._types import AsyncConnectionArg, UserRef

#: The SQL type of every helper argument this package passes.
SQL_TYPES: Mapping[str, str] = {
    "kind": "text",
    "template": "text",
    "to_user": "text",
    "to_address": "text",
    "locale": "text",
    "subject": "text",
    "body": "text",
    "html": "text",
    "message": "text",
    "note": "text",
    "content": "text",
    "phone_number": "text",
    "language": "text",
    "twilio_id": "text",
    "sender": "text",
    "format": "text",
    "idempotency_key": "text",
    "tenant": "text",
    "provider": "text",
    "category": "text",
    "digest_key": "text",
    "context": "jsonb",
    "options": "jsonb",
    "links": "jsonb",
    "run_at": "timestamptz",
    "expires_at": "timestamptz",
    "priority": "int",
    "max_attempts": "int",
    "extra_attempts": "int",
    "message_id": "bigint",
}

@dataclass(frozen=True)
class Call:
    """``outpost.<function>(**args)``, run on ``connection`` (None: the default)."""

    function: str
    args: Mapping[str, object]
    connection: AsyncConnectionArg = field(default=None, compare=False)

    def sql(self) -> tuple[str, dict[str, object]]:
        names = [n for n, v in self.args.items() if v is not None]
        params: dict[str, object] = {}
        for name in names:
            value = self.args[name]
            if SQL_TYPES[name] == "jsonb":
                value = json.dumps(value)
            elif SQL_TYPES[name] == "timestamptz" and isinstance(value, datetime):
                value = value.isoformat()
            params[name] = value
        arglist = ", ".join(f"{n} => %({n})s::{SQL_TYPES[n]}" for n in names)
        return f"SELECT outpost.{self.function}({arglist})", params


def user_id(user: UserRef) -> str:
    """An application user as Outpost's ``to_user``: a User-like object's
    ``pk``, or the id itself."""
    pk: object = getattr(user, "pk", user)
    if pk is None:
        raise ValueError("the user has no primary key (not saved yet?)")
    return str(pk)
