// What one stored event costs D1: bytes in the ledger's tables (event_rows, its indexes and the two dictionaries)
// and rows written, for realistic events (real browser user agents, UUIDv7 ids, one fixed title per record, e-mails) and
// for the bench's short ones. Steady state: a first batch from the same distributions warms the dictionary, then the
// measured batch is posted. D1 has no dbstat, so sizes are read from a copy of the instance's SQLite file with Node's own
// SQLite (node:sqlite, which has dbstat).
import { randomUUID } from "node:crypto";
import { copyFile, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { eventGenerator, POOL, postBatches, random } from "../lib/workload.mjs";

const EVENTS = 10_000;

/** User agents as portals see them (current browsers, a crawler, scripts). */
const USER_AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.104 Mobile Safari/537.36",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "python-requests/2.32.3",
  "curl/8.5.0",
  "Wget/1.21.4",
];
const TITLE_WORDS = ["Sea surface temperature", "Benguela upwelling", "chlorophyll-a", "CTD profiles", "Agulhas Bank", "monitoring line", "from Sentinel-2", "tide gauge records", "2016–2024", "quality-controlled", "gridded", "daily means"];

/** A UUIDv7 (time-ordered), as portals that follow RFC 9562 send. */
function uuidv7(ms) {
  const random = randomUUID().replace(/-/g, "");
  const hex = ms.toString(16).padStart(12, "0") + "7" + random.slice(13, 16) + ((parseInt(random[16], 16) & 0x3) | 0x8).toString(16) + random.slice(17, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A record's catalogue title: a fixed function of the record, as a repository's catalogue holds one title per record. */
function titleOf(record) {
  const next = random(record + 1);
  const words = Array.from({ length: 3 + Math.floor(next() * 3) }, () => TITLE_WORDS[Math.floor(next() * TITLE_WORDS.length)]);
  return `${words.join(", ")} (record ${record})`;
}

function realisticEvents(seed) {
  const base = eventGenerator(seed);
  return (resourceType) => {
    const event = base.event({ resourceType, ip: base.ip() });
    event.id = uuidv7(Date.now() - base.pick(86_400_000));
    event.resource.title = titleOf(Number(event.resource.id.slice("rec-".length)));
    event.client.user_agent = USER_AGENTS[base.pick(USER_AGENTS.length)];
    // A person's e-mail and name are fixed functions of the person, as in a portal's user directory.
    if (event.actor) {
      const user = Number(event.actor.id.slice("user-".length));
      event.actor = { ...event.actor, email: `firstname.lastname${user}@university-${user % 200}.ac.za`, name: `Researcher ${user}` };
    }
    return event;
  };
}

/** The instance's D1 database file: the largest SQLite file of Miniflare's D1 state. */
async function d1File(stateDir) {
  const files = [];
  const walk = async (dir) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.endsWith(".sqlite") && full.includes("D1")) files.push(full);
    }
  };
  await walk(stateDir);
  if (files.length === 0) throw new Error(`no D1 SQLite file under ${stateDir}`);
  return files.sort()[0];
}

/** The ledger's tables: the stored rows and the dictionary (before migration 0012, the events table itself). */
const LEDGER_TABLES = ["event_rows", "event_strings", "event_resources", "events"];
const DICTIONARIES = ["event_strings", "event_resources"];

/** Bytes per table or index of the ledger's tables (dbstat page sizes of a checkpointed copy), keyed by name. */
async function sizes(stateDir) {
  const source = await d1File(stateDir);
  const copy = path.join(os.tmpdir(), `download-audit-storage-${process.pid}.sqlite`);
  await copyFile(source, copy);
  await copyFile(`${source}-wal`, `${copy}-wal`).catch(() => undefined);
  try {
    const db = new DatabaseSync(copy);
    const rows = db
      .prepare(
        `SELECT schema.tbl_name AS tbl, stat.name AS name, sum(stat.pgsize) AS bytes FROM dbstat AS stat JOIN sqlite_schema AS schema ON schema.name = stat.name
         WHERE schema.tbl_name IN (${LEDGER_TABLES.map(() => "?").join(", ")}) AND schema.type IN ('table', 'index') GROUP BY stat.name`,
      )
      .all(...LEDGER_TABLES);
    const count = (table, where = "true") =>
      db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = ?").get(table).n > 0 ? Number(db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).get().n) : 0;
    const counts = {
      strings: DICTIONARIES.reduce((sum, table) => sum + count(table), 0),
      actors: count("actors"),
      // What each stored row writes (index entries included), to account for every row D1 reports written.
      rows: {
        events: count("event_rows"),
        eventsWithActor: count("event_rows", "actor_key IS NOT NULL"),
        strings: count("event_strings"),
        resources: count("event_resources"),
        actors: count("actors"),
        actorsWithEmail: count("actors", "email IS NOT NULL"),
      },
    };
    db.close();
    return { counts, ...Object.fromEntries(rows.map((row) => [row.name, { table: row.tbl, bytes: Number(row.bytes) }])) };
  } finally {
    await rm(copy, { force: true });
    await rm(`${copy}-wal`, { force: true });
  }
}

