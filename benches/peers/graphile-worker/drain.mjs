// The issue-8 peer run: graphile-worker drains N no-op jobs on a fresh
// database of the same PostgreSQL server `outpost bench drain` uses, timed
// the same way (from the worker's start until no job is left; graphile-worker
// deletes finished jobs). Prints one JSON line.
//
//   npm install && node drain.mjs [N]   (SERVER, CONCURRENCY, LOCAL_QUEUE)
import { Logger, run, runMigrations } from "graphile-worker";
import pg from "pg";

const server = process.env.SERVER ?? "postgres://postgres@127.0.0.1:5432/postgres";
const n = Number(process.argv[2] ?? 20000);
const concurrency = Number(process.env.CONCURRENCY ?? 24);
const localQueue = Number(process.env.LOCAL_QUEUE ?? 500);
const name = `gw_bench_${process.pid}`;
const url = new URL(server);
url.pathname = `/${name}`;
const silent = new Logger(() => () => {});
let executed = 0;

const admin = new pg.Client({ connectionString: server });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
try {
  await runMigrations({ connectionString: url.href, logger: silent });
  const client = new pg.Client({ connectionString: url.href });
  await client.connect();
  await client.query(
    "SELECT graphile_worker.add_job('noop', json_build_object('i', g)) FROM generate_series(1, $1::int) g",
    [n],
  );
  await client.query("VACUUM ANALYZE");
  const started = process.hrtime.bigint();
  const pgPool = new pg.Pool({ connectionString: url.href, max: concurrency + 2 });
  pgPool.on("error", () => {});
  const runner = await run({
    pgPool,
    concurrency,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: silent,
    taskList: {
      noop: async () => {
        executed += 1;
      },
    },
    preset: {
      worker: {
        maxPoolSize: concurrency + 2,
        localQueue: { size: localQueue },
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
      },
    },
  });
  for (;;) {
    await new Promise((r) => setTimeout(r, 25));
    const { rows } = await client.query(
      "SELECT EXISTS (SELECT 1 FROM graphile_worker._private_jobs) AS left",
    );
    if (!rows[0].left) break;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await runner.stop();
  await pgPool.end();
  await client.end();
  console.log(
    JSON.stringify({
      peer: "graphile-worker 0.17.3",
      messages: n,
      executed,
      seconds,
      messages_per_second: n / seconds,
      concurrency,
      local_queue: localQueue,
      batched_completion_ms: 0,
    }),
  );
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
