import { env } from "cloudflare:workers";
import Papa from "papaparse";
import { beforeAll, describe, expect, it } from "vitest";
import { CSV_COLUMNS, catalogLink, exportFilename, exportStream } from "../../src/core/ledger/export";
import { recordingD1 } from "../d1-spy";
import { call, callJson, keyWith } from "../helpers";
import { clearLedger, seedRows, type SeedRow } from "../stats-fixtures";

const START = Date.UTC(2026, 5, 1);
const templates = { recordUrl: "https://doi.org/{doi}", searchUrl: "https://commons.datacite.org/doi.org?query={dois}" };

/** Values a spreadsheet or a naive CSV writer gets wrong. */
const tricky = [
  "plain",
  "comma, inside",
  'double "quotes" inside',
  "line\nbreak",
  "windows\r\nline break",
  "unicode: Zürich, 東京, مرحبا, 👩‍🔬",
  "=HYPERLINK(\"http://evil.example\",\"click\")",
  "+1+2",
  "-2+3",
  "@SUM(A1:A2)",
  "=1+2\nwith a second line",
  "\tstarts with a tab",
  "\rstarts with a carriage return",
  " leading and trailing spaces ",
];

const neutralised = (value: string) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);

describe("GET /v1/events/export.csv and .ndjson", () => {
  let readKey: string;
  let ingestKey: string;
  const seeded: SeedRow[] = [];

  beforeAll(async () => {
    await clearLedger();
    readKey = await keyWith("read");
    ingestKey = await keyWith("ingest");
    tricky.forEach((text, index) =>
      seeded.push({
        input: {
          id: `tricky-${String(index).padStart(2, "0")}`,
          occurred_at: new Date(START + index * 1000).toISOString(),
          action: "download",
          status: "success",
          resource: { type: "dataset", id: `ds-${index}`, doi: `10.1234/ds.${index}`, title: text },
          actor: { id: `user-${index}`, email: `user${index}@example.org`, name: text, organisation: "Org, Inc." },
          client: { ip: "198.51.100.23", user_agent: text },
          bytes: index,
          message: text,
        },
        receivedAt: START,
      }),
    );
    seeded.push({
      input: {
        id: "tricky-bundle",
        occurred_at: new Date(START + 60_000).toISOString(),
        action: "bundle.download",
        status: "success",
        resource: { type: "bundle", id: "b-1" },
        meta: { dois: ["10.1234/ds.1", "10.1234/ds.2"] },
      },
      receivedAt: START,
    });
    for (let index = 0; index < 2500; index++)
      seeded.push({
        input: {
          id: `bulk-${String(index).padStart(5, "0")}`,
          occurred_at: new Date(START + 3_600_000 + index * 1000).toISOString(),
          action: "download",
          status: "success",
          resource: { type: "dataset", id: `bulk-${index % 50}` },
          actor: { organisation: index % 2 ? "Odd Org" : "Even Org" },
        },
        receivedAt: START,
      });
    await seedRows(seeded);
  });

  it("writes RFC 4180 that an independent parser reads back field for field, formulas neutralised", async () => {
    const response = await call("GET", "/v1/events/export.csv?from=2026-06-01&to=2026-06-02", { key: readKey });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="download-audit_2026-06-01_2026-06-02.csv"');
    const text = await response.text();
    expect(text.endsWith("\r\n")).toBe(true);
    const parsed = Papa.parse<string[]>(text.slice(0, -2), { header: false });
    expect(parsed.errors).toEqual([]);
    const [header, ...rows] = parsed.data;
    expect(header).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(tricky.length + 1 + 2500);
    tricky.forEach((value, index) => {
      const row = Object.fromEntries(header!.map((column, position) => [column, rows[index]![position]]));
      expect(row, value).toMatchObject({
        id: `tricky-${String(index).padStart(2, "0")}`,
        title: neutralised(value),
        name: neutralised(value),
        user_agent: neutralised(value),
        message: neutralised(value),
        organisation: "Org, Inc.",
        email: `user${index}@example.org`,
        ip: "198.51.100.0",
        bytes: String(index),
        link: `https://doi.org/10.1234/ds.${index}`,
      });
    });
    const bundle = rows[tricky.length]!;
    expect(bundle[CSV_COLUMNS.indexOf("link")]).toBe(
      `https://commons.datacite.org/doi.org?query=${encodeURIComponent('"10.1234/ds.1" OR "10.1234/ds.2"')}`,
    );
    const ids = rows.map((row) => row[0]!);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice(tricky.length + 1)).toEqual(Array.from({ length: 2500 }, (_, index) => `bulk-${String(index).padStart(5, "0")}`));
  });

  it("streams page by page: reading the start of a large export does not read the rest", async () => {
    const { db: counting, statements } = recordingD1(env.DB);
    const stream = await exportStream(counting, { include_duplicates: false }, "csv", templates, 100);
    const reader = stream.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    // Page reads (dictionary look-ups read event_strings and event_resources, once per id per export).
    expect(statements.filter((statement) => statement.sql.includes("FROM event_rows")).length).toBeLessThanOrEqual(3);
    await reader.cancel();

    const whole = await new Response(await exportStream(env.DB, { include_duplicates: false }, "csv", templates, 100)).text();
    const viaApi = await (await call("GET", "/v1/events/export.csv", { key: readKey })).text();
    expect(whole).toBe(viaApi);
    // Admin actions (this file's own key creation) are ledger events too.
    expect(Papa.parse<string[]>(whole.trim()).data.filter((row) => !row[2]!.startsWith("admin."))).toHaveLength(seeded.length + 1);
  });

  it("splits pages that would exceed D1's 2 MB value limit and still exports every row once, in order", async () => {
    const big = Array.from({ length: 150 }, (_, index) => ({
      input: {
        id: `big-${String(index).padStart(3, "0")}`,
        occurred_at: new Date(START + 7_200_000 + index).toISOString(),
        action: "download",
        resource: { type: "big", id: `big-${index}` },
        meta: { blob: "x".repeat(15_000), dois: ["10.1234/big"] },
      },
      receivedAt: START,
    }));
    await seedRows(big);
    const text = await (await call("GET", "/v1/events/export.ndjson?resource_type=big", { key: readKey })).text();
    const lines = text.trim().split("\n").map((line) => JSON.parse(line));
    expect(lines.map((event) => event.id)).toEqual(big.map((row) => row.input.id));
    expect(lines[149].meta.blob).toHaveLength(15_000);
    await env.DB.prepare("DELETE FROM events WHERE resource_type = 'big'").run();
  });

  it("applies the event filters and writes NDJSON in the shape of GET /v1/events", async () => {
    const response = await call("GET", "/v1/events/export.ndjson?organisation=Odd%20Org&to=2026-06-01T01:30:00Z", { key: readKey });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="download-audit_beginning_2026-06-01T013000Z.ndjson"');
    const lines = (await response.text()).trim().split("\n").map((line) => JSON.parse(line));
    expect(lines.length).toBe(900);
    expect(lines.every((event) => event.actor.organisation === "Odd Org")).toBe(true);
    const listed = await callJson("GET", `/v1/events/${lines[0].id}`, { key: readKey });
    expect(lines[0]).toEqual(listed.body);
  });

  it("builds links from the templates and leaves them empty when a value is missing", () => {
    expect(catalogLink({ doi: "10.1/a b", resourceType: "dataset", resourceId: "x", meta: null }, templates)).toBe("https://doi.org/10.1/a%20b");
    expect(catalogLink({ doi: null, resourceType: "dataset", resourceId: "x", meta: null }, templates)).toBe("");
    expect(catalogLink({ doi: null, resourceType: "dataset", resourceId: "x/1", meta: null }, { ...templates, recordUrl: "https://repo.example/{resource_type}/{resource_id}" })).toBe(
      "https://repo.example/dataset/x%2F1",
    );
    expect(exportFilename({}, "csv", Date.UTC(2026, 10, 20, 15))).toBe("download-audit_beginning_2026-11-20.csv");
  });

  it("rejects bad filters and needs the read scope", async () => {
    const bad = await callJson("GET", "/v1/events/export.csv?from=last-week", { key: readKey });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    for (const path of ["/v1/events/export.csv", "/v1/events/export.ndjson"]) {
      expect((await call("GET", path, { key: null })).status).toBe(401);
      expect((await call("GET", path, { key: ingestKey })).status).toBe(403);
    }
  });
});
