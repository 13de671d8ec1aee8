// What one stored event costs D1: bytes in the events table and each of its indexes and rows written, for realistic events
// (real browser user agents, UUIDv7 ids, catalogue titles, e-mails) and for the bench's short ones. D1 has no dbstat, so
// sizes are read from a copy of the instance's SQLite file with Node's own SQLite (node:sqlite, which has dbstat).
import { randomUUID } from "node:crypto";
import { copyFile, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { eventGenerator, postBatches } from "../lib/workload.mjs";

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

function realisticEvents(seed) {
  const base = eventGenerator(seed);
  return (resourceType) => {
    const event = base.event({ resourceType, ip: base.ip() });
    const record = base.pick(5_000);
    const words = Array.from({ length: 3 + base.pick(3) }, () => TITLE_WORDS[base.pick(TITLE_WORDS.length)]);
    event.id = uuidv7(Date.now() - base.pick(86_400_000));
    event.resource.title = `${words.join(", ")} (record ${record})`;
    event.client.user_agent = USER_AGENTS[base.pick(USER_AGENTS.length)];
    if (event.actor) event.actor = { ...event.actor, email: `firstname.lastname${base.pick(50_000)}@university-${base.pick(200)}.ac.za`, name: `Researcher ${base.pick(50_000)}` };
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

/** Bytes per table or index of the events table (dbstat page sizes of a checkpointed copy), keyed by name. */
async function sizes(stateDir) {
  const source = await d1File(stateDir);
  const copy = path.join(os.tmpdir(), `download-audit-storage-${process.pid}.sqlite`);
  await copyFile(source, copy);
  await copyFile(`${source}-wal`, `${copy}-wal`).catch(() => undefined);
  try {
    const db = new DatabaseSync(copy);
    const rows = db
      .prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat WHERE name = 'events' OR name IN (SELECT name FROM sqlite_schema WHERE tbl_name = 'events') GROUP BY name")
      .all();
    db.close();
    return Object.fromEntries(rows.map((row) => [row.name, Number(row.bytes)]));
  } finally {
    await rm(copy, { force: true });
    await rm(`${copy}-wal`, { force: true });
  }
}

async function measure(ctx, label, makeEvent, resourceType) {
  return ctx.traced(async (server) => {
    const before = await sizes(server.stateDir);
    const start = await server.d1Totals();
    const sums = await postBatches({ api: server.api, key: server.ingestKey, total: EVENTS, parallel: 4, makeEvent: () => makeEvent(resourceType) });
    const deadline = Date.now() + 120_000;
    while ((await server.countStored(resourceType)) < sums.accepted && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    const stored = await server.countStored(resourceType);
    const end = await server.d1Totals();
    const after = await sizes(server.stateDir);
    const perName = Object.fromEntries(Object.keys(after).map((name) => [name, (after[name] - (before[name] ?? 0)) / stored]));
    const total = Object.values(perName).reduce((sum, bytes) => sum + bytes, 0);
    const table = perName.events ?? 0;
    return {
      label: `storage: ${label}`,
      figures: { bytesPerEvent: Math.round(total), rowsWrittenPerEvent: Number(((end.rowsWritten - start.rowsWritten) / stored).toFixed(1)) },
      notes: [
        `${stored.toLocaleString("en-US")} events: table ${Math.round(table)} B/event, ${Object.keys(perName).length - 1} indexes ${Math.round(total - table)} B/event (${Object.entries(perName)
          .filter(([name]) => name !== "events")
          .map(([name, bytes]) => `${name} ${Math.round(bytes)}`)
          .join(", ")}); rows written include index entries, actors and the auth lookups`,
      ],
      targets: [
        { metric: "bytesPerEvent", op: "<=", value: 300, label: "≤ 300 B/event (≥ 33 M events per 10 GB)" },
        { metric: "rowsWrittenPerEvent", op: "<=", value: 5, label: "≤ 5 rows written/event" },
      ],
      details: { perName, stored },
    };
  });
}

export default {
  name: "storage",
  description: "D1 bytes (table + indexes) and rows written per stored event, realistic and short events",
  order: 25,
  async run(ctx) {
    const short = eventGenerator(26);
    return [
      await measure(ctx, "realistic events", realisticEvents(25), "bench-storage-real"),
      await measure(ctx, "bench's short events", (resourceType) => short.event({ resourceType, ip: short.ip() }), "bench-storage-short"),
    ];
  },
};
