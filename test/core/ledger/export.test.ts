import { env } from "cloudflare:workers";
import { and, asc, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import Papa from "papaparse";
import { beforeAll, describe, expect, it } from "vitest";
import { EventDictionaries } from "../../../src/db/event-dictionaries";
import { actors, events } from "../../../src/db/ledger-schema";
import { CSV_COLUMNS, csvLines, exportPage, exportRow, exportStream } from "../../../src/core/ledger/export";
import { eventSelection, resolveEventFilter, toEvent, type ResolvedEventFilter, type SelectedEvent } from "../../../src/core/ledger/query";
import { getConfig } from "../../../src/lib/config";
import { recordingD1 } from "../../d1-spy";
import { clearLedger, random, seedRows } from "../../stats-fixtures";

const START = Date.UTC(2026, 2, 1);
const templates = { recordUrl: "https://doi.org/{doi}", searchUrl: "https://commons.datacite.org/doi.org?query={dois}" };
const all: ResolvedEventFilter = { include_duplicates: true };

/**
 * The export's read path before it read stored dictionary ids: every row decoded by the `events` view and joined with
 * `actors` in one query, CSV written by papaparse. The reference the new path must equal byte for byte.
 */
async function viewRows(filter: { resourceType?: string } = {}): Promise<SelectedEvent[]> {
  return drizzle(env.DB)
    .select(eventSelection)
    .from(events)
    .leftJoin(actors, eq(actors.actorKey, events.actorKey))
    .where(filter.resourceType ? and(eq(events.resourceType, filter.resourceType), isNull(events.duplicateOf)) : undefined)
    .orderBy(asc(events.occurredAt), asc(events.id));
}
const papaCsv = (rows: (string | number)[][]) => `${Papa.unparse(rows, { newline: "\r\n", escapeFormulae: /^[=+\-@\t\r]/, header: false })}\r\n`;

const text = async (stream: ReadableStream<Uint8Array>) => new Response(stream).text();

/** Inserts through the `events` view (its INSTEAD OF trigger encodes the row), as SQL run by hand or before 0012 did. */
async function insertThroughView(row: Record<string, string | number | null>): Promise<void> {
  const columns = Object.keys(row);
  await env.DB.prepare(`INSERT INTO events (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`)
    .bind(...Object.values(row))
    .run();
}

describe("the export's read path (stored ids resolved in the Worker) against the view", () => {
  beforeAll(async () => {
    await clearLedger();
    await seedRows([
      {
        // A service-written row: hex pseudonyms as BLOBs, an IPv4 prefix as an integer, a resource and four strings.
        input: {
          id: "0192f0c2-7a41-7cc3-9a4e-3b1f2f6f0001",
          occurred_at: new Date(START).toISOString(),
          action: "download",
          status: "success",
          resource: { type: "dataset", id: "ds-1", doi: "10.1234/ds.1", title: "Zürich — 東京 👩‍🔬 \"quoted\", with comma", file: "data/a.csv" },
          actor: { id: "alice", email: "alice@example.org", name: "Alice Ådahl", organisation: "=Org, Inc." },
          client: { ip: "198.51.100.23", user_agent: "Mozilla/5.0 (X11; Linux x86_64)", session_id: "sess-1", country: "CH" },
          bytes: 12_345,
          message: "line\r\nbreak",
        },
        receivedAt: START + 1000,
      },
      {
        // IPv6 (kept as text, /48), no actor, no resource file, a bundle's DOIs in meta.
        input: {
          id: "legacy-ü-id/2",
          occurred_at: new Date(START + 60_000).toISOString(),
          action: "bundle.download",
          status: "failure",
          resource: { type: "bundle", id: "b-1" },
          client: { ip: "2001:db8:1234:5678::1" },
          meta: { dois: ["10.1234/ds.1", "10.1234/ds.2"] },
        },
        receivedAt: START + 61_000,
      },
      {
        // Nulls everywhere optional; a person who will be erased (their actors row deleted) below.
        input: { id: "legacy-3", occurred_at: new Date(START + 120_000).toISOString(), action: "download", actor: { id: "erased-person", email: "gone@example.org", name: "Gone" } },
        receivedAt: START + 121_000,
      },
      {
        input: { id: "legacy-4-denied", occurred_at: new Date(START + 180_000).toISOString(), action: "download", resource: { type: "dataset", id: "ds-1", doi: "10.1234/ds.1", title: "Zürich — 東京 👩‍🔬 \"quoted\", with comma", file: "data/a.csv" } },
        receivedAt: START + 181_000,
        denied: true,
      },
      {
        input: { id: "legacy-5-dup", occurred_at: new Date(START + 240_000).toISOString(), action: "download", resource: { type: "dataset", id: "ds-2" } },
        receivedAt: START + 241_000,
        duplicateOf: "legacy-3",
      },
    ]);
    await env.DB.prepare("DELETE FROM actors WHERE actor_id = 'erased-person'").run();
    // Rows as hand-written SQL leaves them: non-hex and upper-case pseudonyms and a non-UUID client id kept as text, a
    // dotted IPv4 prefix kept as text, an aggregated refusal with its count, a status and access method outside the codes.
    await insertThroughView({
      id: "hand-1",
      occurred_at: START + 300_000,
      received_at: START + 301_000,
      action: "download",
      status: "denied",
      resource_type: "dataset",
      resource_id: "ds-3",
      title: "+SUM(1)",
      actor_key: "NOT-HEX-actor",
      user_key: "ABCDEF0123456789ABCDEF0123456789",
      organisation: "Hand Org",
      ip_prefix: "10.1.2.0",
      ip_hash: "xyz",
      user_agent: " padded ",
      bytes: 0,
      message: "@mention",
      meta: null,
      duplicate_of: null,
      key_id: "key-a",
      client_id: "client-chosen-id",
      content_hash: "0".repeat(64),
      denied_count: 7,
      access_method: "robot",
      country: null,
      file: null,
      session_id: "Session-ABC",
    });
    await insertThroughView({
      id: "hand-2",
      occurred_at: START + 300_000,
      received_at: START + 302_000,
      action: "custom.action",
      status: "pending",
      resource_type: null,
      resource_id: null,
      doi: null,
      title: null,
      actor_key: "a".repeat(64),
      user_key: "a".repeat(64),
      organisation: null,
      ip_prefix: null,
      user_agent: null,
      key_id: "key-b",
      client_id: "0192F0C2-7A41-7CC3-9A4E-3B1F2F6F0009",
      access_method: "crawler",
      session_id: "b".repeat(32),
    });
    // A row whose organisation id the dictionary does not hold (the view reads NULL).
    await env.DB.prepare(
      "INSERT INTO event_rows (id, occurred_at, received_at, action, status, organisation, key_id) SELECT 'raw-1', ?, ?, action, 1, 999999, key_id FROM event_rows WHERE id = 'hand-2'",
    )
      .bind(START + 400_000, START + 401_000)
      .run();
  });

  it("reads every row exactly as the view does, including every stored encoding", async () => {
    const expected = await viewRows();
    expect(expected).toHaveLength(8);
    expect(await exportPage(env.DB, all, null, 100)).toEqual(expected);
  });

  it("writes the same CSV and NDJSON bytes as the view and papaparse did, across pages and with an empty cache budget", async () => {
    const rows = await viewRows();
    const csv = papaCsv([[...CSV_COLUMNS], ...rows.map((row) => exportRow(row, templates))]);
    const ndjson = rows.map((row) => `${JSON.stringify(toEvent(row))}\n`).join("");
    for (const pageRows of [1, 3, 100]) {
      expect(await text(await exportStream(env.DB, all, "csv", templates, pageRows)), `pages of ${pageRows}`).toBe(csv);
      expect(await text(await exportStream(env.DB, all, "ndjson", templates, pageRows)), `pages of ${pageRows}`).toBe(ndjson);
    }
    // Dictionaries that forget everything after each page still resolve every id.
    const forgetful = new EventDictionaries(env.DB, 0);
    const read: SelectedEvent[] = [];
    for (let page = await exportPage(env.DB, all, null, 2, forgetful); page.length > 0; ) {
      read.push(...page);
      const last = page.at(-1)!;
      page = await exportPage(env.DB, all, { occurredAt: last.occurredAt!, id: last.id! }, 2, forgetful);
    }
    expect(read).toEqual(rows);
  });

  it("decodes each edge to the value written, field by field (worked out by hand)", async () => {
    const csv = Papa.parse<string[]>((await text(await exportStream(env.DB, all, "csv", templates, 2))).slice(0, -2)).data;
    const byId = new Map(csv.slice(1).map((row) => [row[0]!, Object.fromEntries(CSV_COLUMNS.map((column, index) => [column, row[index]]))]));
    expect(byId.get("0192f0c2-7a41-7cc3-9a4e-3b1f2f6f0001")).toMatchObject({
      occurred_at: "2026-03-01T00:00:00.000Z",
      status: "success",
      title: 'Zürich — 東京 👩‍🔬 "quoted", with comma',
      actor_id: "alice",
      email: "alice@example.org",
      name: "Alice Ådahl",
      organisation: "'=Org, Inc.",
      ip: "198.51.100.0",
      user_agent: "Mozilla/5.0 (X11; Linux x86_64)",
      bytes: "12345",
      message: "line\r\nbreak",
      link: "https://doi.org/10.1234/ds.1",
      file: "data/a.csv",
      country: "CH",
    });
    expect(byId.get("legacy-ü-id/2")).toMatchObject({
      status: "failure",
      ip: "2001:db8:1234::",
      actor_id: "",
      link: `https://commons.datacite.org/doi.org?query=${encodeURIComponent('"10.1234/ds.1" OR "10.1234/ds.2"')}`,
    });
    expect(byId.get("legacy-3")).toMatchObject({ actor_id: "", email: "", name: "", resource_type: "", title: "", ip: "", bytes: "" });
    expect(byId.get("legacy-4-denied")).toMatchObject({ status: "denied", title: 'Zürich — 東京 👩‍🔬 "quoted", with comma' });
    expect(byId.get("hand-1")).toMatchObject({
      status: "denied",
      title: "'+SUM(1)",
      organisation: "Hand Org",
      ip: "10.1.2.0",
      user_agent: " padded ",
      message: "'@mention",
      session_id: "Session-ABC",
      access_method: "robot",
    });
    expect(byId.get("hand-2")).toMatchObject({ action: "custom.action", status: "pending", access_method: "crawler", session_id: "b".repeat(32), organisation: "" });
    expect(byId.get("raw-1")).toMatchObject({ action: "custom.action", status: "success", organisation: "" });

    const ndjson = (await text(await exportStream(env.DB, all, "ndjson", templates, 3))).trim().split("\n").map((line) => JSON.parse(line));
    const event = (id: string) => ndjson.find((candidate) => candidate.id === id);
    expect(event("hand-1")).toMatchObject({ denied_count: 7, key_id: "key-a", client_id: "client-chosen-id", client: { ip: "10.1.2.0", session_id: "Session-ABC" } });
    expect(event("hand-2")).toMatchObject({ key_id: "key-b", client_id: "0192F0C2-7A41-7CC3-9A4E-3B1F2F6F0009", actor: { id: null, organisation: null } });
    expect(event("legacy-5-dup")).toMatchObject({ duplicate_of: "legacy-3", key_id: "test-seed", resource: { type: "dataset", id: "ds-2", doi: null, title: null, file: null } });
    expect(event("legacy-4-denied")).toMatchObject({ status: "denied", received_at: "2026-03-01T00:03:01.000Z" });
  });

  it("filters as the view does: a resource type's rows only, duplicates hidden", async () => {
    const filter: ResolvedEventFilter = { resource_type: "dataset", include_duplicates: false };
    const expected = await viewRows({ resourceType: "dataset" });
    expect(expected.map((row) => row.id)).toEqual(["0192f0c2-7a41-7cc3-9a4e-3b1f2f6f0001", "legacy-4-denied", "hand-1"]);
    expect(await exportPage(env.DB, filter, null, 100)).toEqual(expected);
  });

  it("looks each dictionary id up once per export, found or not", async () => {
    const { db, statements } = recordingD1(env.DB);
    await text(await exportStream(db, all, "csv", templates, 2));
    const lookups = statements.filter((statement) => !statement.sql.includes("FROM event_rows"));
    const ids = lookups.flatMap((statement) => JSON.parse(statement.params[0] as string) as number[]);
    const strings = lookups.filter((statement) => statement.sql.includes("FROM event_strings")).flatMap((statement) => JSON.parse(statement.params[0] as string) as number[]);
    // Organisation 999999 may be asked a second time within its page's look-up: an answer without it cannot tell an id
    // that does not exist from one the answer's size cap left for the next statement. Every other id is asked once.
    expect(strings.length - new Set(strings).size).toBeLessThanOrEqual(1);
    // Strings: download, bundle.download, custom.action, =Org, Inc., Hand Org, the Mozilla agent, " padded ", test-seed,
    // key-a, key-b, and organisation 999999 (asked for, not found); resources: ds-1 (with its file), b-1, ds-2, ds-3.
    expect(new Set(strings).size).toBe(11);
    expect(ids.length - strings.length).toBe(4);
  });
});

describe("dictionary look-ups larger than one D1 answer", () => {
  it("continue in further statements until every id is read, and the rows still equal the view's", async () => {
    // 600 resources with 3,000-character titles: ~1.8 MB of JSON, more than one ~1.5 MB answer.
    await env.DB.prepare(
      `INSERT INTO event_resources (resource_type, resource_id, title)
       SELECT 'big-dictionary', 'r-' || value, printf('%04d', value) || substr(replace(hex(zeroblob(1500)), '0', 'x'), 1, 2996) FROM (WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 600) SELECT value FROM n)`,
    ).run();
    await env.DB.prepare(
      `INSERT INTO event_rows (id, occurred_at, received_at, action, status, resource, key_id)
       SELECT 'big-' || printf('%06d', resources.id), ?, ?, strings.id, 1, resources.id, strings.id
       FROM event_resources AS resources, (SELECT id FROM event_strings WHERE value = 'download') AS strings WHERE resources.resource_type = 'big-dictionary'`,
    )
      .bind(START + 2 * 86_400_000, START)
      .run();
    const filter: ResolvedEventFilter = { resource_type: "big-dictionary", include_duplicates: false };
    const { db, statements } = recordingD1(env.DB);
    const page = await exportPage(db, filter, null, 1000);
    expect(page).toHaveLength(600);
    expect(statements.filter((statement) => statement.sql.includes("FROM event_resources WHERE id IN")).length).toBe(2);
    expect(page).toEqual(await viewRows({ resourceType: "big-dictionary" }));
    expect(page[599]!.title).toHaveLength(3000);
  });
});

describe("the export's page query plans", () => {
  /** The plan of the page statement exportPage sends for `filter`, continuing after a row. */
  async function planFor(filter: ResolvedEventFilter): Promise<string[]> {
    const { db, statements } = recordingD1(env.DB);
    await exportPage(db, filter, { occurredAt: START, id: "m" }, 100);
    const page = statements.find((statement) => statement.sql.includes("FROM event_rows"))!;
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${page.sql}`).bind(...page.params).all<{ detail: string }>();
    return plan.results.map((row) => row.detail);
  }

  it("continues by the time index's range, reads no string in SQL and sorts nothing but the page's JSON", async () => {
    const plan = await planFor({ include_duplicates: false });
    expect(plan, plan.join("\n")).toContain("SEARCH r USING INDEX event_rows_occurred ((occurred_at,id)>(?,?))");
    expect(plan.filter((detail) => /event_strings|TEMP B-TREE FOR ORDER BY|^SCAN r$/.test(detail))).toEqual([]);
    // The resource join is dropped when no filter needs it; actors are one primary-key look-up per row.
    expect(plan.filter((detail) => /resources/.test(detail))).toEqual([]);
    expect(plan).toContain("SEARCH actors USING PRIMARY KEY (actor_key=?) LEFT-JOIN");
  });

  it("finds a record's events by event_rows_resource, and a person's by event_rows_actor", async () => {
    const byDoi = await planFor({ doi: "10.1234/ds.1", include_duplicates: false });
    expect(byDoi).toContain("SEARCH r USING INDEX event_rows_resource (resource=? AND (occurred_at,id)>(?,?))");
    const byActor = await planFor(await resolveEventFilter(getConfig(env).piiKey, { actor_id: "alice", include_duplicates: false }));
    expect(byActor).toContain("SEARCH event_rows USING COVERING INDEX event_rows_actor (actor_key=?)");
    expect(byActor.filter((detail) => /^SCAN r\b/.test(detail))).toEqual([]);
  });
});

describe("security: exports keep no personal data between pages", () => {
  // Actors stay joined in SQL on every page instead of being cached like the dictionaries (which are append-only), so an
  // erasure takes effect on the pages an export reads after it.
  it("shows none of an erased person's data on pages read after the erasure", async () => {
    await seedRows(
      Array.from({ length: 4 }, (_, index) => ({
        input: {
          id: `erasure-${index}`,
          occurred_at: new Date(START + 86_400_000 + index * 1000).toISOString(),
          action: "download",
          resource: { type: "erasure-test", id: "r-1" },
          actor: { id: "mover", email: "mover@example.org", name: "Mo Ver", organisation: "Mover Org" },
        },
        receivedAt: START,
      })),
    );
    const reader = (await exportStream(env.DB, { resource_type: "erasure-test", include_duplicates: false }, "csv", templates, 1)).getReader();
    const decoder = new TextDecoder();
    let csv = "";
    const first = await reader.read();
    csv += decoder.decode(first.value);
    // The page after the first may already be read; every page from the third on is read after this.
    await env.DB.prepare("DELETE FROM actors WHERE actor_id = 'mover'").run();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) csv += decoder.decode(chunk.value);
    const rows = Papa.parse<string[]>(csv.slice(0, -2)).data.slice(1);
    const person = (row: string[]) => [row[CSV_COLUMNS.indexOf("actor_id")], row[CSV_COLUMNS.indexOf("email")], row[CSV_COLUMNS.indexOf("name")]];
    expect(rows.map((row) => row[0])).toEqual(["erasure-0", "erasure-1", "erasure-2", "erasure-3"]);
    expect(person(rows[0]!)).toEqual(["mover", "mover@example.org", "Mo Ver"]);
    expect(rows.slice(2).map(person)).toEqual([
      ["", "", ""],
      ["", "", ""],
    ]);
    // The organisation is the event's own (a dictionary string), not the person's record.
    expect(rows[3]![CSV_COLUMNS.indexOf("organisation")]).toBe("Mover Org");
  });
});

describe("csvLines", () => {
  it("writes every field as papaparse did (quotes, line breaks, byte-order marks, spaces, formula starts)", () => {
    const next = random(12);
    const alphabet = ['"', ",", "\r", "\n", "\ufeff", " ", "=", "+", "-", "@", "\t", "a", "Z", "'", ";", "é", "👩‍🔬", "0"];
    const rows = Array.from({ length: 2000 }, () =>
      Array.from({ length: 5 }, (_, column) =>
        column === 4 ? Math.floor(next() * 1e9) : Array.from({ length: Math.floor(next() * 6) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(""),
      ),
    );
    expect(csvLines(rows)).toBe(papaCsv(rows));
    expect(csvLines([["=1", " a", "b ", 'say "hi"', 0]])).toBe(`"'=1"," a","b ","say ""hi""",0\r\n`);
  });
});
