"""outpost.inbox_token mints a token in SQL that the real daemon's
``/inbox/stream`` accepts: a system message arrives on the stream as a
``message`` event; a token for another user or tampered with is refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

import psycopg
import pytest

import outpost
from conftest import Daemon


def read_event(response: Any, name: str) -> dict[str, Any]:
    """The data of the next event called ``name`` on an open stream."""
    event, data = "message", []
    for raw in response:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "":
            if data and event == name:
                return dict(json.loads("\n".join(data)))
            event, data = "message", []
    raise AssertionError(f"the stream ended before a {name} event")


def test_a_minted_token_opens_the_users_stream(conn: psycopg.Connection[Any], daemon: Daemon) -> None:
    conn.execute("INSERT INTO outpost.messaging_configs (tenant, push_on_message) VALUES ('py-inbox', false) "
                  "ON CONFLICT DO NOTHING")
    conn.execute("INSERT INTO outpost.recipients (user_id, tenant) VALUES ('py-inbox-1', 'py-inbox') "
                 "ON CONFLICT DO NOTHING")
    token = outpost.inbox_token("py-inbox-1", ttl=timedelta(minutes=5), connection=conn)
    assert token.startswith("v")
    request = urllib.request.Request(daemon.url + "/inbox/stream",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        outpost.send_system_message("py-inbox-1", "Hello from Python", connection=conn)
        message = read_event(stream, "message")
    assert message["body"] == "Hello from Python"
    assert message["sender"] is None

    version, user, expires, mac = token.split(".")
    forged = ".".join([version, user, str(int(expires) + 3600), mac])
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(daemon.url + "/inbox/stream?token=" + forged, timeout=10)
    assert refused.value.code == 401
