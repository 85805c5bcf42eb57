"""The harness: a real PostgreSQL (DATABASE_URL, else 127.0.0.1:5432, else a
throwaway cluster under target/outpost-test-pg), a fresh database migrated by
the real `outpost` binary, Django configured on it, and the real daemon
(console backend by default, SMTP to aiosmtpd with STARTTLS and AUTH when a
message asks for provider "smtp")."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg.rows import dict_row

from pgcluster import Cluster, free_port

REPO = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("OUTPOST_BIN", REPO / "target" / "debug" / "outpost"))
INBOUND_USER, INBOUND_PASSWORD = "parse", "parse-secret"
SMTP_USER, SMTP_PASSWORD = "mailer", "smtp-secret"


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    local = "postgres://postgres@127.0.0.1:5432/postgres"
    try:
        psycopg.connect(local, connect_timeout=2).close()
        return local
    except psycopg.Error:
        pass
    return Cluster(REPO / "target" / "outpost-test-pg").start().url


def migrate(url: str) -> None:
    if not BIN.exists():
        raise RuntimeError(f"{BIN} is missing: build it with `cargo build --locked`")
    out = subprocess.run([str(BIN), "migrate"], env={**os.environ, "DATABASE_URL": url},
                         capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"outpost migrate failed:\n{out.stdout}{out.stderr}")


def create_database(server: str, prefix: str) -> str:
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


SERVER = ""
DB_NAME = ""
EMPTY_NAME = ""


def django_db(url: str) -> dict[str, Any]:
    p = urlsplit(url)
    return {"ENGINE": "django.db.backends.postgresql", "NAME": p.path.lstrip("/"),
            "USER": p.username or "postgres", "PASSWORD": p.password or "",
            "HOST": p.hostname or "127.0.0.1", "PORT": str(p.port or 5432)}


def pytest_configure(config: pytest.Config) -> None:
    global SERVER, DB_NAME, EMPTY_NAME
    SERVER = server_url()
    DB_NAME = create_database(SERVER, "outpost_py")
    EMPTY_NAME = create_database(SERVER, "outpost_py_empty")
    migrate(with_db(SERVER, DB_NAME))
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests",
        USE_TZ=True,
        DATABASES={"default": django_db(with_db(SERVER, DB_NAME)),
                   "empty": django_db(with_db(SERVER, EMPTY_NAME))},
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.admin",
                        "django.contrib.sessions", "django.contrib.messages", "outpost.django"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware",
                    "django.contrib.messages.middleware.MessageMiddleware"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
                    "OPTIONS": {"context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages"]}}],
        ROOT_URLCONF="outpost_test_urls",
        DEFAULT_FROM_EMAIL="MEG <noreply@meg.test>",
        OUTPOST={"DATABASE": "default"},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    if SERVER:
        from django.db import connections

        connections.close_all()
        for name in (DB_NAME, EMPTY_NAME):
            if name:
                drop_database(SERVER, name)


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker: Any) -> None:
    """The database exists and Outpost migrated it; Django adds its own tables."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("migrate", verbosity=0, database="default")


@pytest.fixture(scope="session")
def db_url() -> str:
    return with_db(SERVER, DB_NAME)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


def openssl(*args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=input, capture_output=True, check=True).stdout


@dataclass
class SmtpPeer:
    port: int
    dir: Path
    proc: subprocess.Popen[bytes]

    def received(self) -> list[tuple[bytes, dict[str, Any]]]:
        out = []
        n = 1
        while (self.dir / "mail" / f"{n}.eml").exists():
            out.append(((self.dir / "mail" / f"{n}.eml").read_bytes(),
                        json.loads((self.dir / "mail" / f"{n}.json").read_text())))
            n += 1
        return out


@pytest.fixture(scope="session")
def smtp_peer() -> Iterator[SmtpPeer]:
    """aiosmtpd with STARTTLS required and AUTH, as the Rust tests run it."""
    d = Path(tempfile.mkdtemp(prefix="outpost-py-smtp-"))
    (d / "mail").mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "peers" / "smtp_server.py"), "--port", str(port),
         "--mode", "starttls", "--user", SMTP_USER, "--password", SMTP_PASSWORD,
         "--cert", str(d / "cert.pem"), "--key", str(d / "key.pem"), "--outdir", str(d / "mail")],
        stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"READY"
    yield SmtpPeer(port, d, proc)
    proc.terminate()
    proc.wait()


