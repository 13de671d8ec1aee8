// Fills a running service with a believable demo repository through its public API: catalog records (DataCite 4),
// data files in R2 for the most used ones, and a year and more of audit events (people, scripts and robots; a few
// failures and refusals), imported as history, then rolled up as the cron would. `npm run dev` runs it on an empty state.
// Usage: npm run seed -- [--url http://127.0.0.1:8787] [--key <admin key>] [--events 16000] [--days 400] [--seed 42] [--if-empty]
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs, parseEnv } from "node:util";

const DAY_MS = 86_400_000;
const IMPORT_CHUNK = 5_000;

/** mulberry32: a small deterministic generator, so the same seed gives the same repository (dates move with today). */
function generator(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min, max) => min + Math.floor(next() * (max - min + 1));
  const pick = (items) => items[Math.floor(next() * items.length)];
  const chance = (probability) => next() < probability;
  /** Picks an item by weight ({weight, value} pairs). */
  const weighted = (entries) => {
    const total = entries.reduce((sum, entry) => sum + entry.weight, 0);
    let roll = next() * total;
    for (const entry of entries) if ((roll -= entry.weight) < 0) return entry.value;
    return entries.at(-1).value;
  };
  return { next, int, pick, chance, weighted };
}

const subjects = [
  { topic: "Sea surface temperature", subject: "Oceanography", unit: "degC", file: "sst", realm: "sea" },
  { topic: "Chlorophyll-a concentration", subject: "Ocean colour", unit: "mg m-3", file: "chla", realm: "sea" },
  { topic: "CTD profiles", subject: "Physical oceanography", unit: "dbar", file: "ctd", realm: "sea" },
  { topic: "Significant wave height", subject: "Physical oceanography", unit: "m", file: "waves", realm: "sea" },
  { topic: "Kelp canopy extent", subject: "Marine ecology", unit: "ha", file: "kelp", realm: "sea" },
  { topic: "Zooplankton abundance", subject: "Marine biology", unit: "ind m-3", file: "zooplankton", realm: "sea" },
  { topic: "Coastal sea level", subject: "Geodesy", unit: "m", file: "sea_level", realm: "sea" },
  { topic: "Dissolved oxygen", subject: "Biogeochemistry", unit: "ml l-1", file: "oxygen", realm: "sea" },
  { topic: "Rainfall", subject: "Climatology", unit: "mm", file: "rainfall", realm: "land" },
  { topic: "Soil moisture", subject: "Hydrology", unit: "m3 m-3", file: "soil_moisture", realm: "land" },
  { topic: "River discharge", subject: "Hydrology", unit: "m3 s-1", file: "discharge", realm: "land" },
  { topic: "Air temperature and humidity", subject: "Meteorology", unit: "degC", file: "weather", realm: "land" },
  { topic: "Vegetation greenness (NDVI)", subject: "Remote sensing", unit: "1", file: "ndvi", realm: "land" },
  { topic: "Seabird colony counts", subject: "Ornithology", unit: "nests", file: "seabirds", realm: "sea" },
  { topic: "Groundwater levels", subject: "Hydrogeology", unit: "m", file: "groundwater", realm: "land" },
  { topic: "Eddy covariance CO2 fluxes", subject: "Biogeochemistry", unit: "umol m-2 s-1", file: "co2_flux", realm: "land" },
];
const places = {
  sea: ["Benguela upwelling system", "Agulhas Bank", "Algoa Bay", "False Bay", "St Helena Bay", "Namaqua shelf", "Cape Point", "Prince Edward Islands"],
  land: ["Kruger National Park", "Jonkershoek catchment", "Karoo", "uMngeni catchment", "Table Mountain", "Drakensberg", "Skukuza", "Cape Peninsula"],
};
const kinds = ["Daily observations", "Monthly means", "Gridded", "In-situ measurements", "Satellite-derived", "Mooring time series"];
const creatorNames = [
  "Nkosi, Thandiwe", "van der Merwe, Pieter", "Dlamini, Sipho", "Pillay, Anusha", "Mokoena, Lerato", "Smith, Jennifer", "Naidoo, Kevin",
  "Botha, Elmarie", "Khumalo, Zanele", "Adams, Farah", "Okafor, Chidi", "Müller, Katrin", "Dubois, Amélie", "García, Lucía", "Tanaka, Hiroshi",
];
const organisations = [
  "University of Cape Town", "Stellenbosch University", "Nelson Mandela University", "Rhodes University", "University of KwaZulu-Natal",
  "University of Pretoria", "University of the Witwatersrand", "CSIR", "SAEON", "South African Weather Service", "NOAA", "Ifremer",
  "Alfred Wegener Institute", "CSIRO", "GEOMAR", "National Oceanography Centre", "Plymouth Marine Laboratory", "University of Namibia",
  "University of Mauritius", "Makerere University", "University of Bergen", "Wageningen University", "ETH Zurich",
  "Scripps Institution of Oceanography", "Woods Hole Oceanographic Institution", "University of Tasmania", "Eduardo Mondlane University",
  "University of Ghana", "Kenya Marine and Fisheries Research Institute", "University of Lagos",
];
const firstNames = ["Thabo", "Aisha", "Johan", "Priya", "Lindiwe", "Marco", "Sarah", "Kwame", "Yuki", "Fatima", "Liam", "Naledi", "Ana", "Ravi", "Chloe", "Tendai", "Ingrid", "Omar", "Zodwa", "Pierre", "Mei", "Sibusiso", "Elena", "David"];
const lastNames = ["Mahlangu", "Patel", "de Villiers", "Ndlovu", "Rossi", "Ahmed", "Johnson", "Mensah", "Sato", "Hassan", "Murphy", "Mokoena", "Silva", "Reddy", "Martin", "Moyo", "Larsen", "Haddad", "Zulu", "Lefebvre", "Chen", "Sithole", "Ivanova", "Cohen"];
const browsers = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
];
const scripts = ["python-requests/2.32.3", "curl/8.5.0", "Wget/1.21.4", "Python-urllib/3.12", "R (4.4.1 x86_64-pc-linux-gnu x86_64 linux-gnu)", "Go-http-client/2.0"];
const robots = [
  { agent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", network: "66.249.66" },
  { agent: "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", network: "40.77.167" },
  { agent: "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", network: "54.36.148" },
  { agent: "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", network: "85.208.96" },
  { agent: "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", network: "20.171.207" },
  { agent: "CCBot/2.0 (https://commoncrawl.org/faq/)", network: "44.192.48" },
];
const failures = ["Storage backend timeout", "Client closed the connection", "Checksum mismatch after transfer", "Link expired before the download started"];

/** The demo catalog: records with plausible titles, creators and years (coverage ends before publication, never in the future). */
export function demoCatalog(random, now = Date.now()) {
  const lastYear = new Date(now).getUTCFullYear() - 1;
  const titles = new Set();
  const catalog = [];
  for (let index = 0; catalog.length < 48; index++) {
    const subject = random.pick(subjects);
    const place = random.pick(places[subject.realm]);
    const published = random.int(2014, lastYear);
    const end = published - random.int(0, 1);
    const start = end - random.int(1, 9);
    const title = `${subject.topic}, ${place}, ${start}–${end}`;
    if (titles.has(title)) continue;
    titles.add(title);
    const number = 1001 + catalog.length;
    catalog.push({
      id: `odp-${number}`,
      doi: `10.5072/odp.${number}`,
      title,
      public: random.chance(0.6),
      subject,
      published,
      metadata: {
        doi: `10.5072/odp.${number}`,
        titles: [{ title }],
        creators: Array.from({ length: random.int(1, 4) }, () => ({ name: random.pick(creatorNames), affiliation: [{ name: random.pick(organisations.slice(0, 10)) }] })),
        publisher: "Ocean and Earth Data Platform (demo)",
        publicationYear: published,
        types: { resourceTypeGeneral: "Dataset", resourceType: random.pick(kinds) },
        subjects: [{ subject: subject.subject }, { subject: subject.topic }, { subject: place }],
        descriptions: [
          {
            description: `${random.pick(kinds)} of ${subject.topic.toLowerCase()} (${subject.unit}) at ${place}, ${start} to ${end}, quality controlled and documented for reuse.`,
            descriptionType: "Abstract",
          },
        ],
        dates: [{ date: `${start}-01-01/${end}-12-31`, dateType: "Collected" }],
        rightsList: [{ rights: "Creative Commons Attribution 4.0 International", rightsURI: "https://creativecommons.org/licenses/by/4.0/" }],
        version: `1.${random.int(0, 3)}`,
      },
    });
  }
  // The most used records (the first ones, see `popularity`) carry real files; the rest are metadata-only, as in many repositories.
  for (const record of catalog.slice(0, 16)) {
    record.files = Array.from({ length: random.int(1, 3) }, (_, fileIndex) => {
      const rows = random.int(200, 20_000);
      const name = `${record.subject.file}_${fileIndex === 0 ? "data" : `part${fileIndex + 1}`}.csv`;
      const body = csvFile(record, fileIndex, random.int(200, 20_000));
      return { name, body, bytes: Buffer.byteLength(body) };
    });
  }
  return catalog;
}

/** A CSV time series of `rows` lines; its own generator makes the content (and size) depend only on the record and file. */
function csvFile(record, fileIndex, rows) {
  const random = generator(Number(record.id.replace(/\D/g, "")) * 16 + fileIndex);
  const lines = [`time,station,value_${record.subject.unit.replace(/\W+/g, "_")},quality_flag`];
  let value = random.int(5, 25);
  for (let row = 0; row < rows; row++) {
    value += (random.next() - 0.5) * 0.4;
    lines.push(`${new Date(Date.UTC(record.published - 2, 0, 1) + row * 3_600_000).toISOString()},ST${(row % 4) + 1},${value.toFixed(3)},${random.chance(0.02) ? 3 : 1}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The demo ledger: `count` events over `days` days, growing over time, busier on weekdays and working hours (UTC). */
export function demoEvents(random, catalog, { count, days, now = Date.now() }) {
  const withFiles = catalog.filter((record) => record.files);
  const users = Array.from({ length: 300 }, (_, index) => {
    const organisation = organisations[Math.floor(random.next() ** 1.6 * organisations.length)];
    const first = random.pick(firstNames);
    const last = random.pick(lastNames);
    const domain = organisation.toLowerCase().replace(/[^a-z]+/g, "-").replace(/^-|-$/g, "").slice(0, 24);
    return {
      id: `user-${String(index + 1).padStart(4, "0")}`,
      email: `${first}.${last}${index}@${domain}.example.org`.toLowerCase().replace(/ /g, ""),
      name: `${first} ${last}`,
      organisation,
      ip: random.chance(0.25) ? `2001:db8:${(organisations.indexOf(organisation) + 1).toString(16)}::${random.int(1, 0xffff).toString(16)}` : `${100 + organisations.indexOf(organisation)}.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`,
      agent: random.chance(0.06) ? random.pick(scripts) : random.pick(browsers),
      activity: random.next() ** 3 + 0.01,
    };
  });
  const popularity = catalog.map((record, index) => ({ weight: 1 / (index + 1) ** 0.8, value: record }));
  const filePopularity = withFiles.map((record, index) => ({ weight: 1 / (index + 1) ** 0.8, value: record }));
  const userWeights = users.map((user) => ({ weight: user.activity, value: user }));
  const hours = Array.from({ length: 24 }, (_, hour) => ({ weight: 0.2 + Math.exp(-((hour - 11) ** 2) / 18), value: hour }));
  const dayWeights = Array.from({ length: days }, (_, back) => {
    const day = new Date(now - back * DAY_MS);
    const weekend = [0, 6].includes(day.getUTCDay());
    return { weight: (weekend ? 0.45 : 1) * (1 + 0.35 * ((days - back) / days)), value: back };
  });
  const at = () => {
    for (;;) {
      const day = new Date(now - random.weighted(dayWeights) * DAY_MS);
      const time = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), random.weighted(hours), random.int(0, 59), random.int(0, 59), random.int(0, 999));
      if (time < now - 60_000) return time;
    }
  };
  const dataset = (record) => ({ type: "dataset", id: record.id, doi: record.doi, title: record.title });

  const events = [];
  const push = (event) => events.push({ id: `demo-${String(events.length + 1).padStart(6, "0")}`, ...event, occurred_at: new Date(event.occurred_at).toISOString() });

  while (events.length < count) {
    const roll = random.next();
    if (roll < 0.1) {
      // A robot crawling landing pages and public files.
      const robot = random.pick(robots);
      const record = random.weighted(popularity);
      const file = record.public && record.files ? random.pick(record.files) : null;
      push({
        occurred_at: at(),
        action: file ? "download" : "metadata.download",
        status: "success",
        resource: dataset(record),
        client: { ip: `${robot.network}.${random.int(1, 254)}`, user_agent: robot.agent },
        bytes: file ? file.bytes : random.int(8_000, 40_000),
        ...(file ? { meta: { file: file.name } } : {}),
      });
    } else if (roll < 0.11) {
      // A harvesting script: a burst of downloads from one address.
      const agent = random.pick(scripts);
      const ip = `${random.int(130, 199)}.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`;
      const start = at();
      const burst = random.int(5, 25);
      for (let index = 0; index < burst && events.length < count; index++) {
        const record = random.pick(withFiles);
        const file = random.pick(record.files);
        push({ occurred_at: start + index * 20_000, action: "download", status: "success", resource: dataset(record), client: { ip, user_agent: agent }, bytes: file.bytes, meta: { file: file.name } });
      }
    } else {
      const anonymous = random.chance(0.12);
      const user = anonymous ? null : random.weighted(userWeights);
      const action = random.weighted([
        { weight: 55, value: "download" },
        { weight: 20, value: "metadata.download" },
        { weight: 7, value: "bundle.download" },
        ...(anonymous ? [] : [{ weight: 10, value: "auth.login" }]),
      ]);
      const failed = random.chance(0.035);
      const base = {
        occurred_at: at(),
        action,
        status: failed ? "failure" : "success",
        ...(user ? { actor: { id: user.id, email: user.email, name: user.name, organisation: user.organisation } } : {}),
        client: user ? { ip: user.ip, user_agent: user.agent } : { ip: `${random.int(1, 223)}.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`, user_agent: random.pick(browsers) },
        ...(failed ? { message: action === "auth.login" ? "Identity provider timed out" : random.pick(failures) } : {}),
      };
      if (action === "download") {
        const record = random.weighted(filePopularity);
        const file = random.pick(record.files);
        push({ ...base, resource: dataset(record), bytes: failed ? 0 : file.bytes, meta: { file: file.name } });
      } else if (action === "metadata.download") {
        push({ ...base, resource: dataset(random.weighted(popularity)), bytes: failed ? 0 : random.int(9_000, 60_000), meta: { format: "pdf" } });
      } else if (action === "bundle.download") {
        const chosen = [...new Set(Array.from({ length: random.int(2, 5) }, () => random.weighted(filePopularity)))];
        const files = chosen.flatMap((record) => record.files.map((file) => ({ name: `data/${record.id}/${file.name}`, size: file.bytes, doi: record.doi })));
        const zipSize = Math.round(files.reduce((sum, file) => sum + file.size, 0) * 0.35) + chosen.length * 12_000;
        const bundleId = `demo-bundle-${events.length + 1}`;
        push({
          ...base,
          resource: { type: "bundle", id: bundleId, title: `Bundle of ${chosen.length} records` },
          bytes: failed ? 0 : zipSize,
          meta: { bundle_id: bundleId, record_ids: chosen.map((record) => record.id), dois: chosen.map((record) => record.doi), files_in_bundle: files, total_files: files.length + chosen.length, zip_size: zipSize },
        });
      } else {
        push({ ...base, meta: { method: random.pick(["orcid", "saml", "password"]) } });
      }
    }
  }
  return events.sort((a, b) => a.occurred_at.localeCompare(b.occurred_at));
}

/**
 * A harvesting script in the last hour, sent through POST /v1/events/batch so the guards judge it as they would live
 * traffic: past the per-IP limit (100 downloads an hour) its downloads are refused and stored as `denied`, and the files
 * it fetches again within the dedup window are stored as repeats. (Imports take history as it was, without guards.)
 */
async function harvestingBurst(call, catalog, now) {
  const withFiles = catalog.filter((record) => record.files);
  const files = withFiles.flatMap((record) => record.files.map((file) => ({ record, file })));
  const events = Array.from({ length: 112 }, (_, index) => {
    const { record, file } = files[index % files.length];
    return {
      id: `demo-burst-${index + 1}`,
      occurred_at: new Date(now - (112 - index) * 20_000).toISOString(),
      action: "download",
      resource: { type: "dataset", id: record.id, doi: record.doi, title: record.title },
      client: { ip: "146.230.17.88", user_agent: "python-requests/2.32.3" },
      bytes: file.bytes,
      meta: { file: file.name },
    };
  });
  const result = await call("POST", "/v1/events/batch", JSON.stringify({ events }));
  return { accepted: result.accepted, duplicates: result.duplicates, denied: result.denied };
}

/** Seeds the service at `baseUrl`; with `ifEmpty`, leaves a catalog or a ledger that already holds data alone. */
export async function seedDemo({ baseUrl, adminKey, events: eventCount = 16_000, days = 400, seed = 42, ifEmpty = false, log = console.log }) {
  const call = async (method, pathAndQuery, body, contentType = "application/json") => {
    const response = await fetch(`${baseUrl}${pathAndQuery}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { "content-type": contentType }) },
      body,
    });
    if (!response.ok) throw new Error(`${method} ${pathAndQuery} → ${response.status} ${(await response.text()).slice(0, 500)}`);
    return response.json();
  };
  const random = generator(seed);
  const now = Date.now();
  const catalog = demoCatalog(random, now);

  const existingRecords = (await call("GET", "/v1/records?limit=1")).data.length;
  if (ifEmpty && existingRecords > 0) log("seed: the catalog already holds records; catalog left as it is");
  else {
    let fileCount = 0;
    let fileBytes = 0;
    for (const record of catalog) {
      await call("PUT", `/v1/records/${record.id}`, JSON.stringify({ title: record.title, doi: record.doi, public: record.public, schema: "datacite4", metadata: record.metadata }));
      for (const file of record.files ?? []) {
        await call("PUT", `/v1/records/${record.id}/files/${file.name}`, file.body, "text/csv");
        fileCount++;
        fileBytes += file.bytes;
      }
    }
    log(`seed: ${catalog.length} records (${catalog.filter((record) => record.public).length} public), ${fileCount} files (${(fileBytes / 1e6).toFixed(1)} MB) in R2`);
  }
  const existingEvents = (await call("GET", "/v1/actions")).reduce((sum, action) => sum + action.events, 0);
  if (ifEmpty && existingEvents > 0) {
    log(`seed: the ledger already holds ${existingEvents} events; ledger left as it is`);
    return;
  }
  const events = demoEvents(random, catalog, { count: eventCount, days, now });
  let inserted = 0;
  let replayed = 0;
  for (let start = 0; start < events.length; start += IMPORT_CHUNK) {
    const ndjson = events.slice(start, start + IMPORT_CHUNK).map((event) => JSON.stringify(event)).join("\n");
    const result = await call("POST", "/v1/events/import", ndjson, "application/x-ndjson");
    if (result.invalid.length > 0) throw new Error(`seed: the service refused demo events: ${JSON.stringify(result.invalid.slice(0, 3))}`);
    inserted += result.inserted;
    replayed += result.replayed;
  }
  const tally = {};
  for (const event of events) tally[event.status] = (tally[event.status] ?? 0) + 1;
  const burst = await harvestingBurst(call, catalog, now);
  const robotsSeen = events.filter((event) => robots.some((robot) => robot.agent === event.client?.user_agent)).length;
  const scriptsSeen = events.filter((event) => scripts.includes(event.client?.user_agent)).length;
  log(
    `seed: ${inserted} events imported (${replayed} already there) from ${events[0].occurred_at.slice(0, 10)} to ${events.at(-1).occurred_at.slice(0, 10)}: ` +
      `${tally.success ?? 0} successful, ${tally.failure ?? 0} failed; ${robotsSeen} by robots, ${scriptsSeen} by scripts`,
  );
  log(
    `seed: a script's burst of ${burst.accepted} downloads in the last hour, through the guards: ${burst.accepted - burst.duplicates - burst.denied} counted, ` +
      `${burst.duplicates} repeats within the dedup window, ${burst.denied} refused by the per-IP rate limit (stored as denied)`,
  );
  // A rebuild of the seeded days: the cron's incremental run would leave events received within ROLLUP_SETTLE_SECONDS
  // (all of these) to its next run.
  const from = new Date(now - (days + 1) * DAY_MS).toISOString().slice(0, 10);
  const to = new Date(now + DAY_MS).toISOString().slice(0, 10);
  const rollup = await call("POST", "/v1/maintenance/rollup", JSON.stringify({ from, to }));
  log(`seed: rollups built for ${rollup.days} days, so statistics read them as they would after the cron`);
}

