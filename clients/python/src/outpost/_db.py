"""Where a call runs: the connection passed as ``connection=``; else, inside
Django, Django's connection for ``OUTPOST["DATABASE"]`` (so the message
commits or rolls back with the caller's transaction); else a connection to
``OUTPOST_DATABASE_URL`` or ``DATABASE_URL`` (autocommit, one per thread,
never preparing a statement, so that it works through a transaction pooler
such as PgBouncer in ``pool_mode = transaction``)."""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from ._call import Call
from ._types import AsyncConnectionArg, Connection, ConnectionArg, Cursor, Params

_local = threading.local()


class ConfigurationError(RuntimeError):
    """No connection was given and none can be found."""


def django_alias() -> str | None:
    """The Django database alias to use, when running inside a configured Django project."""
    try:
        from django.conf import settings
    except ImportError:
        return None
    if not settings.configured:
        return None
    config = getattr(settings, "OUTPOST", None) or {}
    return str(config.get("DATABASE", "default"))


def database_url() -> str:
    url = os.environ.get("OUTPOST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        raise ConfigurationError(
            "no connection: pass connection=, run inside Django, "
            "or set OUTPOST_DATABASE_URL or DATABASE_URL"
        )
    return url


def _own_connection() -> psycopg.Connection[TupleRow]:
    conn: psycopg.Connection[TupleRow] | None = getattr(_local, "conn", None)
    if conn is None or conn.closed or conn.broken:
        conn = psycopg.connect(database_url(), autocommit=True, prepare_threshold=None)
        _local.conn = conn
    return conn


def _cursor_rows(cursor: Cursor) -> tuple[list[str], list[Sequence[Any]]]:
    names = [str(d[0]) for d in cursor.description or ()]
    return names, list(cursor.fetchall())


def _sync_connection(connection: AsyncConnectionArg) -> Connection:
    if connection is None:
        alias = django_alias()
        if alias is None:
            return _own_connection()
        connection = alias
    if isinstance(connection, str):
        from django.db import connections

        return connections[connection]
    if isinstance(connection, psycopg.AsyncConnection):
        raise TypeError("an async connection: use outpost.aio")
    return connection


def query(sql: str, params: Params, connection: ConnectionArg = None) -> list[dict[str, Any]]:
    """Rows of ``sql`` as dicts, on the connection chosen as described above:
    a psycopg connection, a DB-API one (Django's wrapper, psycopg2, ...), a
    Django ``DATABASES`` alias, or None."""
    with _sync_connection(connection).cursor() as cur:
        cur.execute(sql, params)
        names, rows = _cursor_rows(cur)
    return [dict(zip(names, row, strict=True)) for row in rows]


def execute(call: Call) -> object:
    """Runs ``call`` and returns the helper's result."""
    sql, params = call.sql()
    rows = query(sql, params, _sync_connection(call.connection))
    return next(iter(rows[0].values()))


def optional_id(call: Call, value: object) -> int | None:
    """The id a helper returned (a bigint), or None (SQL NULL)."""
    if value is None or isinstance(value, int):
        return value
    raise TypeError(f"outpost.{call.function} returned {value!r}, not an id")


def required_id(call: Call, value: object) -> int:
    """The id an enqueue helper returned; it never returns NULL."""
    result = optional_id(call, value)
    if result is None:
        raise TypeError(f"outpost.{call.function} returned NULL, not an id")
    return result


def execute_id(call: Call) -> int:
    return required_id(call, execute(call))


def execute_optional_id(call: Call) -> int | None:
    return optional_id(call, execute(call))


# --- async -------------------------------------------------------------------

_async_conns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, psycopg.AsyncConnection[TupleRow]] = (
    weakref.WeakKeyDictionary())


async def _own_async_connection() -> psycopg.AsyncConnection[TupleRow]:
    key = asyncio.get_running_loop()
    conn = _async_conns.get(key)
    if conn is None or conn.closed or conn.broken:
        conn = await psycopg.AsyncConnection.connect(database_url(), autocommit=True,
                                                     prepare_threshold=None)
        _async_conns[key] = conn
    return conn


async def aquery(sql: str, params: Params, connection: AsyncConnectionArg = None) -> list[dict[str, Any]]:
    """``query`` as a coroutine; a psycopg ``AsyncConnection`` too."""
    if connection is None:
        if django_alias() is not None:
            # Django's connections are per thread; run where Django's sync code
            # runs, so the call joins the same connection and transaction.
            from asgiref.sync import sync_to_async

            return await sync_to_async(query, thread_sensitive=True)(sql, params, None)
        connection = await _own_async_connection()
    if isinstance(connection, psycopg.AsyncConnection):
        async with connection.cursor() as cur:
            await cur.execute(sql, params)
            names = [d[0] for d in cur.description or ()]
            rows = await cur.fetchall()
        return [dict(zip(names, row, strict=True)) for row in rows]
    return await asyncio.to_thread(query, sql, params, connection)


async def aexecute(call: Call) -> object:
    sql, params = call.sql()
    rows = await aquery(sql, params, call.connection)
    return next(iter(rows[0].values()))


async def aexecute_id(call: Call) -> int:
    return required_id(call, await aexecute(call))


async def aexecute_optional_id(call: Call) -> int | None:
    return optional_id(call, await aexecute(call))
