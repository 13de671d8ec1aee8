// Writes realistic demo events into the LOCAL D1 database through the service's own ingest code (run with tsx).
// Usage: npm run seed -- [--events 10000] [--days 30] [--seed 42] [--if-empty]
import { parseArgs } from "node:util";
import { faker } from "@faker-js/faker";
import { getPlatformProxy } from "wrangler";
import { EventInputSchema } from "../src/core/ledger/event-schema.ts";
import { ingestEvents } from "../src/core/ledger/ingest.ts";
import { getConfig } from "../src/lib/config.ts";

const { values: options } = parseArgs({
  options: {
    events: { type: "string", default: "10000" },
    days: { type: "string", default: "30" },
    seed: { type: "string", default: "42" },
    "if-empty": { type: "boolean", default: false },
  },
});
const eventCount = Number(options.events);
const days = Number(options.days);
if (!Number.isInteger(eventCount) || eventCount < 1 || !Number.isInteger(days) || days < 1) {
  console.error("--events and --days must be positive integers");
  process.exit(2);
}

const BATCH_SIZE = 1000;
const DAY_MS = 86_400_000;
faker.seed(Number(options.seed));

const fields = ["ocean temperature", "sea ice extent", "soil moisture", "river discharge", "air quality", "glacier mass balance", "plankton abundance", "seismic noise", "bird migration", "groundwater nitrate"];
const fileTypes = [
  { extension: "csv", format: "text/csv", size: [5e4, 5e7] },
  { extension: "nc", format: "application/x-netcdf", size: [1e7, 2e9] },
  { extension: "tif", format: "image/tiff", size: [1e6, 5e8] },
  { extension: "json", format: "application/json", size: [1e3, 5e6] },
  { extension: "zip", format: "application/zip", size: [1e6, 1e9] },
];

const records = Array.from({ length: 50 }, (_, index) => {
  const field = faker.helpers.arrayElement(fields);
  const year = faker.number.int({ min: 2012, max: 2025 });
  const files = Array.from({ length: faker.number.int({ min: 1, max: 12 }) }, () => {
    const type = faker.helpers.arrayElement(fileTypes);
    return { name: faker.system.commonFileName(type.extension), format: type.format, size: faker.number.int({ min: type.size[0], max: type.size[1] }) };
  });
  return {
    id: `odp-${1000 + index}`,
    doi: `10.${faker.helpers.arrayElement(["5281", "17882", "25914", "6084"])}/odp.${faker.string.alphanumeric({ length: 6, casing: "lower" })}`,
    title: `${faker.helpers.arrayElement(["Daily", "Monthly", "Gridded", "In-situ", "Satellite-derived", "Reanalysed"])} ${field} in ${faker.location.country()}, ${year}–${year + faker.number.int({ min: 0, max: 8 })}`,
    files,
    popularity: 1 / (index + 1) ** 0.8,
  };
});

const organisations = Array.from({ length: 30 }, (_, index) => {
  const city = faker.location.city();
  const name = faker.helpers.arrayElement([`University of ${city}`, `${city} Institute of Marine Science`, `${faker.company.name()} Research`, `${city} Polytechnic`, `National Centre for Earth Observation ${city}`]);
  const domain = `${faker.internet.domainWord()}${index}.${faker.helpers.arrayElement(["edu", "ac.uk", "org", "de", "nl", "fr"])}`;
  return { name, domain, ipv4: `${faker.number.int({ min: 11, max: 223 })}.${faker.number.int({ min: 0, max: 255 })}`, ipv6: `2001:db8:${(index + 1).toString(16)}` };
});

const scriptedAgents = ["curl/8.5.0", "python-requests/2.32.3", "Wget/1.21.4", "Java/17.0.10", "R (4.4.1 x86_64-pc-linux-gnu)"];

function networkAddress(organisation, useIpv6) {
  if (useIpv6) return `${organisation.ipv6}:${faker.number.hex({ max: 0xffff })}::${faker.number.hex({ max: 0xffff })}`;
  return `${organisation.ipv4}.${faker.number.int({ min: 0, max: 255 })}.${faker.number.int({ min: 1, max: 254 })}`;
}

