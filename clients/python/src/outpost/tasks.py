"""The original Celery tasks (``megforms.notifications.twilio_notification``)
as plain functions that enqueue at once. Each also answers ``.delay(...)`` and
``.apply_async(args, kwargs)`` as the Celery task did, so callers need only
change the import; the message then commits with the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, ParamSpec

from . import _builders
from ._call import Call
from ._db import execute_id

P = ParamSpec("P")


class Task(Generic[P]):
    """A callable returning the message id, with Celery's calling conventions."""

    def __init__(self, builder: Callable[P, Call]) -> None:
        self._builder = builder
        self.__name__ = builder.__name__
        self.__doc__ = builder.__doc__

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> int:
        return execute_id(self._builder(*args, **kwargs))

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> int:
        return self(*args, **kwargs)

    def apply_async(self, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None, **_: Any) -> int:
        return execute_id(self._builder(*args, **(kwargs or {})))


make_phone_call = Task(_builders.make_phone_call)
send_phone_sms_predefined = Task(_builders.send_phone_sms_predefined)
send_phone_sms = Task(_builders.send_phone_sms)
send_sms_to_number = Task(_builders.send_sms_to_number)
