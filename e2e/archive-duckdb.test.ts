// The Parquet archives read by an analytics engine: DuckDB queries the Hive-partitioned copies of retired days and gets
// the service's own totals for those days.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, describe, expect, inject, it } from "vitest";

const e2e = inject("e2e");
const DAY = 86_400_000;

describe.skipIf(e2e === null)("Parquet archives in DuckDB", () => {
  const { baseUrl, adminKey } = e2e!;
  const auth = { authorization: `Bearer ${adminKey}` };
  // Three days long before any demo data, so retiring them touches nothing else.
  const today = Math.floor(Date.now() / DAY) * DAY;
  const days = [1200, 1199, 1198].map((ago) => today - ago * DAY);
  const label = (day: number) => new Date(day).toISOString().slice(0, 10);
  let directory = "";

  afterAll(async () => {
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  /** Per day: `successful` downloads of 1,000 bytes each by distinct people, `failed` failures, and two views that are not downloads. */
  const plan = [
    { successful: 5, failed: 2 },
    { successful: 3, failed: 0 },
    { successful: 7, failed: 1 },
  ];

  it("reproduces the service's totals for the retired days", async () => {
    const lines: string[] = [];
    plan.forEach(({ successful, failed }, dayIndex) => {
      const at = (minute: number) => new Date(days[dayIndex]! + (60 + minute) * 60_000).toISOString();
      const base = { resource: { type: "dataset", id: `duckdb-${dayIndex}`, doi: `10.5555/duckdb.${dayIndex}` }, client: { user_agent: "Mozilla/5.0 (X11; Linux x86_64)" } };
      for (let i = 0; i < successful; i++)
        lines.push(JSON.stringify({ ...base, id: `duckdb-${dayIndex}-ok-${i}`, occurred_at: at(i), action: "download", status: "success", bytes: 1000, actor: { id: `duckdb-user-${dayIndex}-${i}` } }));
      for (let i = 0; i < failed; i++)
        lines.push(JSON.stringify({ ...base, id: `duckdb-${dayIndex}-fail-${i}`, occurred_at: at(30 + i), action: "download", status: "failure", actor: { id: `duckdb-user-${dayIndex}-f${i}` } }));
      for (let i = 0; i < 2; i++)
        lines.push(JSON.stringify({ ...base, id: `duckdb-${dayIndex}-view-${i}`, occurred_at: at(40 + i), action: "view", status: "success", actor: { id: `duckdb-viewer-${i}` } }));
    });
    const imported = await fetch(`${baseUrl}/v1/events/import`, { method: "POST", headers: { ...auth, "content-type": "application/x-ndjson" }, body: lines.join("\n") });
    expect(imported.status, await imported.clone().text()).toBe(200);

    const retention = await fetch(`${baseUrl}/v1/maintenance/retention`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ older_than_days: 1100 }),
    });
    expect(retention.status, await retention.clone().text()).toBe(200);

    directory = await mkdtemp(path.join(os.tmpdir(), "download-audit-parquet-"));
    for (const day of days) {
      const key = `archive/events/date=${label(day)}/events.parquet`;
      const response = await fetch(`${baseUrl}/v1/archives/object?key=${encodeURIComponent(key)}`, { headers: auth });
      expect(response.status, key).toBe(200);
      await mkdir(path.join(directory, path.dirname(key)), { recursive: true });
      await writeFile(path.join(directory, key), new Uint8Array(await response.arrayBuffer()));
    }

    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    const glob = path.join(directory, "archive", "events", "*", "*.parquet");
    const result = await connection.runAndReadAll(`
      SELECT CAST(date AS VARCHAR) AS day,
             count(*) FILTER (WHERE status = 'success' AND duplicate_of IS NULL) AS successful,
             count(*) FILTER (WHERE status = 'failure') AS failed,
             coalesce(sum(bytes) FILTER (WHERE status = 'success' AND duplicate_of IS NULL), 0) AS bytes,
             count(DISTINCT user_key) FILTER (WHERE status = 'success' AND duplicate_of IS NULL) AS users
      FROM read_parquet('${glob}', hive_partitioning = true)
      WHERE action IN ('download', 'bundle.download', 'metadata.download')
      GROUP BY date ORDER BY date`);
    const fromDuckDb = result.getRowObjects().map((row) => ({ period: String(row.day), successful: Number(row.successful), failed: Number(row.failed), bytes: Number(row.bytes), unique_users: Number(row.users) }));
    connection.closeSync();

    // Worked out from the plan: each success is 1,000 bytes by its own person.
    const expected = plan.map(({ successful, failed }, index) => ({ period: label(days[index]!), successful, failed, bytes: successful * 1000, unique_users: successful }));
    expect(fromDuckDb).toEqual(expected);

    const stats = await fetch(`${baseUrl}/v1/stats?from=${label(days[0]!)}&to=${label(days[2]! + DAY)}&interval=day`, { headers: auth });
    const body = (await stats.json()) as { series: { period: string; successful: number; failed: number; bytes: number; unique_users: number }[] };
    expect(body.series).toEqual(expected);
  });
});
