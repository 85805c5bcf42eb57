"""The admin's Retry and Cancel actions need the change permission on
messages: staff with only the view permission see the list but neither see
nor can run them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from django.contrib.auth.models import Permission
from django.test import Client

import outpost
from conftest import message_row

CHANGELIST = "/admin/outpost/message/"


def staff(django_user_model: Any, name: str, *codenames: str) -> Any:
    user = django_user_model.objects.create_user(name, password="pw-" + name, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="outpost",
                                                        codename__in=codenames))
    return user


@pytest.mark.django_db(transaction=True)
def test_retry_and_cancel_need_the_change_permission(django_user_model: Any,
                                                     conn: psycopg.Connection[Any]) -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    queued = outpost.send_user_push_message("u-perm", "Waiting", run_at=later)
    failed = outpost.send_user_push_message("u-perm", "Failed", run_at=later)
    conn.execute("UPDATE outpost.messages SET status = 'failed', attempts = 1, finished_at = now(),"
                 " last_error = 'down' WHERE id = %s", [failed])

    viewer = Client()
    viewer.force_login(staff(django_user_model, "viewer", "view_message"))
    page = viewer.get(CHANGELIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert f"{CHANGELIST}{queued}/change/" in html, "the viewer sees the messages"
    assert "retry_messages" not in html and "cancel_messages" not in html
    for action, target in (("cancel_messages", queued), ("retry_messages", failed)):
        response = viewer.post(CHANGELIST, {"action": action, "_selected_action": [target]},
                               follow=True)
        assert response.status_code in (200, 403)
        assert "requeued" not in response.content.decode()
        assert "cancelled," not in response.content.decode()
    assert message_row(conn, queued)["status"] == "queued"
    assert message_row(conn, failed)["status"] == "failed"

    operator = Client()
    operator.force_login(staff(django_user_model, "operator", "view_message", "change_message"))
    html = operator.get(CHANGELIST).content.decode()
    assert "retry_messages" in html and "cancel_messages" in html
    response = operator.post(CHANGELIST, {"action": "cancel_messages", "_selected_action": [queued]},
                             follow=True)
    assert "1 cancelled, 0 unchanged" in response.content.decode()
    assert message_row(conn, queued)["status"] == "cancelled"
    response = operator.post(CHANGELIST, {"action": "retry_messages", "_selected_action": [failed]},
                             follow=True)
    assert "1 requeued" in response.content.decode()
    assert message_row(conn, failed)["status"] == "queued"
