"""The package's SQL statements, kept as named files under ``outpost/sql``
(package data) rather than as Python strings."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def load(name: str) -> str:
    """The statement in ``outpost/sql/<name>.sql``."""
    return files("outpost").joinpath("sql").joinpath(f"{name}.sql").read_text(encoding="utf-8")