async function waitStored(server, resourceType, expected) {
  const deadline = Date.now() + 180_000;
  while ((await server.countStored(resourceType)) < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
  return server.countStored(resourceType);
}

async function measure(ctx, label, makeEvent, resourceType, distributions) {
  return ctx.traced(async (server) => {
    // Warm-up: the same distributions, stored first, so the measured batch meets the dictionary as a running ledger does.
    const warm = await postBatches({ api: server.api, key: server.ingestKey, total: EVENTS, parallel: 4, makeEvent: () => makeEvent(resourceType) });
    await waitStored(server, resourceType, warm.accepted);
    const warmStored = await server.countStored(resourceType);
    const { counts: countsBefore, ...before } = await sizes(server.stateDir);
    const start = await server.d1Totals();
    const sums = await postBatches({ api: server.api, key: server.ingestKey, total: EVENTS, parallel: 4, makeEvent: () => makeEvent(resourceType) });
    const stored = (await waitStored(server, resourceType, warmStored + sums.accepted)) - warmStored;
    const end = await server.d1Totals();
    const { counts: countsAfter, ...after } = await sizes(server.stateDir);
    const newStrings = (countsAfter.strings - countsBefore.strings) / stored;
    const newActors = (countsAfter.actors - countsBefore.actors) / stored;
    // Rows written by kind, per stored event: an event writes its row and 3 index entries (id, occurred, resource), one
    // more in event_rows_actor when it names an actor; a new string its row and index entry; a new resource its row and
    // 3 index entries (key, resource_id, doi); a new actor its row, one more in actors_email when it has an e-mail.
    const delta = (kind) => (countsAfter.rows[kind] - countsBefore.rows[kind]) / stored;
    const attributed = {
      events: 4 * delta("events") + delta("eventsWithActor"),
      strings: 2 * delta("strings"),
      resources: 4 * delta("resources"),
      actors: delta("actors") + delta("actorsWithEmail"),
    };
    const traced = (end.rowsWritten - start.rowsWritten) / stored;
    const attributedTotal = Object.values(attributed).reduce((sum, rows) => sum + rows, 0);
    // The tail worker loses the spans of some large D1 batches (seen with 1,000-row flushes of events without a client
    // id, never with the small flushes of the id shards); a trace short of what the stored rows account for is lost spans.
    const traceLost = traced < attributedTotal - 0.05;
    const rowsWritten = traceLost ? attributedTotal : traced;
    const unattributed = traced - attributedTotal;
    const perName = Object.fromEntries(Object.keys(after).map((name) => [name, (after[name].bytes - (before[name]?.bytes ?? 0)) / stored]));
    const total = Object.values(perName).reduce((sum, bytes) => sum + bytes, 0);
    const tableOf = (name) => after[name].table;
    const dictionary = Object.entries(perName).filter(([name]) => DICTIONARIES.includes(tableOf(name))).reduce((sum, [, bytes]) => sum + bytes, 0);
    const rowsTable = perName.event_rows ?? perName.events ?? 0;
    const indexes = Object.entries(perName).filter(([name]) => !DICTIONARIES.includes(tableOf(name)) && name !== "event_rows" && name !== "events");
    const dictionaryAfter = Object.entries(after).filter(([name]) => DICTIONARIES.includes(tableOf(name))).reduce((sum, [, { bytes }]) => sum + bytes, 0);
    return {
      label: `storage: ${label}`,
      figures: { bytesPerEvent: Math.round(total), rowsWrittenPerEvent: Number(rowsWritten.toFixed(1)) },
      notes: [
        `${stored.toLocaleString("en-US")} events after ${warmStored.toLocaleString("en-US")} warm-up ones (${distributions}): rows table ${Math.round(rowsTable)} B/event, ${indexes.length} indexes ${Math.round(indexes.reduce((sum, [, bytes]) => sum + bytes, 0))} B/event (${indexes
          .map(([name, bytes]) => `${name} ${Math.round(bytes)}`)
          .join(", ")}), dictionary growth ${Math.round(dictionary)} B/event (dictionary ${(dictionaryAfter / 1024).toFixed(0)} KiB in all)`,
        `rows written per event ${rowsWritten.toFixed(2)}: events ${attributed.events.toFixed(2)} (4 each, 5 with an actor), new actors ${attributed.actors.toFixed(2)} (${newActors.toFixed(2)} per event; 2 rows with an e-mail, 1 without), new strings ${attributed.strings.toFixed(2)}, new resources ${attributed.resources.toFixed(2)}; ${traceLost ? `the trace counted only ${traced.toFixed(2)} (spans of large batches lost), so the figure is what the stored rows account for` : `not accounted for ${unattributed.toFixed(2)} (auth or maintenance writes)`}`,
      ],
      targets: [
        { metric: "bytesPerEvent", op: "<=", value: 300, label: "≤ 300 B/event (≥ 33 M events per 10 GB)" },
        { metric: "rowsWrittenPerEvent", op: "<=", value: 5, label: "≤ 5 rows written/event" },
      ],
      details: { perName, stored, warmStored, dictionaryBytesPerEvent: dictionary, newStringsPerEvent: newStrings, newActorsPerEvent: newActors, rowsWrittenByKind: attributed, rowsWrittenTraced: traced, rowsWrittenUnattributed: unattributed },
    };
  });
}

export default {
  name: "storage",
  description: "D1 bytes (rows, indexes, dictionary) and rows written per stored event in steady state, realistic and short events",
  order: 25,
  async run(ctx) {
    const short = eventGenerator(26);
    return [
      await measure(
        ctx,
        "realistic events",
        realisticEvents(25),
        "bench-storage-real",
        `${USER_AGENTS.length} real browser/crawler/script user agents, client UUIDv7 ids, one title per record of ${POOL.records.toLocaleString("en-US")}, ${POOL.users.toLocaleString("en-US")} users with one e-mail and name each (70% of events), random IPv4/IPv6 clients`,
      ),
      await measure(ctx, "bench's short events", (resourceType) => short.event({ resourceType, ip: short.ip() }), "bench-storage-short", "the workload generator's short events"),
    ];
  },
};
