"""A system check: Outpost's schema must exist and be at least as new as
this package expects (``outpost.schema_migrations``, written by
``outpost migrate``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Warning, register
from django.db import DatabaseError, connections

from .._sql import load
from .conf import REQUIRED_SCHEMA, database_alias


@register("outpost")
def outpost_schema(app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None,
                   **kwargs: Any) -> list[CheckMessage]:
    alias = database_alias()
    hint = f"run `outpost migrate` against the database of DATABASES[{alias!r}]"
    try:
        with connections[alias].cursor() as cur:
            cur.execute(load("schema_exists"))
            (exists,) = cur.fetchone()
            if not exists:
                return [Warning("Outpost's schema is missing (no outpost.schema_migrations)",
                                hint=hint, id="outpost.W001")]
            cur.execute(load("schema_version"), [REQUIRED_SCHEMA])
            newest, has_required = cur.fetchone()
    except DatabaseError as e:
        return [Warning(f"cannot check Outpost's schema: {e}".strip(), hint=hint, id="outpost.W003")]
    if not has_required:
        return [Warning(
            f"Outpost's schema is older than this package expects (newest migration {newest}, "
            f"needs {REQUIRED_SCHEMA})", hint=hint, id="outpost.W002")]
    return []
