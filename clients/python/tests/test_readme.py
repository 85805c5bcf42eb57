"""Every Python example of the package's README runs against the current
API: the settings block as settings, the others in order in one namespace,
inside Django (in the test's transaction) and, for ``outpost.aio``, on a
psycopg connection to ``DATABASE_URL``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.db import connection as django_connection
from django.utils.module_loading import import_string

from outpost.django import EmailBackend
from outpost.django.signals import StatusEvent, message_status

README = Path(__file__).resolve().parents[1] / "README.md"


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_settings_example_names_what_exists() -> None:
    names: dict[str, Any] = {}
    exec(examples()[0], names)
    assert "outpost.django" in names["INSTALLED_APPS"]
    assert import_string(names["EMAIL_BACKEND"]) is EmailBackend
    assert names["OUTPOST"] == {"DATABASE": "default"}


@pytest.mark.django_db
def test_every_other_example_runs(db_url: str, settings: Any, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    settings.EMAIL_BACKEND = "outpost.django.EmailBackend"
    monkeypatch.setenv("DATABASE_URL", db_url)
    with django_connection.cursor() as cur:  # user 42 exists, with messaging on for its tenant
        cur.execute("INSERT INTO outpost.recipients (user_id, tenant, phone) VALUES ('42', 'readme', '+353861234567')")
        cur.execute("INSERT INTO outpost.messaging_configs (tenant, enabled) VALUES ('readme', true)")
    blocks = examples()[1:]
    assert len(blocks) == 5, "sending, the TypeError, the backend, signals, async"
    names: dict[str, Any] = {}
    for block in blocks:
        exec(block, names)
    out = capsys.readouterr().out
    assert "send_simple_mail() got an unexpected keyword argument 'prioirty'" in out
    assert names["message"].outpost_id > 0 and names["welcome"] > 0
    # The receivers of the signals example take what outpost_inbound sends.
    update = StatusEvent(provider="sendgrid", message_id=names["report"], status="bounced", event="bounce",
                         event_id=1, provider_event_id="ev-1", occurred_at=None, payload={})
    message_status.send(sender="sendgrid", status_event=update, **update.legacy_kwargs())
    assert f"message {names['report']} bounced (sendgrid)" in capsys.readouterr().out
