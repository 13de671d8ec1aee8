import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { compareSealOrder, SEALED_COLUMNS } from "../../src/core/integrity/canonical";
import { EventInputSchema } from "../../src/core/ledger/event-schema";
import { prepareEvent, storeEvents } from "../../src/core/ledger/ingest";
import { EVENT_COLUMNS, eventsViewSql, eventsViewTriggersSql } from "../../src/db/event-storage";
import { dayOf, dayStart } from "../../src/core/analytics/periods";
import { archiveKey, restoreArchive } from "../../src/core/retention/archive";
import { retireDay } from "../../src/core/retention/retention";
import { clearAll, config, problems, sealUntil } from "../core/integrity/fixtures";
import { recordingD1 } from "../d1-spy";
import { computeUserStats } from "../../src/core/analytics/stats";
import { subjectAccess } from "../../src/core/privacy/privacy";
import { DAY as ONE_DAY, random, randomInput, seedRows } from "../stats-fixtures";

const DAY = 86_400_000;
const T = Math.floor((Date.now() - 2 * DAY) / 1000) * 1000;
const hex = (char: string, length = 64) => char.repeat(length);

/** The `events` table as migrations 0000–0011 left it (columns of 0000, 0005 and 0008; the ten indexes). */
const LEGACY_EVENTS = [
  `CREATE TABLE events (id text PRIMARY KEY NOT NULL, occurred_at integer NOT NULL, received_at integer NOT NULL, action text NOT NULL,
   status text NOT NULL, resource_type text, resource_id text, doi text, title text, actor_key text, user_key text, organisation text,
   ip_prefix text, ip_hash text, user_agent text, bytes integer, message text, meta text, duplicate_of text,
   key_id text DEFAULT 'legacy' NOT NULL, client_id text, content_hash text, denied_count integer, access_method text, country text, file text, session_id text)`,
  "CREATE INDEX events_occurred ON events (occurred_at, id)",
  "CREATE INDEX events_action_occurred ON events (action, occurred_at, id)",
  "CREATE INDEX events_status_occurred ON events (status, occurred_at, id)",
  "CREATE INDEX events_resource_type_occurred ON events (resource_type, occurred_at, id)",
  "CREATE INDEX events_resource_id_occurred ON events (resource_id, occurred_at, id)",
  "CREATE INDEX events_doi_occurred ON events (doi, occurred_at, id)",
  "CREATE INDEX events_actor_occurred ON events (actor_key, occurred_at, id)",
  "CREATE INDEX events_organisation_occurred ON events (organisation, occurred_at, id)",
  "CREATE INDEX events_received ON events (received_at, id)",
];

type Row = Partial<Record<(typeof EVENT_COLUMNS)[number], string | number | null>>;

/** Legacy rows with every kind of value an encoding must give back unchanged: non-UUID and non-ASCII ids, hex and non-hex pseudonyms. */
const LEGACY_ROWS: Row[] = [
  { id: "a-1", received_at: T + 1000, occurred_at: T + 1000, action: "download", status: "success", resource_type: "dataset", resource_id: "ds-1", doi: "10.1234/x", title: "Température de surface", actor_key: hex("a"), user_key: hex("a"), organisation: "Lab", ip_prefix: "203.0.113.0", ip_hash: hex("b"), user_agent: "Mozilla/5.0", bytes: 100 },
  { id: "é-ü", received_at: T + 1000, occurred_at: T + 900, action: "download", status: "success", resource_type: "dataset", resource_id: "ds-1", title: "Température de surface", user_key: hex("c"), key_id: "key-1" },
  { id: "0190a2b4-1c2d-7e8f-9a0b-1c2d3e4f5a6b", received_at: T + 1000, occurred_at: T + 1000, action: "view", status: "success", actor_key: hex("d"), user_key: hex("e"), client_id: "My client id", content_hash: hex("f"), session_id: hex("1", 32), access_method: "regular", country: "ZA", file: "data.csv", meta: '{"a":1}', message: "hello", key_id: "key-1" },
  { id: "ABCDEF01-2345-4789-8ABC-DEF012345678", received_at: T + 2000, occurred_at: -1000, action: "download", status: "denied", denied_count: 3, client_id: "ABCDEF01-2345-4789-8ABC-DEF012345678", content_hash: hex("A"), actor_key: hex("a", 63), user_key: hex("a", 63), access_method: "robot", bytes: -5, key_id: "key-2" },
  { id: "日本", received_at: T + 2000, occurred_at: T + 2000, action: "", status: "failure", resource_type: "", title: "", user_key: hex("9"), ip_hash: "not-hex", access_method: "machine", duplicate_of: "a-1" },
  { id: "zz", received_at: T + 3000, occurred_at: T + 3000, action: "download", status: "weird", access_method: "other", user_key: "0", session_id: hex("g", 32) },
  { id: "2f1e0d9c-8b7a-5c6d-9e0f-a1b2c3d4e5f6", received_at: T + 3000, occurred_at: T + 3000, action: "download", status: "success", client_id: "2f1e0d9c-8b7a-4c6d-9e0f-a1b2c3d4e5f6", content_hash: hex("0"), actor_key: hex("7"), user_key: hex("7"), key_id: "key-1" },
];

