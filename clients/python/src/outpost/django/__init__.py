"""The Django app: ``INSTALLED_APPS += ["outpost.django"]`` and
``EMAIL_BACKEND = "outpost.django.EmailBackend"`` (or the same class under
Django 6.1's ``MAILERS``); signals ``email_received`` and ``message_status``
fired by ``manage.py outpost_inbound``; read-only admin pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backend import EmailBackend

__all__ = ["EmailBackend"]


def __getattr__(name: str) -> object:
    # Imported lazily so that `outpost.django` can be named in settings
    # before Django is set up.
    if name == "EmailBackend":
        from .backend import EmailBackend

        return EmailBackend
    raise AttributeError(name)
