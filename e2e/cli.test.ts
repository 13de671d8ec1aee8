// `npx download-audit` against the running service: output, exit codes, files, the resumable import and reproduction scripts.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { demoRecords } from "./seed";

const e2e = inject("e2e");
const root = path.join(import.meta.dirname, "..");
const cli = path.join(root, "cli", "download-audit.mjs");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe.skipIf(e2e === null)("download-audit CLI", () => {
  const { baseUrl = "", adminKey = "" } = e2e ?? {};
  const env = { ...process.env, DOWNLOAD_AUDIT_URL: baseUrl, DOWNLOAD_AUDIT_KEY: adminKey, NO_COLOR: "1" };
  let work: string;

  const run = (args: string[], extraEnv: Record<string, string | undefined> = {}): Promise<Run> =>
    new Promise((resolve) => {
      execFile(process.execPath, [cli, ...args], { cwd: work, env: { ...env, ...extraEnv }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const json = async (args: string[]) => {
    const result = await run([...args, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  };
  const api = async (pathAndQuery: string, init: RequestInit = {}) => {
    const response = await fetch(`${baseUrl}${pathAndQuery}`, { ...init, headers: { authorization: `Bearer ${adminKey}`, ...(init.headers ?? {}) } });
    if (!response.ok) throw new Error(`${pathAndQuery} → ${response.status} ${await response.text()}`);
    return response;
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "download-audit-cli-"));
  });

  it("runs through npx from the repository and documents its commands", async () => {
    const { stdout } = await promisify(execFile)("npx", ["--no-install", "download-audit", "--help"], { cwd: root, env });
    for (const command of ["recent", "events", "stats", "report", "export", "import", "retention", "keys", "reproduce"]) expect(stdout).toContain(command);
  });

  it("exits 2 without configuration, 1 with the service's message for a refused key, 3 when nothing answers", async () => {
    const missing = await run(["recent"], { DOWNLOAD_AUDIT_URL: undefined });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("No service URL");
    const refused = await run(["recent"], { DOWNLOAD_AUDIT_KEY: "da_not-a-key" });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: Invalid API key \(unauthorized, HTTP 401, request [\w-]+\)\n$/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    const badRange = await run(["events", "--from", "yesterday"]);
    expect(badRange.code).toBe(1);
    expect(badRange.stderr).toContain("from: must be YYYY-MM-DD or an RFC 3339 date-time");
    expect((await run(["recent", "--minutes", "0"])).code).toBe(2);
    const unreachable = await run(["recent"], { DOWNLOAD_AUDIT_URL: "http://127.0.0.1:9" });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain("Could not reach http://127.0.0.1:9");
  });

  it("lists recent events and events as tables or JSON, the same as the API", async () => {
    const recent = await json(["recent", "--minutes", "10080", "--limit", "5", "--action", "download"]);
    expect(recent.data).toHaveLength(5);
    expect(recent.data.every((event: any) => event.action === "download")).toBe(true);
    const table = await run(["events", "--status", "failure", "--limit", "3"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/time \(UTC\).*action.*status/);
    expect(table.stdout.match(/failure/g)).toHaveLength(3);
    expect(table.stdout).toMatch(/more: --cursor \S+/);
  });

  it("prints stats equal to GET /v1/stats", async () => {
    const to = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const from = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
    const body = await json(["stats", "--from", from, "--to", to, "--interval", "week"]);
    const direct = await (await api(`/v1/stats?from=${from}&to=${to}&interval=week`)).json();
    expect(body).toEqual(direct);
    const human = await run(["stats", "--from", from, "--to", to]);
    expect(human.stdout).toContain(direct.totals.events.toLocaleString("en-US"));
  });

  it("writes reports as Markdown to stdout and as PDF to a file", async () => {
    const month = new Date().toISOString().slice(0, 7);
    const markdown = await run(["report", "monthly", "--month", month]);
    expect(markdown.code).toBe(0);
    expect(markdown.stdout).toContain(`# Monthly downloads report: ${month}`);
    const pdf = await run(["report", "weekly", "--format", "pdf", "-o", "week.pdf"]);
    expect(pdf.code, pdf.stderr).toBe(0);
    expect((await readFile(path.join(work, "week.pdf"))).subarray(0, 5).toString()).toBe("%PDF-");
    const bad = await run(["report", "monthly", "--month", "2026-13"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("The month is not valid");
  });

  it("exports CSV, NDJSON and Excel files equal to the API's", async () => {
    const filters = ["--status", "failure", "--action", "download"];
    const csv = await json(["export", ...filters, "-o", "failures.csv"]);
    const direct = await (await api("/v1/events/export.csv?status=failure&action=download")).text();
    expect(await readFile(path.join(work, "failures.csv"), "utf8")).toBe(direct);
    expect(csv.rows).toBe(direct.trim().split("\r\n").length - 1);
    const ndjson = await json(["export", ...filters, "--format", "ndjson", "-o", "failures.ndjson"]);
    expect(ndjson.rows).toBe(csv.rows);
    const xlsx = await json(["export", ...filters, "--format", "xlsx", "-o", "failures.xlsx"]);
    expect(xlsx.bytes).toBeGreaterThan(1000);
    expect((await readFile(path.join(work, "failures.xlsx"))).subarray(0, 2).toString()).toBe("PK");
    expect(existsSync(path.join(work, "failures.xlsx.partial"))).toBe(false);
    expect((await run(["export", "-o", "x.csv", "--status", "maybe"])).code).toBe(2);
  });

  it("imports in chunks and, killed halfway, resumes without storing anything twice", async () => {
    const lines = Array.from({ length: 240 }, (_, index) =>
      JSON.stringify({
        occurred_at: new Date(Date.UTC(2019, 4, 1) + index * 60_000).toISOString(),
        action: "cli.import",
        resource: { type: "dataset", id: `imported-${index % 7}` },
        actor: { id: `importer-${index % 11}` },
        bytes: index,
      }),
    );
    const file = path.join(work, "history.ndjson");
    await writeFile(file, `${lines.join("\n")}\n`);
    const stateFile = `${file}.import-state.json`;

    const child = spawn(process.execPath, [cli, "import", file, "--chunk", "4"], { cwd: work, env, stdio: "ignore" });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    let sent = 0;
    for (let waited = 0; sent < 40 && waited < 30_000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      sent = existsSync(stateFile) ? (JSON.parse(await readFile(stateFile, "utf8").catch(() => '{"done":0}')) as { done: number }).done : 0;
    }
    child.kill("SIGKILL");
    await exited;
    expect(sent).toBeGreaterThanOrEqual(40);
    expect(existsSync(stateFile)).toBe(true);

    const resumed = await json(["import", file, "--chunk", "4"]);
    expect(resumed.resumed_after).toBeGreaterThanOrEqual(40);
    expect(resumed.resumed_after).toBeLessThan(240);
    expect(resumed.inserted + resumed.replayed).toBe(240);
    expect(resumed.invalid).toEqual([]);
    expect(existsSync(stateFile)).toBe(false);
    const stored = await (await api("/v1/events?action=cli.import&from=2019-01-01&to=2020-01-01&limit=1000")).json();
    expect(stored.data).toHaveLength(240);

    const again = await json(["import", file, "--chunk", "100"]);
    expect(again).toMatchObject({ lines: 240, valid: 240, inserted: 0, replayed: 240, resumed_after: 0 });
  });

  it("validates a CSV with --dry-run, names the bad row and exits 4", async () => {
    const file = path.join(work, "history.csv");
    await writeFile(file, 'occurred_at,action,resource_type,resource_id,message\n2019-06-01T00:00:00Z,cli.csv,dataset,d1,"two\nlines"\n2019-06-01T00:01:00Z,NOT AN ACTION,dataset,d2,\n2019-06-01T00:02:00Z,cli.csv,dataset,d3,\n');
    const result = await run(["import", file, "--dry-run"]);
    expect(result.code).toBe(4);
    expect(result.stdout).toContain("dry run: nothing was stored");
    expect(result.stdout).toMatch(/row 2: action must match/);
    const stored = await (await api("/v1/events?action=cli.csv&from=2019-01-01&to=2020-01-01")).json();
    expect(stored.data).toHaveLength(0);
  });

  it("verifies the sealed ledger on the service and exits 0 when it matches", async () => {
    await api("/v1/integrity/seal", { method: "POST" });
    const verified = await run(["verify", "--from", "2020-01-01T00:00:00Z", "--to", new Date().toISOString()]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^ok: \d+ window\(s\), \d+ row\(s\) from /);
    const report = await json(["verify", "--from", "2020-01-01T00:00:00Z", "--to", new Date().toISOString()]);
    expect(report).toMatchObject({ ok: true, status: "done", problems: [] });
    expect((await run(["verify", "--from", "2020-01-01T00:00:00Z"])).code).toBe(2);
  });

  it("reports what retention would archive, and manages keys", async () => {
    const retention = await json(["retention", "--older-than-days", "3650", "--dry-run"]);
    expect(retention.dry_run).toBe(true);
    const created = await json(["keys", "create", "cli reader", "--scopes", "read"]);
    expect(created.key).toMatch(/^da_/);
    const listed = await json(["keys", "list"]);
    expect(listed.data.map((key: any) => key.id)).toContain(created.id);
    expect((await run(["recent", "--limit", "1"], { DOWNLOAD_AUDIT_KEY: created.key })).code).toBe(0);
    const forbidden = await run(["keys", "list"], { DOWNLOAD_AUDIT_KEY: created.key });
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain("This API key lacks the 'admin' scope");
    const revoked = await json(["keys", "revoke", created.id]);
    expect(revoked.revoked_at).not.toBeNull();
    expect((await run(["recent"], { DOWNLOAD_AUDIT_KEY: created.key })).code).toBe(1);
  });

  it("writes a reproduction script that bash runs to fetch identical files, and stops at a checksum mismatch", async () => {
    const record = demoRecords[0]!;
    const person = `cli-repro-${Date.now()}`;
    const link = await (
      await api("/v1/download-links", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ record_id: record.id, file: "data.csv", user: { id: person } }),
      })
    ).json();
    const original = Buffer.from(await (await fetch(link.url)).arrayBuffer());
    await expect.poll(async () => (await (await api(`/v1/events?actor_id=${person}`)).json()).data.length, { timeout: 10_000 }).toBe(1);

    const written = await run(["reproduce", "--actor-id", person, "-o", "reproduce.sh"]);
    expect(written.code, written.stderr).toBe(0);
    const script = path.join(work, "reproduce.sh");
    await promisify(execFile)("bash", ["-n", script]);
    const fetched = await promisify(execFile)("bash", [script, path.join(work, "out")], { cwd: work });
    expect(fetched.stdout).toContain(`[1/1] ${record.id}/data.csv`);
    expect(fetched.stdout).toContain("1 file(s) fetched and verified into");
    const copy = await readFile(path.join(work, "out", record.id, "data.csv"));
    expect(copy.equals(original)).toBe(true);
    expect(createHash("sha256").update(copy).digest("hex")).toBe(createHash("sha256").update(original).digest("hex"));

    const text = await readFile(script, "utf8");
    expect(text).toContain(`# Person: actor_id ${person}`);
    expect(text).toMatch(new RegExp(`#   \\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z  ${record.id}/data.csv  \\(file\\)`));
    expect(text).toContain(`[${record.id}] Ocean Data Platform demo (2024). ${record.title}.`);
    const tampered = path.join(work, "tampered.sh");
    await writeFile(tampered, text.replace(/'[0-9a-f]{64}'/, `'${"0".repeat(64)}'`));
    const failed = await new Promise<Run>((resolve) =>
      execFile("bash", [tampered, path.join(work, "out2")], (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code) : 0, stdout, stderr })),
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`SHA-256 mismatch for ${record.id}/data.csv`);

    const bibtex = await run(["reproduce", "--actor-id", person, "--format", "bibtex"]);
    expect(bibtex.stdout).toContain(`@misc{${record.doi.replace("/", "_")},\n  author = {{Ocean Data Platform demo}},`);
    expect((await run(["reproduce"])).code).toBe(2);
  });
});