/** The D1 binding, recording each batched statement's rows written (D1's meta.rows_written) in order. */
function rowsWrittenSpy(): { db: D1Database; written: number[] } {
  const written: number[] = [];
  const db = {
    prepare: (sql: string) => env.DB.prepare(sql),
    batch: async (statements: D1PreparedStatement[]) => {
      const results = await env.DB.batch(statements);
      written.push(...results.map((result) => result.meta.rows_written ?? 0));
      return results;
    },
  } as unknown as D1Database;
  return { db, written };
}

/** Every logical column with its SQLite type, in seal order: what seals and readers see. */
async function logicalRows(): Promise<Record<string, unknown>[]> {
  const columns = EVENT_COLUMNS.flatMap((column) => [column, `typeof(${column}) AS type_of_${column}`]).join(", ");
  return (await env.DB.prepare(`SELECT ${columns} FROM events ORDER BY received_at, id`).all<Record<string, unknown>>()).results;
}

describe("migration 0012", () => {
  it("creates the view and triggers that src/db/event-storage.ts describes", async () => {
    const { results } = await env.DB.prepare("SELECT type, name, sql FROM sqlite_schema WHERE tbl_name = 'events' ORDER BY type, name").all<{ type: string; name: string; sql: string }>();
    expect(results.filter((row) => row.type === "view").map((row) => row.sql)).toEqual([eventsViewSql()]);
    const triggers = Object.fromEntries(results.filter((row) => row.type === "trigger").map((row) => [row.name, row.sql]));
    expect(Object.values(triggers).sort()).toEqual(eventsViewTriggersSql().sort());
    const indexes = await env.DB.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'event_rows' ORDER BY name").all<{ name: string }>();
    expect(indexes.results.map((row) => row.name)).toEqual(["event_rows_actor", "event_rows_id", "event_rows_occurred", "event_rows_resource"]);
  });

  it("reads rows stored before it back identically, in the same seal order, and their seals keep verifying", async () => {
    await clearAll();
    // Back to the schema of migration 0011: the `events` table.
    await env.DB.batch(["DROP VIEW events", "DROP TABLE event_rows", "DROP TABLE event_strings", "DROP TABLE event_resources", ...LEGACY_EVENTS].map((sql) => env.DB.prepare(sql)));
    for (const row of LEGACY_ROWS) {
      const columns = Object.keys(row);
      await env.DB.prepare(`INSERT INTO events (${columns.join(", ")}) VALUES (${columns.map((_, index) => `?${index + 1}`).join(", ")})`)
        .bind(...Object.values(row))
        .run();
    }
    // Sealed by the service's own code over the old table (the readers' SQL is the same before and after).
    await sealUntil(T + 10_000);
    expect(await problems()).toEqual([]);
    const before = await logicalRows();
    expect(before).toHaveLength(LEGACY_ROWS.length);

    const migration = env.TEST_MIGRATIONS.find((candidate) => candidate.name.startsWith("0012_"))!;
    await env.DB.batch(migration.queries.map((sql) => env.DB.prepare(sql)));
    // 0012 rebuilt `actors` with the indexes of its time; 0015 changes them, and the tests below count rows written.
    const actorIndexes = env.TEST_MIGRATIONS.find((candidate) => candidate.name.startsWith("0015_"))!;
    await env.DB.batch(actorIndexes.queries.map((sql) => env.DB.prepare(sql)));

    const after = await logicalRows();
    expect(after).toEqual(before);
    // SQLite's order of the text ids is the seal order (code points), for non-ASCII and legacy ids too.
    expect(after.map((row) => row.id)).toEqual([...LEGACY_ROWS].sort((a, b) => compareSealOrder(a as never, b as never)).map((row) => row.id));
    expect(await problems()).toEqual([]);

    // The compact forms are taken only where they give the value back: hex and UUIDs as BLOBs, the rest as written.
    // One tuple per distinct resource, NULLs included: a-1's; é-ü's (no DOI); the file alone; the empty strings of 日本.
    // Rows without any resource column have none.
    expect(await env.DB.prepare("SELECT count(*) AS n FROM event_resources").first()).toEqual({ n: 4 });
    const stored = await env.DB.prepare("SELECT id, typeof(actor_key) AS actor, typeof(user_key) AS user, typeof(client_id) AS client, typeof(content_hash) AS hash, typeof(status) AS status, typeof(ip_prefix) AS ip FROM event_rows").all<Record<string, string>>();
    const byId = Object.fromEntries(stored.results.map((row) => [row.id, row]));
    expect(byId["a-1"]).toMatchObject({ actor: "blob", user: "integer", status: "integer", ip: "text" });
    expect(byId["0190a2b4-1c2d-7e8f-9a0b-1c2d3e4f5a6b"]).toMatchObject({ actor: "blob", user: "blob", client: "text", hash: "blob" });
    expect(byId["ABCDEF01-2345-4789-8ABC-DEF012345678"]).toMatchObject({ actor: "text", user: "integer", client: "text", hash: "text" });
    expect(byId["2f1e0d9c-8b7a-5c6d-9e0f-a1b2c3d4e5f6"]).toMatchObject({ client: "blob", hash: "blob" });
    expect(byId["zz"]).toMatchObject({ user: "text", status: "text" });

    // Seals made after the migration cover old and new rows alike.
    const event = await prepareEvent(EventInputSchema.parse({ id: "after-0012", action: "download", resource: { type: "dataset", id: "ds-1", title: "Température de surface" } }), config(), { keyId: "key-1", receivedAt: T + 12_000 });
    await storeEvents(env.DB, [event]);
    await sealUntil(T + 20_000);
    expect(await problems()).toEqual([]);
  });
});

