// Demo data for the browser tests, sent through the public API: catalog records with files, and 90 days of audit events.
const organisations = [
  "University of Cape Town",
  "CSIR",
  "Nelson Mandela University",
  "SAEON",
  "University of Namibia",
  "Stellenbosch University",
  "NOAA",
  "Ifremer",
];

const recordTitles = [
  "Sea surface temperature, Benguela upwelling 2019–2023",
  "Chlorophyll-a from ocean colour, Agulhas Bank",
  "CTD profiles, SA Agulhas II cruise 2022",
  "Wave buoy records, Cape Point",
  "Kelp forest extent from Sentinel-2, 2016–2024",
  "Zooplankton abundance, St Helena Bay monitoring line",
  "Coastal sea level, Simon's Town tide gauge",
  "Argo float trajectories, South Atlantic",
  "Dissolved oxygen, Namaqua shelf",
  "Bathymetry grid, False Bay",
  "Sardine egg survey, west coast",
  "Marine heatwave catalogue, South African EEZ",
];

/** A small deterministic pseudo-random generator (mulberry32), so every run seeds the same data. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const demoRecords = recordTitles.map((title, index) => ({
  id: `odp-${1001 + index}`,
  doi: `10.5072/odp.${1001 + index}`,
  title,
}));

/** The record whose large files make a bundle slow enough to cancel. */
export const largeRecordId = "odp-large";

export interface SeedSummary {
  events: number;
  records: number;
}

export async function seedDemoData(baseUrl: string, adminKey: string): Promise<SeedSummary> {
  const call = async (method: string, path: string, body?: BodyInit, contentType = "application/json") => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { "content-type": contentType }) },
      body,
    });
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${await response.text()}`);
    return response;
  };

  for (const record of [...demoRecords, { id: largeRecordId, doi: "10.5072/odp.large", title: "Large demo record (bundle cancel test)" }]) {
    const metadata = {
      doi: record.doi,
      titles: [{ title: record.title }],
      creators: [{ name: "Ocean Data Platform demo", affiliation: [{ name: "SAEON" }] }],
      publisher: "Demo repository",
      publicationYear: 2024,
      types: { resourceTypeGeneral: "Dataset" },
    };
    await call("PUT", `/v1/records/${record.id}`, JSON.stringify({ doi: record.doi, title: record.title, schema: "datacite4", metadata }));
  }
  for (const record of demoRecords.slice(0, 3)) {
    const csv = `time,value\n${Array.from({ length: 200 }, (_, row) => `2024-01-01T00:${String(row % 60).padStart(2, "0")}:00Z,${row}`).join("\n")}\n`;
    await call("PUT", `/v1/records/${record.id}/files/data.csv`, csv, "text/csv");
  }
  const next = random(7);
  for (let part = 1; part <= 24; part++) {
    const bytes = new Uint8Array(2 * 1024 * 1024).map(() => (next() * 256) | 0);
    const name = `part-${part}.bin`;
    await call("PUT", `/v1/records/${largeRecordId}/files/${name}`, bytes, "application/octet-stream");
  }

  const events = [...demoEvents(), ...counterDemoEvents()];
  for (let start = 0; start < events.length; start += 500) {
    const answer = (await (await call("POST", "/v1/events/batch", JSON.stringify({ events: events.slice(start, start + 500) }))).json()) as {
      rejected: unknown[];
    };
    if (answer.rejected.length > 0) throw new Error(`seed events rejected: ${JSON.stringify(answer.rejected.slice(0, 3))}`);
  }
  return { events: events.length, records: demoRecords.length + 1 };
}

/** About 1,500 events over the last 90 days: downloads of every kind, failures, views and duplicate repeats. */
function demoEvents(): Record<string, unknown>[] {
  const next = random(42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const users = Array.from({ length: 60 }, (_, index) => ({
    id: `user-${index + 1}`,
    email: `researcher${index + 1}@example.org`,
    name: `Researcher ${index + 1}`,
    organisation: organisations[index % organisations.length]!,
    ip: `198.51.100.${index + 1}`,
  }));
  const now = Date.now();
  const day = 86_400_000;
  const events: Record<string, unknown>[] = [];
  for (let index = 0; index < 1400; index++) {
    const user = pick(users);
    const record = demoRecords[Math.min(Math.floor(next() ** 2 * demoRecords.length), demoRecords.length - 1)]!;
    const occurredAt = now - Math.floor(next() * 90 * day) - 60_000;
    const roll = next();
    const action = roll < 0.7 ? "download" : roll < 0.85 ? "metadata.download" : roll < 0.9 ? "bundle.download" : "view";
    const failed = next() < 0.08;
    const event = {
      id: `seed-${index}`,
      occurred_at: new Date(occurredAt).toISOString(),
      action,
      status: failed ? "failure" : "success",
      resource: { type: "dataset", id: record.id, doi: record.doi, title: record.title },
      actor: { id: user.id, email: user.email, name: user.name, organisation: user.organisation },
      client: { ip: user.ip, user_agent: "Mozilla/5.0 (demo seed)" },
      bytes: action === "view" || failed ? 0 : Math.floor(next() * 900_000_000) + 4096,
      ...(failed ? { message: pick(["Storage timeout", "Client closed the connection", "Checksum mismatch"]) } : {}),
    };
    events.push(event);
    if (!failed && action === "download" && next() < 0.05)
      events.push({ ...event, id: `seed-${index}-repeat`, occurred_at: new Date(occurredAt + 30_000).toISOString() });
  }
  return events;
}

const robotAgents = ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"];
const machineAgents = ["curl/8.5.0", "python-requests/2.32.3", "libcurl/8.4.0 r-curl/5.2.0 httr/1.4.7"];
const countries = ["ZA", "ZA", "ZA", "NA", "US", "FR", "DE", "GB"];

/**
 * About 300 events of the last 28 days that show COUNTER's classes: human downloads and views with countries, scripted
 * (machine) downloads and robot crawls. Every client IP stays far below the per-IP download limit.
 */
export function counterDemoEvents(): Record<string, unknown>[] {
  const next = random(11);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const now = Date.now();
  const day = 86_400_000;
  const events: Record<string, unknown>[] = [];
  const add = (index: number, kind: "human" | "machine" | "robot") => {
    const record = pick(demoRecords);
    const action = kind === "robot" ? pick(["download", "view"]) : kind === "machine" ? "download" : pick(["download", "download", "view", "preview"]);
    events.push({
      id: `counter-${kind}-${index}`,
      occurred_at: new Date(now - Math.floor(next() * 28 * day) - 60_000).toISOString(),
      action,
      resource: { type: "dataset", id: record.id, doi: record.doi, title: record.title, ...(action === "download" ? { file: "data.csv" } : {}) },
      ...(kind === "human" ? { actor: { id: `counter-user-${index % 25}`, organisation: pick(organisations) } } : {}),
      client: {
        ip: `${kind === "robot" ? "192.0.2" : kind === "machine" ? "203.0.113" : "198.18.0"}.${(index % 40) + 1}`,
        user_agent: kind === "robot" ? pick(robotAgents) : kind === "machine" ? pick(machineAgents) : "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        ...(kind === "robot" ? {} : { country: pick(countries) }),
      },
      bytes: action === "download" ? Math.floor(next() * 50_000_000) + 4096 : 0,
    });
  };
  for (let index = 0; index < 150; index++) add(index, "human");
  for (let index = 0; index < 80; index++) add(index, "machine");
  for (let index = 0; index < 70; index++) add(index, "robot");
  return events;
}
