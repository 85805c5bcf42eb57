"""The client works unchanged for a login role mapped to a tenant: it
enqueues, reads and cancels its own messages, gets its tenant stamped on
them, and is refused another tenant's users and messages."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

import outpost


def as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{role}:pw@{host}", parts.path, parts.query, parts.fragment))


@pytest.fixture
def tenant_a(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection as a fresh login role mapped to tenant py-a; users pa1
    (py-a) and pb1 (py-b) registered."""
    role = f"py_app_{secrets.token_hex(4)}"
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
        admin.execute("SELECT outpost.grant_tenant(%s, 'py-a')", [role])
        admin.execute("INSERT INTO outpost.recipients (user_id, email, tenant) VALUES "
                      "('pa1', 'pa1@a.example', 'py-a'), ('pb1', 'pb1@b.example', 'py-b') "
                      "ON CONFLICT DO NOTHING")
        try:
            with psycopg.connect(as_role(db_url, role), autocommit=True) as conn:
                yield conn
        finally:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def test_a_mapped_role_enqueues_reads_and_cancels_its_own(tenant_a: psycopg.Connection[Any]) -> None:
    # Due in an hour, so that the daemon the harness runs leaves it queued.
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    message_id = outpost.send_mail_template("welcome", to_user="pa1", run_at=later,
                                            connection=tenant_a)
    status = outpost.status(message_id, connection=tenant_a)
    assert status is not None
    assert status.tenant == "py-a"
    assert outpost.cancel(message_id, connection=tenant_a) == message_id


def test_a_mapped_role_is_refused_another_tenants_user_and_message(
        tenant_a: psycopg.Connection[Any], conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not a recipient of tenant py-a"):
        outpost.send_mail_template("welcome", to_user="pb1", connection=tenant_a)
    other = outpost.send_mail_template("welcome", to_user="pb1", connection=conn)
    assert outpost.status(other, connection=tenant_a) is None
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="is not in tenant py-a"):
        outpost.cancel(other, connection=tenant_a)
