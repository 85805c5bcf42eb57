"""A throwaway PostgreSQL cluster from the machine's initdb/pg_ctl (as the
Rust tests' src/cluster.rs does); as root the server runs as `postgres`."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg


def bindir() -> Path:
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        path = Path(out.stdout.strip())
        if (path / "initdb").exists():
            return path
    except (OSError, subprocess.CalledProcessError):
        pass
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) for x in p.split("/")[4].split(".") if x.isdigit()])
    if not found:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found: install PostgreSQL "
                           "or set DATABASE_URL")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.data = directory / "data"
        self.port = 0
        self.bin = bindir()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        out = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {out.stderr.strip()}")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def answers(self) -> bool:
        try:
            psycopg.connect(self.url, connect_timeout=2).close()
            return True
        except psycopg.Error:
            return False

    def start(self) -> Cluster:
        pid = self.data / "postmaster.pid"
        if pid.exists():
            lines = pid.read_text().splitlines()
            if len(lines) > 3:
                self.port = int(lines[3])
                if self.answers():
                    return self  # already running: reuse it
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.dir, "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.port = self.port or free_port()
        self._start_server()
        return self

    def _start_server(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start")
        deadline = time.monotonic() + 30
        while not self.answers():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster under {self.dir} did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self._start_server()