const users = Array.from({ length: 300 }, () => {
  const organisation = faker.helpers.arrayElement(organisations);
  const firstName = faker.person.firstName();
  const lastName = faker.person.lastName();
  const ipv6 = faker.datatype.boolean(0.25);
  return {
    id: `0000-000${faker.number.int({ min: 1, max: 3 })}-${faker.string.numeric(4)}-${faker.string.numeric(4)}`,
    email: faker.internet.email({ firstName, lastName, provider: organisation.domain }).toLowerCase(),
    name: `${firstName} ${lastName}`,
    organisation,
    ips: Array.from({ length: faker.number.int({ min: 1, max: 3 }) }, () => networkAddress(organisation, ipv6)),
    userAgent: faker.datatype.boolean(0.1) ? faker.helpers.arrayElement(scriptedAgents) : faker.internet.userAgent(),
    activity: faker.number.float({ min: 0.05, max: 1 }) ** 3,
  };
});

const recordWeights = records.map((record) => ({ weight: record.popularity, value: record }));
const userWeights = users.map((user) => ({ weight: user.activity, value: user }));
const hourWeights = Array.from({ length: 24 }, (_, hour) => ({ weight: 0.25 + Math.exp(-((hour - 13) ** 2) / 18), value: hour }));

/** A moment in the last `days` days, busier on weekdays and during working hours (UTC), never in the future. */
function occurredAt(now) {
  for (;;) {
    const day = new Date(now - faker.number.int({ min: 0, max: days - 1 }) * DAY_MS);
    const weekend = [0, 6].includes(day.getUTCDay());
    if (weekend && faker.datatype.boolean(0.55)) continue;
    const at = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), faker.helpers.weightedArrayElement(hourWeights), faker.number.int(59), faker.number.int(59), faker.number.int(999));
    if (at <= now) return new Date(at).toISOString();
  }
}

function failureMessage(action) {
  if (action === "auth.login") return faker.helpers.arrayElement(["Invalid credentials", "Identity provider timed out", "Account locked"]);
  return faker.helpers.arrayElement(["File temporarily unavailable", "Storage backend timeout", "Checksum mismatch after transfer", "Access denied: embargoed until 2027-01-01", "Client aborted the transfer"]);
}

function resourceOf(record) {
  return { type: "dataset", id: record.id, doi: record.doi, title: record.title };
}

function makeEvent(now) {
  const anonymous = faker.datatype.boolean(0.15);
  const user = anonymous ? null : faker.helpers.weightedArrayElement(userWeights);
  const action = faker.helpers.weightedArrayElement([
    { weight: 60, value: "download" },
    { weight: 15, value: "metadata.download" },
    { weight: 12, value: "bundle.download" },
    ...(anonymous ? [] : [{ weight: 13, value: "auth.login" }]),
  ]);
  const success = faker.datatype.boolean(0.95);
  const event = {
    occurred_at: occurredAt(now),
    action,
    status: success ? "success" : "failure",
    actor: user ? { id: user.id, email: user.email, name: user.name, organisation: user.organisation.name } : undefined,
    client: {
      ip: user ? faker.helpers.arrayElement(user.ips) : faker.datatype.boolean(0.2) ? faker.internet.ipv6() : faker.internet.ipv4(),
      user_agent: user ? user.userAgent : faker.datatype.boolean(0.3) ? faker.helpers.arrayElement(scriptedAgents) : faker.internet.userAgent(),
    },
    message: success ? undefined : failureMessage(action),
  };
  if (action === "download") {
    const record = faker.helpers.weightedArrayElement(recordWeights);
    const file = faker.helpers.arrayElement(record.files);
    return { ...event, resource: resourceOf(record), bytes: success ? file.size : 0, meta: { file: file.name, format: file.format } };
  }
  if (action === "metadata.download") {
    const record = faker.helpers.weightedArrayElement(recordWeights);
    return { ...event, resource: resourceOf(record), bytes: faker.number.int({ min: 2_000, max: 40_000 }), meta: { format: faker.helpers.arrayElement(["datacite-xml", "json-ld", "bibtex", "ris"]) } };
  }
  if (action === "bundle.download") {
    const chosen = faker.helpers.arrayElements(records, { min: 2, max: 6 });
    const files = chosen.flatMap((record) => faker.helpers.arrayElements(record.files, { min: 1, max: record.files.length }));
    const zipSize = Math.round(files.reduce((sum, file) => sum + file.size, 0) * faker.number.float({ min: 0.6, max: 0.95 }));
    const bundleId = `bdl-${faker.string.alphanumeric({ length: 10, casing: "lower" })}`;
    return {
      ...event,
      resource: { type: "bundle", id: bundleId, title: `Bundle of ${chosen.length} records` },
      bytes: success ? zipSize : 0,
      meta: {
        bundle_id: bundleId,
        record_ids: chosen.map((record) => record.id),
        dois: chosen.map((record) => record.doi),
        files_in_bundle: files.length,
        total_files: chosen.reduce((sum, record) => sum + record.files.length, 0),
        zip_size: zipSize,
      },
    };
  }
  return { ...event, meta: { method: faker.helpers.arrayElement(["orcid", "saml", "password"]) } };
}

