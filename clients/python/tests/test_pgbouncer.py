"""Through a real PgBouncer (Debian's, 1.18: no prepared statements in
transaction mode) in ``pool_mode = transaction`` with two server connections:
the client's enqueue functions, ``status``, ``cancel`` and ``retry`` on its
own connection, and Django's EmailBackend on a database alias set as
docs/operations.md says. Each call is made more often than psycopg's default
``prepare_threshold`` (5), and between calls the server connection the last
one used is taken by another client, so every call lands on another server
connection than the one before."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from django.core import mail

import outpost
from outpost import _db
from pgcluster import free_port

ROUNDS = 8
LATER = datetime(2099, 1, 1, tzinfo=timezone.utc)


@dataclass
class Bouncer:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    dir: Path
    holders: list[psycopg.Connection[Any]]
    step: int = 0

    def hop(self) -> None:
        """Pins the server connection the last call used to a holder, then
        frees the other: the next call gets the other server connection."""
        pin, free = self.holders[self.step % 2], self.holders[(self.step + 1) % 2]
        pin.execute("BEGIN")
        pin.execute("SELECT 1")
        if free.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            free.execute("COMMIT")
        self.step += 1

    def log(self) -> str:
        path = self.dir / "pgbouncer.log"
        return path.read_text() if path.exists() else ""


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer") if os.path.exists(p)), None)
    if found is None:
        raise RuntimeError("no pgbouncer: apt-get install pgbouncer (scripts/test installs it)")
    return found


@pytest.fixture(scope="module")
def bouncer(db_url: str) -> Iterator[Bouncer]:
    parts = urlsplit(db_url)
    name, user = parts.path.lstrip("/"), parts.username or "postgres"
    password = f" password={parts.password}" if parts.password else ""
    d = Path(tempfile.mkdtemp(prefix="outpost-py-pgbouncer-"))
    d.chmod(0o777)
    port = free_port()
    (d / "users.txt").write_text(f'"{user}" ""\n')
    (d / "pgbouncer.ini").write_text(
        f"[databases]\n{name} = host={parts.hostname or '127.0.0.1'} port={parts.port or 5432} "
        f"dbname={name} user={user}{password}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {d / 'users.txt'}\npool_mode = transaction\n"
        f"default_pool_size = 2\nmax_client_conn = 100\nlogfile = {d / 'pgbouncer.log'}\n")
    for f in ("users.txt", "pgbouncer.ini"):
        (d / f).chmod(0o644)
    cmd = [pgbouncer_binary(), *(["-u", "postgres"] if os.geteuid() == 0 else []), str(d / "pgbouncer.ini")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"postgresql://{user}@127.0.0.1:{port}/{name}"
    holders: list[psycopg.Connection[Any]] = []
    try:
        for _ in range(200):
            try:
                holders = [psycopg.connect(url, autocommit=True, prepare_threshold=None) for _ in range(2)]
                break
            except psycopg.OperationalError:
                if proc.poll() is not None:
                    raise RuntimeError(f"pgbouncer exited: {(d / 'pgbouncer.log').read_text()}") from None
                __import__("time").sleep(0.05)
        assert holders, "pgbouncer did not answer"
        yield Bouncer(url, port, proc, d, holders)
    finally:
        for h in holders:
            h.close()
        proc.terminate()
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def own_connection_through(bouncer: Bouncer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The client's own connection (no connection=, no Django) to the pooler."""
    monkeypatch.setattr(_db, "django_alias", lambda: None)
    monkeypatch.setenv("OUTPOST_DATABASE_URL", bouncer.url)
    _db._local.conn = None
    yield
    conn = getattr(_db._local, "conn", None)
    if conn is not None:
        conn.close()
    _db._local.conn = None


def rounds(bouncer: Bouncer, call: Callable[[int], int | None]) -> list[int | None]:
    out = []
    for i in range(ROUNDS):
        bouncer.hop()
        out.append(call(i))
    return out


def ints(values: list[int | None]) -> list[int]:
    assert all(isinstance(v, int) for v in values), values
    return [int(v) for v in values if v is not None]


def test_client_enqueues_reads_cancels_and_retries_through_pgbouncer(
        bouncer: Bouncer, own_connection_through: None, conn: psycopg.Connection[Any]) -> None:
    conn.execute("INSERT INTO outpost.recipients (user_id, email, phone, push_named_user, tenant) "
                 "VALUES ('pgb-1', 'pgb@example.com', '+15005550006', 'pgb', 'pgb-tenant') "
                 "ON CONFLICT DO NOTHING")
    conn.execute("INSERT INTO outpost.messaging_configs (tenant, enabled) VALUES ('pgb-tenant', true) "
                 "ON CONFLICT DO NOTHING")
    # Due long after the test: the session's daemon (another test's) leaves them queued.
    mails = ints(rounds(bouncer, lambda i: outpost.send_simple_mail(
        "Hi", "Body", [("Open", "https://example.com")], to_address=f"p{i}@example.com",
        run_at=LATER)))
    templated = rounds(bouncer, lambda i: outpost.send_mail_template(
        "welcome", to_address=f"t{i}@example.com", context={"n": i}))
    pushes = rounds(bouncer, lambda i: outpost.send_user_push_message("pgb-1", f"Push {i}"))
    chats = rounds(bouncer, lambda i: outpost.send_system_message("pgb-1", f"Hello {i}"))
    chat_templates = rounds(bouncer, lambda i: outpost.send_system_message_template("pgb-1", "welcome", {"n": i}))
    ids = [*mails, *templated, *pushes]
    assert all(isinstance(i, int) for i in [*ids, *chats, *chat_templates]), (ids, chats)
    statuses = [outpost.status(i) for i in mails]
    assert [s.status if s else None for s in statuses] == ["queued"] * ROUNDS
    cancelled = rounds(bouncer, lambda i: outpost.cancel(mails[i]))
    assert cancelled == mails
    retried = rounds(bouncer, lambda i: outpost.retry(mails[i]))
    assert retried == mails  # a cancelled message is queued again
    for i in range(ROUNDS):
        bouncer.hop()
        st = outpost.status(mails[i])
        assert st is not None and st.status == "queued"
    committed = conn.execute("SELECT count(*) FROM outpost.messages WHERE id = ANY(%s)", (ids,)).fetchone()
    assert committed == (len(ids),)
    # The client never prepared a statement on any server connection.
    assert "prepared statement" not in bouncer.log()


def test_django_email_backend_through_pgbouncer(bouncer: Bouncer, settings: Any, django_db_blocker: Any,
                                                conn: psycopg.Connection[Any]) -> None:
    from django.db import connections

    base = connections.settings["default"]
    connections.settings["bouncer"] = {**base, "HOST": "127.0.0.1", "PORT": str(bouncer.port),
                                       "OPTIONS": {"prepare_threshold": None}}
    settings.OUTPOST = {"DATABASE": "bouncer"}
    settings.EMAIL_BACKEND = "outpost.django.EmailBackend"
    subject = f"Through PgBouncer {free_port()}"
    try:
        with django_db_blocker.unblock():
            sent = rounds(bouncer, lambda i: mail.send_mail(subject, f"Body {i}", "from@example.com",
                                                            [f"d{i}@example.com"]))
    finally:
        connections["bouncer"].close()
        del connections.settings["bouncer"]
    assert sent == [1] * ROUNDS
    queued = conn.execute("SELECT count(*) FROM outpost.messages WHERE subject = %s", (subject,)).fetchone()
    assert queued == (ROUNDS,)