@dataclass
class SendGridKey:
    pem: Path
    public_b64: str

    def sign(self, timestamp: str, body: bytes) -> str:
        sig = openssl("dgst", "-sha256", "-sign", str(self.pem), input=timestamp.encode() + body)
        return base64.b64encode(sig).decode()


@pytest.fixture(scope="session")
def sendgrid_key() -> SendGridKey:
    d = Path(tempfile.mkdtemp(prefix="outpost-py-sg-"))
    pem = d / "key.pem"
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(pem))
    der = openssl("ec", "-in", str(pem), "-pubout", "-outform", "DER")
    return SendGridKey(pem, base64.b64encode(der).decode())


@dataclass
class Daemon:
    url: str
    stdout: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str] = field(default_factory=dict)

    def output(self) -> str:
        return self.stdout.read_text(errors="replace")

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        req = urllib.request.Request(self.url + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_daemon(database_url: str, extra: dict[str, str]) -> Daemon:
    port = free_port()
    out = Path(tempfile.mkstemp(prefix="outpost-py-daemon-", suffix=".out")[1])
    env = {**os.environ, "DATABASE_URL": database_url,
           "OUTPOST__EMAIL__BACKEND": "console",
           "OUTPOST__EMAIL__FROM": "Outpost <noreply@meg.test>",
           "OUTPOST__HTTP__LISTEN": f"127.0.0.1:{port}",
           "OUTPOST__OPS__LISTEN": "127.0.0.1:0",
           "OUTPOST__WEBHOOKS__INBOUND_USERNAME": INBOUND_USER,
           "OUTPOST__WEBHOOKS__INBOUND_PASSWORD": INBOUND_PASSWORD,
           "OUTPOST__DISPATCH__POLL_INTERVAL": "200ms",
           "OUTPOST__HOUSEKEEPING__ENABLED": "false",
           "OUTPOST__LOG__LEVEL": "warn",
           **extra}
    for k in ("OUTPOST_CONFIG",):
        env.pop(k, None)
    with open(out, "wb") as f:
        proc = subprocess.Popen([str(BIN), "run"], env=env, cwd=REPO, stdout=f, stderr=subprocess.STDOUT)
    daemon = Daemon(f"http://127.0.0.1:{port}", out, proc, env)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(daemon.url + "/readyz", timeout=2) as r:
                if r.status == 200:
                    return daemon
        except (urllib.error.URLError, OSError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"outpost run did not become ready:\n{daemon.output()}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def daemon(db_url: str, smtp_peer: SmtpPeer, sendgrid_key: SendGridKey) -> Iterator[Daemon]:
    d = start_daemon(db_url, {
        "OUTPOST__EMAIL__SMTP__HOST": "127.0.0.1",
        "OUTPOST__EMAIL__SMTP__PORT": str(smtp_peer.port),
        "OUTPOST__EMAIL__SMTP__USERNAME": SMTP_USER,
        "OUTPOST__EMAIL__SMTP__PASSWORD": SMTP_PASSWORD,
        "OUTPOST__EMAIL__SMTP__USE_TLS": "true",
        "OUTPOST__EMAIL__SMTP__CA_FILE": str(smtp_peer.dir / "cert.pem"),
        "OUTPOST__EMAIL__SMTP__TIMEOUT": "10s",
        "OUTPOST__WEBHOOKS__SENDGRID_PUBLIC_KEY": sendgrid_key.public_b64,
    })
    yield d
    d.stop()


def wait_for(predicate: Any, timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def message_row(conn: psycopg.Connection[Any], message_id: int) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM outpost.messages WHERE id = %s", (message_id,))
        row = cur.fetchone()
        assert row is not None, f"message {message_id} not found"
        return dict(row)


def wait_status(conn: psycopg.Connection[Any], message_id: int, *statuses: str) -> dict[str, Any]:
    row: dict[str, Any] = wait_for(lambda: (r := message_row(conn, message_id))["status"] in statuses and r,
                                   what=f"message {message_id} to become {'/'.join(statuses)}")
    return row
