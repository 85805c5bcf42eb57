"""Read-only admin pages for Outpost's messages, with their attempts and
events, filtered by status, kind and user; retry and cancel call the SQL
helpers (``outpost.retry``, ``outpost.cancel``) and need the change
permission on messages (``outpost.change_message``): staff who may only view
them neither see nor can run the two actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from .. import _builders
from .._db import execute
from .._sql import load
from .conf import database_alias
from .models import Message


class UserFilter(admin.SimpleListFilter):
    """``?user=ID`` filters by ``to_user``; the 20 most recent users are offered."""

    title = "user"
    parameter_name = "user"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        recent = (Message.objects.using(database_alias()).exclude(to_user=None)
                  .order_by("-id").values_list("to_user", flat=True)[:500])
        users: list[str] = []
        for user in recent:
            if user is not None and user not in users:
                users.append(user)
            if len(users) == 20:
                break
        value = self.value()
        if value and value not in users:
            users.insert(0, value)
        return [(u, u) for u in users]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        value = self.value()
        return queryset.filter(to_user=value) if value else queryset


def _rows(sql: str, message_id: int) -> list[tuple[Any, ...]]:
    with connections[database_alias()].cursor() as cur:
        cur.execute(sql, [message_id])
        return list(cur.fetchall())


if TYPE_CHECKING:
    _MessageAdminBase = admin.ModelAdmin[Message]
else:  # ModelAdmin is generic in django-stubs only
    _MessageAdminBase = admin.ModelAdmin


@admin.register(Message)
class MessageAdmin(_MessageAdminBase):
    list_display = ("id", "kind", "status", "to_user", "to_address", "subject", "attempts",
                    "created_at", "sent_at", "last_error")
    list_filter = ("status", "kind", UserFilter)
    search_fields = ("=id", "=to_user", "to_address", "subject", "=provider_message_id")
    date_hierarchy = None
    show_full_result_count = False
    actions = ("retry_messages", "cancel_messages")
    readonly_fields = ("attempt_table", "event_table")
    fieldsets = (
        (None, {"fields": ("kind", "status", "to_user", "to_address", "tenant", "template",
                           "subject", "locale", "provider", "priority", "attempts", "max_attempts",
                           "provider_message_id", "last_error", "worker")}),
        ("Times", {"fields": ("created_at", "run_at", "expires_at", "sent_at", "finished_at",
                              "updated_at")}),
        ("Attempts and events", {"fields": ("attempt_table", "event_table")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).using(database_alias())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        return False

    def has_change_status_permission(self, request: HttpRequest) -> bool:
        """Retry and cancel: the model's change permission. (The pages stay
        read-only for everyone, so ``has_change_permission`` cannot serve.)"""
        codename = get_permission_codename("change", self.opts)
        return bool(request.user.has_perm(f"{self.opts.app_label}.{codename}"))

    @admin.display(description="attempts")
    def attempt_table(self, obj: Message) -> str:
        rows = _rows(load("admin_attempts"), obj.id)
        if not rows:
            return "none"
        return format_html(
            "<table><tr><th>#</th><th>provider</th><th>outcome</th><th>started</th>"
            "<th>finished</th><th>error</th><th>note</th></tr>{}</table>",
            format_html_join("", "<tr>" + "<td>{}</td>" * 7 + "</tr>", rows))

    @admin.display(description="events")
    def event_table(self, obj: Message) -> str:
        rows = _rows(load("admin_events"), obj.id)
        if not rows:
            return "none"
        return format_html(
            "<table><tr><th>provider</th><th>event</th><th>occurred</th><th>received</th></tr>{}</table>",
            format_html_join("", "<tr>" + "<td>{}</td>" * 4 + "</tr>", rows))

    def _apply(self, request: HttpRequest, queryset: QuerySet[Message], what: str) -> None:
        if not self.has_change_status_permission(request):
            raise PermissionDenied
        done = 0
        for message_id in queryset.values_list("id", flat=True):
            call = (_builders.retry(message_id, connection=database_alias()) if what == "retry"
                    else _builders.cancel(message_id, connection=database_alias()))
            if execute(call) is not None:
                done += 1
        skipped = queryset.count() - done
        verb = "requeued" if what == "retry" else "cancelled"
        self.message_user(request, f"{done} {verb}, {skipped} unchanged (not in a state that allows it)",
                          messages.SUCCESS if done else messages.WARNING)

    @admin.action(description="Retry selected messages (3 more attempts)",
                  permissions=["change_status"])
    def retry_messages(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        self._apply(request, queryset, "retry")

    @admin.action(description="Cancel selected queued messages", permissions=["change_status"])
    def cancel_messages(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        self._apply(request, queryset, "cancel")
