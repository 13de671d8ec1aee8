// Synthetic but varied traffic: events spread over many client IPs, users, organisations and records, from a seeded PRNG
// so runs are comparable; plus the API calls the harness needs (keys, batches, history import, waiting for D1).

/** mulberry32: a tiny seeded PRNG (reproducible workloads; no library needed for 32-bit state). */
export function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const POOL = { records: 5_000, users: 50_000, organisations: 200, userAgents: 24 };
const DAY_MS = 86_400_000;

/** Generates events: ~85% downloads, ~5% failures, ~70% with a known user, IPs drawn from 2^24 IPv4 and 2^16 IPv6 networks. */
export function eventGenerator(seed) {
  const next = random(seed);
  const pick = (count) => Math.floor(next() * count);
  return {
    /** A client IP: mostly IPv4 from 10.0.0.0/8, one in ten IPv6 from 2001:db8::/32. */
    ip() {
      if (next() < 0.1) return `2001:db8:${pick(0x10000).toString(16)}:${pick(0x10000).toString(16)}::${pick(0x10000).toString(16)}`;
      const n = pick(0x1000000);
      return `10.${n >>> 16}.${(n >>> 8) & 255}.${n & 255}`;
    },
    userAgent() {
      return `BenchClient/${pick(POOL.userAgents)} (research-portal)`;
    },
    /** An event as a client sends it; `occurredWithinDays` spreads `occurred_at` over the past (omitted: now). */
    event({ resourceType = "dataset", ip, occurredWithinDays, id } = {}) {
      const record = pick(POOL.records);
      const user = pick(POOL.users);
      const roll = next();
      const action = roll < 0.85 ? "download" : roll < 0.95 ? "metadata.download" : "bundle.download";
      const event = {
        action,
        status: next() < 0.05 ? "failure" : "success",
        resource: { type: resourceType, id: `rec-${record}`, doi: `10.5281/bench.${record}`, title: `Benchmark dataset ${record}` },
        bytes: pick(50_000_000),
      };
      if (id) event.id = id;
      if (occurredWithinDays) event.occurred_at = new Date(Date.now() - Math.floor(next() * occurredWithinDays * DAY_MS)).toISOString();
      if (next() < 0.7) event.actor = { id: `user-${user}`, email: `user-${user}@bench.example`, organisation: `Organisation ${user % POOL.organisations}` };
      if (ip) event.client = { ip, user_agent: this.userAgent() };
      return event;
    },
    pick,
  };
}

export function createApi(baseUrl, adminKey) {
  /** Calls the API; `body` is sent as JSON, `raw` as is (set its content-type in `headers`). Non-2xx throws. */
  async function call(path, { method = "GET", key = adminKey, body, raw, headers = {} } = {}) {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  }
  return {
    call,
    /** Creates `count` API keys with `scopes` and returns their secrets. */
    async createKeys(count, scopes, name) {
      const keys = [];
      for (let i = 0; i < count; i++) keys.push((await call("/v1/keys", { method: "POST", body: { name: `${name}-${i}`, scopes } })).key);
      return keys;
    },
  };
}

/**
 * Posts `total` events through `POST /v1/events/batch` in batches of `batchSize`, `parallel` requests at a time.
 * `makeEvent(index)` builds each event. Returns the sum of the batch answers' counters.
 */
export async function postBatches({ api, key, total, batchSize = 1000, parallel = 4, makeEvent, ip }) {
  const sums = { accepted: 0, replayed: 0, rejected: 0, requests: 0 };
  let nextIndex = 0;
  async function worker() {
    while (nextIndex < total) {
      const start = nextIndex;
      nextIndex = Math.min(total, start + batchSize);
      const events = [];
      for (let index = start; index < nextIndex; index++) events.push(makeEvent(index));
      const answer = await api.call("/v1/events/batch", { method: "POST", key, body: { events }, headers: ip ? { "cf-connecting-ip": ip } : {} });
      sums.accepted += answer.accepted;
      sums.replayed += answer.replayed;
      sums.rejected += answer.rejected.length;
      sums.requests += 1;
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
  return sums;
}

/**
 * Loads `total` historical events through `POST /v1/events/import` (NDJSON, the migration path for old download logs),
 * `linesPerRequest` per request (≤ 50,000), `parallel` requests at a time. Returns the summed answer counters.
 */
export async function importHistory({ api, total, linesPerRequest = 5_000, parallel = 2, makeEvent }) {
  const sums = { inserted: 0, replayed: 0, invalid: 0, requests: 0 };
  let nextIndex = 0;
  async function worker() {
    while (nextIndex < total) {
      const start = nextIndex;
      nextIndex = Math.min(total, start + linesPerRequest);
      const lines = [];
      for (let index = start; index < nextIndex; index++) lines.push(JSON.stringify(makeEvent(index)));
      const answer = await api.call("/v1/events/import", { method: "POST", raw: lines.join("\n"), headers: { "content-type": "application/x-ndjson" } });
      sums.inserted += answer.inserted;
      sums.replayed += answer.replayed;
      sums.invalid += answer.invalid.length;
      sums.requests += 1;
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
  return sums;
}

/** Polls `count()` until it reaches `expected` (or `timeoutMs` passes); resolves with the last count and the wait in ms. */
export async function waitForCount(count, expected, { timeoutMs = 120_000, intervalMs = 200 } = {}) {
  const started = Date.now();
  let last = await count();
  while (last < expected && Date.now() - started < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    last = await count();
  }
  return { count: last, waitedMs: Date.now() - started };
}
