"""REQUIRED_SCHEMA (what the system check asks of the database) is at least
the newest migration in the repository's ``sql/`` that defines, redefines,
alters or re-grants anything the package names: the SQL helpers it calls,
the tables and views its statements (``outpost/sql/*.sql``) and its model
read. Every SQL file the package loads exists, and every one is used."""

from __future__ import annotations

import re
from pathlib import Path

import outpost
from conftest import REPO
from outpost.django.conf import REQUIRED_SCHEMA

PACKAGE = Path(outpost.__file__).parent
MIGRATIONS = sorted((REPO / "sql").glob("[0-9][0-9][0-9][0-9]_*.sql"))
#: Created by `outpost migrate` itself (src/db/queries), not by a migration.
BOOTSTRAP = {"schema_migrations"}

_COMMENT = re.compile(r"--[^\n]*")
#: A statement that gives an object its current shape or rights.
_DEFINES = [
    re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|VIEW|TABLE|MATERIALIZED\s+VIEW)\s+"
               r"(?:IF\s+NOT\s+EXISTS\s+)?outpost\.(\w+)", re.I),
    re.compile(r"\b(?:ALTER|DROP)\s+(?:FUNCTION|VIEW|TABLE|MATERIALIZED\s+VIEW)\s+"
               r"(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?outpost\.(\w+)", re.I),
    re.compile(r"\b(?:GRANT|REVOKE)\s[^;]*?\bON\s+(?:TABLE\s+|FUNCTION\s+)?outpost\.(\w+)", re.I),
]


def migration_of_each_object() -> dict[str, str]:
    """Object name -> the newest migration that (re)defines it."""
    newest: dict[str, str] = {}
    for path in MIGRATIONS:
        text = _COMMENT.sub("", path.read_text(encoding="utf-8"))
        for pattern in _DEFINES:
            for name in pattern.findall(text):
                newest[name] = path.name[:4]
    return newest


def names_the_package_uses() -> dict[str, set[str]]:
    """Object name -> the package files that name it."""
    used: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.sql")):
        for name in re.findall(r"\boutpost\.(\w+)", _COMMENT.sub("", path.read_text(encoding="utf-8"))):
            used.setdefault(name, set()).add(str(path.relative_to(PACKAGE)))
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        # Helper calls (`Call("send_sms", ...)`) and model tables (`outpost"."messages`).
        for name in re.findall(r'\bCall\(\s*"(\w+)"', text) + re.findall(r'outpost"\."(\w+)', text):
            used.setdefault(name, set()).add(str(path.relative_to(PACKAGE)))
    return used


def test_the_parsers_see_the_schema_and_the_package() -> None:
    newest = migration_of_each_object()
    used = names_the_package_uses()
    # Spot checks, so that a parser broken into finding nothing fails here.
    assert newest["enqueue"] >= "0015" and newest["messages"] >= "0015" and newest["retry"] >= "0013"
    assert {"enqueue", "send_sms", "send_mail_template", "retry", "cancel", "messages", "message_status",
            "attempts", "events", "inbound_emails", "consumer_cursors"} <= set(used)


def test_required_schema_is_the_newest_migration_the_package_depends_on() -> None:
    newest = migration_of_each_object()
    used = names_the_package_uses()
    unknown = sorted(set(used) - set(newest) - BOOTSTRAP)
    assert not unknown, f"named by the package but defined by no migration: {unknown}"
    needs = {name: newest[name] for name in used if name not in BOOTSTRAP}
    required = max(needs.values())
    newer = sorted(f"outpost.{n} ({v}, named in {', '.join(sorted(used[n]))})"
                   for n, v in needs.items() if v > REQUIRED_SCHEMA)
    assert required <= REQUIRED_SCHEMA, (
        f"REQUIRED_SCHEMA is {REQUIRED_SCHEMA}, but the package depends on {required}: {'; '.join(newer)}")
    assert any(p.name.startswith(REQUIRED_SCHEMA + "_") for p in MIGRATIONS), (
        f"REQUIRED_SCHEMA {REQUIRED_SCHEMA} is not a migration in {REPO / 'sql'}")


def test_every_sql_file_loaded_exists_and_every_file_is_loaded() -> None:
    loaded: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        loaded |= set(re.findall(r'\bload\("(\w+)"\)', path.read_text(encoding="utf-8")))
    shipped = {p.stem for p in (PACKAGE / "sql").glob("*.sql")}
    assert loaded, "no load(...) call found"
    assert loaded - shipped == set(), "loaded but missing"
    assert shipped - loaded == set(), "shipped but never loaded"
