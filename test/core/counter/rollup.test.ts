// COUNTER rollups against the raw rows: a seeded data set (thousands of events, several months, every class) recomputed
// naively from D1's rows must give the DSR's numbers; live ingest and import of the same month give the same DSR; late
// events fold into archived days and restores do not count twice.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { dayOf } from "../../../src/core/analytics/periods";
import { purgeDayUsers, rollDay } from "../../../src/core/analytics/rollup";
import { liveCounterRows } from "../../../src/core/counter/dsr";
import { storeEvents, type EventRow } from "../../../src/core/ledger/ingest";
import { call, flushLedger } from "../../helpers";
import { BROWSER, click, config, dsr, numbers, OTHER_BROWSER, roll, store, uniqueDoi, usage } from "./counter-helpers";

/** Deterministic pseudo-random numbers (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const AGENTS = [BROWSER, OTHER_BROWSER, "curl/8.5.0", "python-requests/2.31.0", "Mozilla/5.0 (compatible; Googlebot/2.1)", null];
const ACTIONS = ["download", "download", "view", "view", "metadata.download", "preview", "bundle.download", "search"];

/** Events of `dois` over June–August 2026 with bursts (double-clicks), midnights, all user-key kinds and access methods. */
function seededEvents(dois: string[], count: number, seed: number): Record<string, unknown>[] {
  const next = random(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  const events: Record<string, unknown>[] = [];
  const start = Date.parse("2026-06-01T00:00:00Z");
  const span = Date.parse("2026-09-01T00:00:00Z") - start;
  while (events.length < count) {
    // Half the bursts sit in the last and first minute of a day, to straddle midnight.
    const base = next() < 0.3 ? start + Math.floor(next() * 91) * 86_400_000 - 20_000 + Math.floor(next() * 40_000) : start + Math.floor(next() * span);
    const user = Math.floor(next() * 30);
    const kind = user % 4;
    const agent = AGENTS[user % AGENTS.length]!;
    const action = pick(ACTIONS);
    const doi = pick(dois);
    const file = next() < 0.3 ? pick(["a.csv", "b.nc"]) : undefined;
    const repeats = 1 + Math.floor(next() * 3);
    for (let r = 0; r < repeats && events.length < count; r++) {
      const at = base + r * Math.floor(next() * 45_000);
      if (at < start || at >= start + span) continue;
      events.push({
        action,
        status: next() < 0.1 ? "failure" : "success",
        occurred_at: new Date(at).toISOString(),
        resource:
          action === "bundle.download" ? { type: "bundle", id: `b-${doi}` } : { type: "dataset", id: `id-${doi}`, doi, ...(file ? { file } : {}) },
        ...(kind === 0 ? { actor: { id: `seed-user-${user}` } } : kind === 1 ? { actor: { email: `User${user}@Example.org` } } : {}),
        client: {
          ip: `10.0.${user % 7}.${user}`,
          ...(agent ? { user_agent: agent } : {}),
          ...(kind === 2 ? { session_id: `sess-${user}-${Math.floor(at / 7_200_000)}` } : {}),
          ...(next() < 0.7 ? { country: pick(["DE", "ZA", "US"]) } : {}),
        },
        ...(action === "bundle.download" ? { meta: { dois: [doi, pick(dois)] } } : {}),
      });
    }
  }
  return events;
}

interface RawRow {
  id: string;
  occurred_at: number;
  action: string;
  status: string;
  doi: string | null;
  resource_type: string | null;
  file: string | null;
  actor_key: string | null;
  session_id: string | null;
  user_key: string | null;
  access_method: string;
  country: string | null;
  meta: string | null;
}

type Numbers = { ti: number; ui: number; tr: number; ur: number };

/**
 * The Code's numbers straight from raw rows, per month (not per day): a click is dropped when ANY later click of the same
 * user and item follows within 30 s; uniques are distinct (user, hour) pairs of the whole month.
 */
function recompute(rows: RawRow[], dois: Set<string>): Map<string, Numbers & { countries: Record<string, Numbers> }> {
  const requests = new Set(["download", "bundle.download"]);
  const counted = new Set([...requests, "view", "metadata.download", "preview"]);
  const clicks: { at: number; id: string; user: string; item: string; dataset: string; request: boolean; method: string; country: string }[] = [];
  for (const row of rows) {
    if (row.status !== "success" || !counted.has(row.action) || row.access_method === "robot") continue;
    const user = row.actor_key ?? (row.session_id ? `session:${row.session_id}` : null) ?? row.user_key ?? `event:${row.id}`;
    const datasets = row.resource_type === "bundle" ? [...new Set((JSON.parse(row.meta!).dois as string[]))] : [row.doi!];
    for (const dataset of datasets.filter((doi) => dois.has(doi)))
      clicks.push({ at: row.occurred_at, id: row.id, user, item: `${user}|${row.action}|${dataset}|${row.file}`, dataset, request: requests.has(row.action), method: row.access_method, country: row.country ?? "" });
  }
  clicks.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const byItem = new Map<string, number[]>();
  clicks.forEach((click, index) => byItem.set(click.item, [...(byItem.get(click.item) ?? []), index]));
  const kept = clicks.filter((click, index) => !byItem.get(click.item)!.some((other) => other > index && clicks[other]!.at - click.at <= 30_000));
  const result = new Map<string, Numbers & { countries: Record<string, Numbers> }>();
  const sessions = new Map<string, Set<string>>();
  const add = (key: string, target: Numbers, click: (typeof kept)[number]) => {
    const session = `${click.user}|${Math.floor(click.at / 3_600_000)}`;
    target.ti++;
    if (click.request) target.tr++;
    for (const [kind, applies] of [["i", true], ["r", click.request]] as const) {
      if (!applies) continue;
      const set = sessions.get(`${key}|${kind}`) ?? new Set<string>();
      set.add(session);
      sessions.set(`${key}|${kind}`, set);
      target[kind === "i" ? "ui" : "ur"] = set.size;
    }
  };
  for (const click of kept) {
    const key = `${click.dataset}|${new Date(click.at).toISOString().slice(0, 7)}|${click.method}`;
    const entry = result.get(key) ?? { ti: 0, ui: 0, tr: 0, ur: 0, countries: {} };
    result.set(key, entry);
    add(key, entry, click);
    if (click.country) add(`${key}|${click.country}`, (entry.countries[click.country.toLowerCase()] ??= { ti: 0, ui: 0, tr: 0, ur: 0 }), click);
  }
  return result;
}

describe("COUNTER rollups equal a raw-row recomputation", () => {
  it("for every dataset, month and access method of a seeded data set", async () => {
    const dois = Array.from({ length: 8 }, (_, index) => uniqueDoi(`seed${index}`));
    await store(seededEvents(dois, 3000, 42));
    await roll("2026-06-01", "2026-08-31");
    const { results } = await env.DB.prepare(
      `SELECT id, occurred_at, action, status, doi, resource_type, file, actor_key, session_id, user_key, access_method, country, meta FROM events
       WHERE doi IN (SELECT value FROM json_each(?1)) OR (resource_type = 'bundle' AND resource_id IN (SELECT 'b-' || value FROM json_each(?1)))`,
    )
      .bind(JSON.stringify(dois))
      .all<RawRow>();
    expect(results.length).toBe(3000);
    // The report below comes from the rollups alone: no day of the period is behind its raw rows.
    expect((await liveCounterRows(env.DB, config, { firstDay: dayOf(Date.parse("2026-06-01")), lastDay: dayOf(Date.parse("2026-08-31")) }, Date.now())).days).toEqual([]);
    const expected = recompute(results, new Set(dois));
    const report = await dsr("begin_date=2026-06&end_date=2026-08");
    const actual = new Map<string, Numbers & { countries: Record<string, Numbers> }>();
    const names = { "total-dataset-investigations": "ti", "unique-dataset-investigations": "ui", "total-dataset-requests": "tr", "unique-dataset-requests": "ur" } as const;
    for (const item of report["report-datasets"]) {
      const doi = item["dataset-id"][0].value;
      if (!dois.includes(doi)) continue;
      for (const performance of item.performance)
        for (const instance of performance.instance) {
          const key = `${doi}|${performance.period["begin-date"].slice(0, 7)}|${instance["access-method"]}`;
          const entry = actual.get(key) ?? { ti: 0, ui: 0, tr: 0, ur: 0, countries: {} };
          actual.set(key, entry);
          const name = names[instance["metric-type"] as keyof typeof names];
          entry[name] = instance.count;
          for (const [country, count] of Object.entries(instance["country-counts"] ?? {}))
            (entry.countries[country] ??= { ti: 0, ui: 0, tr: 0, ur: 0 })[name] = count as number;
        }
    }
    // Every class is present: both access methods, three months, all eight datasets.
    expect(new Set([...expected.keys()].map((key) => key.split("|").slice(1).join("|"))).size).toBe(6);
    expect(new Set([...expected.keys()].map((key) => key.split("|")[0])).size).toBe(8);
    expect(Object.fromEntries([...actual].sort())).toEqual(Object.fromEntries([...expected].sort()));
  });
});

describe("import and live ingest", () => {
  it("a month of events imported gives the same DSR as the same events ingested live", async () => {
    const live = Array.from({ length: 5 }, (_, index) => uniqueDoi(`live${index}`));
    const imported = live.map((_, index) => uniqueDoi(`import${index}`));
    const template = seededEvents(live, 300, 7).map((event) => ({
      ...event,
      occurred_at: `2026-04-${(event.occurred_at as string).slice(8)}`.replace("2026-04-31", "2026-04-30"),
    }));
    const swap = (event: Record<string, unknown>) => JSON.parse(live.reduce((text, doi, index) => text.replaceAll(doi, imported[index]!), JSON.stringify(event)));
    for (let offset = 0; offset < template.length; offset += 100) {
      const response = await call("POST", "/v1/events/batch", { body: { events: template.slice(offset, offset + 100) } });
      expect(response.status).toBe(200);
      const body = (await response.json()) as any;
      expect(body.rejected).toEqual([]);
      expect(body.denied).toBe(0);
    }
    const ndjson = template.map((event) => JSON.stringify(swap(event))).join("\n");
    const response = await call("POST", "/v1/events/import", { rawBody: ndjson, contentType: "application/x-ndjson" });
    expect(response.status).toBe(200);
    expect(((await response.json()) as any).inserted).toBe(300);
    await flushLedger();
    await roll("2026-04-01", "2026-04-30", Date.now());
    for (const [index, doi] of live.entries()) {
      const fromLive = await usage(doi, "2026-04");
      const fromImport = await usage(imported[index]!, "2026-04");
      expect(fromImport, doi).toEqual(fromLive);
      expect(fromLive.regular.ti + fromLive.machine.ti).toBeGreaterThan(0);
    }
  });
});

describe("late events and restores on a day whose raw rows were archived", () => {
  it("a late event folds in; restored rows are not counted twice", async () => {
    const doi = uniqueDoi("fold");
    const day = dayOf(Date.parse("2026-03-10T00:00:00Z"));
    const received = Date.parse("2026-11-20T00:00:00Z");
    await store([click(doi, "2026-03-10T09:00:00Z", "u1"), click(doi, "2026-03-10T09:30:00Z", "u2")], received);
    await rollDay(env.DB, day, received, received, config.counterRules);
    expect(await purgeDayUsers(env.DB, day)).not.toBeNull();
    // Retention deletes the raw rows after the purge (simulated here for this dataset only).
    const { results: archived } = await env.DB.prepare("SELECT * FROM events WHERE doi = ?1").bind(doi).all<EventRow>();
    await env.DB.prepare("DELETE FROM events WHERE doi = ?1").bind(doi).run();
    // A late download by u3, received after the day's rollup.
    await store([click(doi, "2026-03-10T15:00:00Z", "u3")], received + 60_000);
    expect(await rollDay(env.DB, day, received + 120_000, received + 120_000, config.counterRules)).toBe("folded");
    // 2 archived + 1 late: 3 requests, 3 sessions (hours 9, 9 and 15 of three users).
    expect(numbers((await usage(doi, "2026-03")).regular)).toEqual({ ti: 3, ui: 3, tr: 3, ur: 3 });
    // Restoring the archive brings back rows received before the rollup's watermark: nothing new to fold.
    await storeEvents(env.DB, archived.map((row) => ({ row, actor: null })));
    await rollDay(env.DB, day, received + 180_000, received + 180_000, config.counterRules);
    expect(numbers((await usage(doi, "2026-03")).regular)).toEqual({ ti: 3, ui: 3, tr: 3, ur: 3 });
  });
});