describe("event_rows and its dictionary", () => {
  const request = { keyId: "dictionary-key", receivedAt: Date.now(), ip: "198.51.100.7", userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0" };
  const input = (n: number) =>
    EventInputSchema.parse({
      id: `dictionary-${n}`,
      action: "download",
      resource: { type: "dataset", id: "dict-ds-1", doi: "10.5555/dict.1", title: "One title, stored once", file: "a.csv" },
      actor: { id: "dict-user", email: "dict@example.org", name: "Dict User", organisation: "Dictionary Lab" },
      client: { session_id: "s-1" },
    });

  it("stores each repeated string once; known strings and an unchanged actor write no row", async () => {
    const count = async () => (await env.DB.prepare("SELECT count(*) AS n FROM event_strings").first<{ n: number }>())!.n;
    // The event's four strings ("download" may be known already) and its resource (new).
    const strings = ["download", "Dictionary Lab", request.userAgent, "dictionary-key"];
    const resources = async () => (await env.DB.prepare("SELECT count(*) AS n FROM event_resources WHERE resource_id = 'dict-ds-1'").first<{ n: number }>())!.n;
    expect(await resources()).toBe(0);
    const knownBefore = (await env.DB.prepare("SELECT count(*) AS n FROM event_strings WHERE value IN (SELECT value FROM json_each(?1))").bind(JSON.stringify(strings)).first<{ n: number }>())!.n;
    const { db: spy, written } = rowsWrittenSpy();
    const start = await count();
    await storeEvents(spy, [await prepareEvent(input(1), config(), request)]);
    const known = await count();
    expect(known - start).toBe(4 - knownBefore);
    expect(await resources()).toBe(1);
    // A new actor with an e-mail: its row and its actors_email entry (actors is WITHOUT ROWID; no actor_id index since
    // 0015); each new string: its row and index entry; the new resource: its row and three index entries (key,
    // resource_id, doi); the event: its row and four index entries.
    expect(written).toEqual([2, 2 * (4 - knownBefore), 4, 5]);
    written.length = 0;

    await storeEvents(spy, [await prepareEvent(input(2), config(), { ...request, receivedAt: request.receivedAt + 1 })]);
    expect(await count()).toBe(known);
    expect(await resources()).toBe(1);
    // Actor upsert and dictionary inserts write nothing; the event writes its row and four index entries.
    expect(written).toEqual([0, 0, 0, 5]);
    const rows = await env.DB.prepare("SELECT title, user_agent, organisation, key_id FROM events WHERE id IN (SELECT id FROM events WHERE client_id LIKE 'dictionary-%')").all();
    expect(rows.results).toEqual([
      { title: "One title, stored once", user_agent: request.userAgent, organisation: "Dictionary Lab", key_id: "dictionary-key" },
      { title: "One title, stored once", user_agent: request.userAgent, organisation: "Dictionary Lab", key_id: "dictionary-key" },
    ]);
  });

  it("resolves every string and the resource of a stored row through their unique indexes, never scanning a dictionary", async () => {
    const spy = recordingD1(env.DB);
    await storeEvents(spy.db, [await prepareEvent(input(5), config(), { ...request, receivedAt: request.receivedAt + 5 })]);
    const insert = spy.statements.find((statement) => statement.sql.includes("INSERT INTO event_rows"))!;
    const plan = (await env.DB.prepare(`EXPLAIN QUERY PLAN ${insert.sql}`).bind(...insert.params).all<{ detail: string }>()).results.map((row) => row.detail);
    // action, organisation, user_agent, key_id
    expect(plan.filter((detail) => detail === "SEARCH event_strings USING COVERING INDEX event_strings_value (value=?)")).toHaveLength(4);
    expect(plan.filter((detail) => detail.startsWith("SEARCH event_resources USING COVERING INDEX event_resources_key"))).toHaveLength(1);
    expect(plan.filter((detail) => /^SCAN event_(strings|resources)/.test(detail))).toEqual([]);
  });

  it("finds a person's events for privacy and per-person stats through event_rows_actor, never scanning the ledger", async () => {
    const spy = recordingD1(env.DB);
    const access = await subjectAccess(spy.db, config(), { actor_id: "dict-user" });
    const stats = await computeUserStats(spy.db, config().piiKey, { actorId: "dict-user" }, null);
    // The events the tests above stored for "dict-user": input(1), input(2) and input(5).
    expect(access.events.map((event) => event.client_id).sort()).toEqual(["dictionary-1", "dictionary-2", "dictionary-5"]);
    expect(stats.events).toBe(3);
    for (const { sql, params } of spy.statements.filter((statement) => /\bevents\b/.test(statement.sql))) {
      const plan = (await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params).all<{ detail: string }>()).results.map((row) => row.detail);
      expect(plan, sql).toContain("SEARCH event_rows USING COVERING INDEX event_rows_actor (actor_key=?)");
      expect(plan.filter((detail) => /^SCAN (r|event_rows)\b/.test(detail)), sql).toEqual([]);
    }
  });

  it("writes a new actor's row, plus an e-mail index entry only when it has an e-mail", async () => {
    const rowsWritten = async (actor: { id?: string; email?: string; name?: string }, n: number) => {
      const { db: spy, written } = rowsWrittenSpy();
      // Strings and resource known from the events above: only the actor upsert and the event insert can write.
      const event = EventInputSchema.parse({ ...input(10 + n), actor: { ...actor, organisation: "Dictionary Lab" } });
      await storeEvents(spy, [await prepareEvent(event, config(), { ...request, receivedAt: request.receivedAt + 10 + n })]);
      return written;
    };
    // [actor upsert, strings, resource, event]: the actor row alone; the event's row and its four index entries.
    expect(await rowsWritten({ id: "rows-id-only" }, 1)).toEqual([1, 0, 0, 5]);
    // The actor row and its actors_email entry.
    expect(await rowsWritten({ email: "rows-email-only@example.org" }, 2)).toEqual([2, 0, 0, 5]);
    expect(await rowsWritten({ id: "rows-both", email: "rows-both@example.org", name: "Rows Both" }, 3)).toEqual([2, 0, 0, 5]);
    // Known and unchanged: nothing but the event.
    expect(await rowsWritten({ id: "rows-both", email: "rows-both@example.org" }, 4)).toEqual([0, 0, 0, 5]);
  });

  it("writes, for a chunk, exactly the rows its new events, actors and resources account for", async () => {
    const { db: spy, written } = rowsWrittenSpy();
    const event = (n: number, extra: object) =>
      EventInputSchema.parse({ id: `chunk-${n}`, action: "download", resource: { type: "dataset", id: n === 4 ? "chunk-ds-2" : "chunk-ds-1" }, ...extra });
    const inputs = [
      event(1, { actor: { id: "chunk-a", email: "chunk-a@example.org", organisation: "Dictionary Lab" } }),
      event(2, { actor: { id: "chunk-a", organisation: "Dictionary Lab" } }),
      event(3, {}),
      event(4, { actor: { id: "chunk-b", organisation: "Dictionary Lab" } }),
    ];
    const prepared = await Promise.all(inputs.map((input, n) => prepareEvent(input, config(), { ...request, receivedAt: request.receivedAt + 20 + n })));
    await storeEvents(spy, prepared);
    // Actors: chunk-a (merged from two events, with an e-mail) 2, chunk-b (id only) 1. Strings: all known. Resources:
    // chunk-ds-1 and chunk-ds-2 are new, 4 rows each. Events: three name an actor (5 rows each), one does not (4).
    expect(written).toEqual([2 + 1, 0, 4 + 4, 5 + 5 + 4 + 5]);
  });

  it("writes an actor again only when a detail changes", async () => {
    const changed = EventInputSchema.parse({ ...input(3), actor: { id: "dict-user", email: "new@example.org" } });
    await storeEvents(env.DB, [await prepareEvent(changed, config(), { ...request, receivedAt: request.receivedAt + 2 })]);
    expect(await env.DB.prepare("SELECT email, name FROM actors WHERE actor_id = 'dict-user'").first()).toEqual({ email: "new@example.org", name: "Dict User" });
  });

  it("gives back through the view what ingest prepared, value for value", async () => {
    const prepared = await prepareEvent(input(4), config(), { ...request, receivedAt: request.receivedAt + 3 });
    await storeEvents(env.DB, [prepared]);
    const row = await env.DB.prepare(`SELECT ${SEALED_COLUMNS.join(", ")} FROM events WHERE id = ?1`).bind(prepared.row.id).first();
    expect(row).toEqual(Object.fromEntries(SEALED_COLUMNS.map((column) => [column, prepared.row[column]])));
    expect(prepared.row.ip_prefix).toBe("198.51.100.0");
    // 198·65536 + 51·256 + 100
    expect(await env.DB.prepare("SELECT ip_prefix FROM event_rows WHERE id = ?1").bind(prepared.row.id).first()).toEqual({ ip_prefix: 12_989_284 });
  });
});

