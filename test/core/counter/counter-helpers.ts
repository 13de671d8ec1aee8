// Helpers of the COUNTER tests: store events as the import path does, roll days up, read one dataset's DSR numbers.
import { env } from "cloudflare:workers";
import { dayOf } from "../../../src/core/analytics/periods";
import { rebuildDays } from "../../../src/core/analytics/rollup";
import { EventInputSchema } from "../../../src/core/ledger/event-schema";
import { ingestEvents } from "../../../src/core/ledger/ingest";
import { getConfig } from "../../../src/lib/config";
import { call } from "../../helpers";

export const config = getConfig(env);
/** Every test event is received at this instant; rollups run "now" = a day later. */
export const RECEIVED_AT = Date.parse("2026-11-20T00:00:00Z");
export const ROLL_NOW = Date.parse("2026-11-21T00:00:00Z");

export const BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
export const OTHER_BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15";

let serial = 0;
export const uniqueDoi = (label: string) => `10.5555/counter.${label}.${Date.now().toString(36)}${(serial++).toString(36)}`;

/** A download of `doi` by `user` at `at` (RFC 3339), from a browser; `overrides` replace top-level fields. */
export function click(doi: string, at: string, user: string | null, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    action: "download",
    occurred_at: at,
    resource: { type: "dataset", id: `id-${doi}`, doi },
    ...(user ? { actor: { id: user } } : {}),
    client: { ip: "198.51.100.7", user_agent: BROWSER },
    ...overrides,
  };
}

/** Stores events directly (the import path: no rate limit, no dedup window). */
export async function store(events: Record<string, unknown>[], receivedAt = RECEIVED_AT, request: { userAgent?: string; country?: string } = {}): Promise<void> {
  await ingestEvents(env.DB, config, events.map((event) => EventInputSchema.parse(event)), { keyId: "test", receivedAt, ...request });
}

/** Rebuilds the rollups (event and COUNTER) of the days [from, to] (YYYY-MM-DD, inclusive). */
export async function roll(from: string, to = from, now = ROLL_NOW): Promise<void> {
  await rebuildDays(env.DB, dayOf(Date.parse(from)), dayOf(Date.parse(to)) + 1, { now, settleMs: 0, counter: config.counterRules });
}

export interface Metrics {
  ti: number;
  ui: number;
  tr: number;
  ur: number;
  countries: Record<string, Partial<Record<"ti" | "ui" | "tr" | "ur", number>>>;
}

const metricNames = {
  "total-dataset-investigations": "ti",
  "unique-dataset-investigations": "ui",
  "total-dataset-requests": "tr",
  "unique-dataset-requests": "ur",
} as const;

export async function dsr(query: string): Promise<any> {
  const response = await call("GET", `/v1/reports/counter/dsr?${query}`);
  if (response.status !== 200) throw new Error(`DSR answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** One dataset's numbers of one month (YYYY-MM) per access method; zeros when it has none. */
export async function usage(doi: string, month: string): Promise<Record<"regular" | "machine", Metrics>> {
  const report = await dsr(`begin_date=${month}&end_date=${month}&dataset_id=${encodeURIComponent(doi)}`);
  const result = {
    regular: { ti: 0, ui: 0, tr: 0, ur: 0, countries: {} } as Metrics,
    machine: { ti: 0, ui: 0, tr: 0, ur: 0, countries: {} } as Metrics,
  };
  for (const dataset of report["report-datasets"])
    for (const performance of dataset.performance)
      for (const instance of performance.instance) {
        const target = result[instance["access-method"] as "regular" | "machine"];
        const name = metricNames[instance["metric-type"] as keyof typeof metricNames];
        target[name] += instance.count;
        for (const [country, count] of Object.entries(instance["country-counts"] ?? {}))
          (target.countries[country] ??= {})[name] = count as number;
      }
  return result;
}

/** Shorthand of the four numbers of one access method. */
export const numbers = (metrics: Metrics) => ({ ti: metrics.ti, ui: metrics.ui, tr: metrics.tr, ur: metrics.ur });
