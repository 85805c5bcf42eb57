"""What ``connection=`` takes, as types.

A synchronous connection is anything with a DB-API ``cursor()`` whose cursor
is a context manager with ``execute``, ``description`` and ``fetchall``:
``psycopg.Connection`` (tuple rows, the default), Django's connection wrapper
(``django.db.connection``, ``connections[alias]``), psycopg2. A ``str`` names
a Django ``DATABASES`` alias. ``outpost.aio`` takes a
``psycopg.AsyncConnection`` as well."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

#: Query parameters: named (``%(name)s``) or positional (``%s``).
Params: TypeAlias = "Mapping[str, Any] | Sequence[Any]"


class Cursor(Protocol):
    """The part of a DB-API cursor this package uses."""

    @property
    def description(self) -> Sequence[Sequence[Any]] | None: ...

    def execute(self, query: str, params: Params, /) -> object: ...

    def fetchall(self) -> Sequence[Sequence[Any]]: ...

    def __enter__(self) -> Cursor: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None, /) -> object: ...


class Connection(Protocol):
    """A synchronous connection: ``psycopg.Connection``, Django's wrapper, ..."""

    def cursor(self) -> Cursor: ...


#: ``connection=`` of the synchronous functions: a connection, a Django
#: ``DATABASES`` alias, or None (the default connection).
ConnectionArg: TypeAlias = "Connection | str | None"

#: ``connection=`` of ``outpost.aio`` (and of a ``Call``, which either runs):
#: a ``psycopg.AsyncConnection`` too. The synchronous functions refuse one
#: with a TypeError.
AsyncConnectionArg: TypeAlias = "psycopg.AsyncConnection[TupleRow] | Connection | str | None"


class HasPk(Protocol):
    """A saved model instance (a ``User``): its ``pk`` becomes ``to_user``."""

    @property
    def pk(self) -> object: ...


#: A recipient user: a model instance or its primary key.
UserRef: TypeAlias = "HasPk | str | int"