describe("retention on the compact layout", () => {
  it("retires a day from event_rows and restores it from the archive, every value and its encoding as before", async () => {
    await clearAll();
    const now = Date.now();
    const day = dayOf(now) - config().retentionDays - 3;
    const next = random(5);
    await seedRows(
      Array.from({ length: 120 }, (_, index) => {
        const occurredAt = dayStart(day) + Math.floor(next() * ONE_DAY);
        return { input: randomInput(next, occurredAt, index), receivedAt: occurredAt + 1000 };
      }),
    );
    const physical = async () =>
      (await env.DB.prepare("SELECT * FROM event_rows ORDER BY received_at, id").all<Record<string, unknown>>()).results.map((row) =>
        Object.fromEntries(Object.entries(row).map(([column, value]) => [column, value instanceof ArrayBuffer ? [...new Uint8Array(value)] : value])),
      );
    const logicalBefore = await logicalRows();
    const physicalBefore = await physical();
    expect(logicalBefore).toHaveLength(120);

    await retireDay(env, day, { snapshot: now - 60_000, now });
    expect((await env.DB.prepare("SELECT count(*) AS n FROM event_rows").first<{ n: number }>())!.n).toBe(0);
    await restoreArchive(env.BUCKET, env.DB, archiveKey(day));
    expect(await logicalRows()).toEqual(logicalBefore);
    // Dictionary ids may be reused, never renumbered: the restored rows are the stored rows, byte for byte.
    expect(await physical()).toEqual(physicalBefore);
  });
});
