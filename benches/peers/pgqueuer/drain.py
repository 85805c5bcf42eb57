"""The issue-8 peer run: PgQueuer drains N no-op jobs on a fresh database of
the same PostgreSQL server `outpost bench drain` uses, timed the same way
(from the worker's start until no job is left). Prints one JSON line.

    python3 -m venv venv && venv/bin/pip install -r requirements.txt
    venv/bin/python drain.py [N]        (SERVER, BATCH)
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries
from pgqueuer.types import QueueExecutionMode

SERVER = os.environ.get("SERVER", "postgres://postgres@127.0.0.1:5432/postgres")
BATCH = int(os.environ.get("BATCH", "100"))


async def main(n: int) -> None:
    name = f"pgq_bench_{os.getpid()}"
    parts = urlsplit(SERVER)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    admin = await asyncpg.connect(SERVER)
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        pgq_cli = os.path.join(os.path.dirname(sys.executable), "pgq")
        subprocess.run([pgq_cli, "--pg-dsn", url, "install"], check=True, capture_output=True)
        conn = await asyncpg.connect(url)
        queries = Queries(AsyncpgDriver(conn))
        for start in range(0, n, 10_000):
            size = min(10_000, n - start)
            await queries.enqueue(["noop"] * size, [None] * size, [0] * size)
        await conn.execute("VACUUM ANALYZE")
        await conn.close()

        worker_conn = await asyncpg.connect(url)
        pgq = PgQueuer(AsyncpgDriver(worker_conn))
        executed = 0

        @pgq.entrypoint("noop")
        async def noop(job) -> None:
            nonlocal executed
            executed += 1

        started = time.perf_counter()
        await pgq.run(batch_size=BATCH, mode=QueueExecutionMode.drain)
        seconds = time.perf_counter() - started
        await worker_conn.close()
        print(json.dumps({
            "peer": "pgqueuer 1.6.0",
            "messages": n,
            "executed": executed,
            "seconds": seconds,
            "messages_per_second": n / seconds,
            "batch_size": BATCH,
        }))
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