const robotAgents = [
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
  "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
];
const countryWeights = [["ZA", 30], ["US", 15], ["GB", 10], ["DE", 10], ["FR", 6], ["NA", 5], ["AU", 5], ["BR", 4], ["IN", 4], ["NL", 4]].map(([value, weight]) => ({ value, weight }));

/**
 * COUNTER traffic on top of an event: about 8 % become robot crawls (no actor, a crawler's user agent and address), and
 * every other event gets the country its client was seen from (client.country), as the edge would report it.
 */
function withCounterTraffic(event) {
  if (faker.datatype.boolean(0.08))
    return { ...event, actor: undefined, client: { ip: faker.internet.ipv4(), user_agent: faker.helpers.arrayElement(robotAgents) } };
  return { ...event, client: { ...event.client, country: faker.helpers.weightedArrayElement(countryWeights) } };
}

const proxy = await getPlatformProxy({ remoteBindings: false });
try {
  const db = proxy.env.DB;
  const existing = await db
    .prepare("SELECT count(*) AS n FROM events")
    .first("n")
    .catch((error) => {
      throw new Error(`Cannot read the local events table (${error.message}); run \`npm run db:migrate:local\` first.`);
    });
  if (options["if-empty"] && existing > 0) {
    console.log(`seed: local D1 already holds ${existing} events; nothing written.`);
  } else {
    const config = getConfig(proxy.env);
    const started = Date.now();
    const tally = new Map();
    let written = 0;
    let replayed = 0;
    for (let offset = 0; offset < eventCount; offset += BATCH_SIZE) {
      const now = Date.now();
      const inputs = Array.from({ length: Math.min(BATCH_SIZE, eventCount - offset) }, () => EventInputSchema.parse(withCounterTraffic(makeEvent(now))));
      const outcomes = await ingestEvents(db, config, inputs, { receivedAt: now });
      for (const input of inputs) tally.set(`${input.action} ${input.status}`, (tally.get(`${input.action} ${input.status}`) ?? 0) + 1);
      replayed += outcomes.filter((outcome) => outcome.replayed).length;
      written += outcomes.length;
    }
    const seconds = (Date.now() - started) / 1000;
    const range = await db.prepare("SELECT min(occurred_at) AS first, max(occurred_at) AS last, count(*) AS total FROM events").first();
    console.log(`seed: wrote ${written - replayed} events (${replayed} replayed) in ${seconds.toFixed(1)} s, ${Math.round(written / seconds)} events/s, into local D1 (.wrangler/state)`);
    console.log(`seed: ${records.length} records with DOIs, ${organisations.length} organisations, ${users.length} users, over the last ${days} days`);
    for (const [key, count] of [...tally].sort()) console.log(`  ${key.padEnd(28)} ${count}`);
    console.log(`seed: the database now holds ${range.total} events from ${new Date(range.first).toISOString()} to ${new Date(range.last).toISOString()}`);
  }
} finally {
  await proxy.dispose();
}
