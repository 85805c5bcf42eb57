"""The app configuration: registers the schema check."""

from __future__ import annotations

from django.apps import AppConfig


class OutpostConfig(AppConfig):
    name = "outpost.django"
    label = "outpost"
    verbose_name = "Outpost"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the check)