/** ADMIN_API_KEY of the local settings (.dev.vars, else .dev.vars.example). */
export function localAdminKey(root) {
  for (const file of [".dev.vars", ".dev.vars.example"]) {
    const fullPath = path.join(root, file);
    if (existsSync(fullPath)) {
      const key = parseEnv(readFileSync(fullPath, "utf8")).ADMIN_API_KEY;
      if (key) return key;
    }
  }
  return undefined;
}

if (import.meta.filename === process.argv[1]) {
  const root = path.join(import.meta.dirname, "..");
  const { values } = parseArgs({
    options: {
      url: { type: "string", default: `http://127.0.0.1:${process.env.PORT || 8787}` },
      key: { type: "string" },
      events: { type: "string", default: "16000" },
      days: { type: "string", default: "400" },
      seed: { type: "string", default: "42" },
      "if-empty": { type: "boolean", default: false },
    },
  });
  const [events, days, seed] = [Number(values.events), Number(values.days), Number(values.seed)];
  if (![events, days, seed].every(Number.isInteger) || events < 1 || days < 1) {
    console.error("seed: --events and --days must be positive integers, --seed an integer");
    process.exit(2);
  }
  const adminKey = values.key ?? localAdminKey(root);
  if (!adminKey) {
    console.error("seed: no admin key; pass --key or set ADMIN_API_KEY in .dev.vars");
    process.exit(2);
  }
  try {
    await seedDemo({ baseUrl: values.url.replace(/\/$/, ""), adminKey, events, days, seed, ifEmpty: values["if-empty"] });
  } catch (error) {
    console.error(error instanceof TypeError ? `seed: cannot reach ${values.url} (${error.cause?.code ?? error.message}); start the service with \`npm run dev\` first` : error.message);
    process.exit(1);
  }
}
