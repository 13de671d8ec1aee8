// Seeds ledger rows with chosen occurrence and receipt times (duplicates and denials included), and computes statistics
// from raw rows in plain JavaScript: the independent reference that rollup-based stats must equal.
import { env } from "cloudflare:workers";
import { EventInputSchema, type EventInput } from "../src/core/ledger/event-schema";
import { prepareEvent, storeEvents, type EventRow, type PreparedEvent } from "../src/core/ledger/ingest";
import { periodLabel, periodsOf, type Interval } from "../src/core/analytics/periods";
import { getConfig } from "../src/lib/config";

export const DAY = 86_400_000;

/** Deterministic pseudo-random numbers (mulberry32), so a failing seed can be replayed. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Empties the ledger with everything derived from it (rollups, seals), so a test starts from a fresh deployment. */
export async function clearLedger(): Promise<void> {
  await env.DB.batch(
    ["events", "actors", "event_rollups", "event_rollup_months", "rollup_days", "maintenance_state", "maintenance_leases", "integrity_seals", "integrity_verifications"].map((table) =>
      env.DB.prepare(`DELETE FROM ${table}`),
    ),
  );
  for (;;) {
    const copies = await env.BUCKET.list({ prefix: "seals/" });
    if (copies.objects.length === 0) break;
    await env.BUCKET.delete(copies.objects.map((object) => object.key));
  }
}

export interface SeedRow {
  /** Validated (and defaulted) by EventInputSchema, as ingest does. */
  input: EventInput | Record<string, unknown>;
  receivedAt: number;
  denied?: boolean;
  duplicateOf?: string;
}

/** Validates and prepares rows exactly as ingest does, then stores them directly with the given receipt time, status and duplicate marker. */
export async function seedRows(rows: SeedRow[]): Promise<EventRow[]> {
  const config = getConfig(env);
  const prepared: PreparedEvent[] = [];
  for (const row of rows) {
    const input = EventInputSchema.parse(row.input);
    const event = await prepareEvent(input, config, { keyId: "test-seed", receivedAt: row.receivedAt });
    // Seeded rows keep the id they are given as their stored id, so tests can name them (rows stored before ids were
    // scoped to keys look the same).
    if (input.id !== undefined) event.row.id = input.id;
    if (row.denied) event.row.status = "denied";
    if (row.duplicateOf) event.row.duplicate_of = row.duplicateOf;
    prepared.push(event);
  }
  await storeEvents(env.DB, prepared);
  return prepared.map((event) => event.row);
}

/** `count` rows of the realistic mix drawn from `seed`, occurring uniformly over `days` days from `start`, each received a second later. */
export function randomRows(seed: number, count: number, start: number, days: number): SeedRow[] {
  const next = random(seed);
  return Array.from({ length: count }, (_, index) => {
    const occurredAt = start + Math.floor(next() * days * DAY);
    return { input: randomInput(next, occurredAt, index), receivedAt: occurredAt + 1000 };
  });
}

export const organisations = ["Aarhus Uni", "Bergen Lab", "CERN", "Delft", "ETH", "Fiocruz"];
export const actions = ["download", "download", "download", "bundle.download", "metadata.download", "auth.login"];

/** A realistic mix: skewed resources, users tied to organisations, ~8 % failures, some anonymous (IP-only) users. */
export function randomInput(next: () => number, occurredAt: number, index: number): EventInput {
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)]!;
  const user = Math.floor(next() ** 2 * 60);
  const resource = Math.floor(next() ** 3 * 25);
  const anonymous = next() < 0.1;
  return {
    id: `ev-${index}-${occurredAt}`,
    occurred_at: new Date(occurredAt).toISOString(),
    action: pick(actions),
    status: next() < 0.08 ? "failure" : "success",
    resource: next() < 0.05 ? undefined : { type: resource % 5 === 0 ? "software" : "dataset", id: `rec-${resource}`, doi: `10.1234/rec.${resource}`, title: `Record ${resource}` },
    actor: anonymous ? undefined : { id: `user-${user}`, organisation: user % 7 === 0 ? undefined : organisations[user % organisations.length] },
    client: { ip: `198.51.100.${user % 200}`, user_agent: `agent-${user % 3}` },
    bytes: Math.floor(next() * 1_000_000),
  };
}

export interface ReferenceScope {
  from: number;
  to: number;
  actions: string[] | null;
  resourceType?: string;
  resourceId?: string;
  organisation?: string;
}

const counted = (row: EventRow, scope: ReferenceScope) =>
  (row.status === "success" || row.status === "failure") &&
  row.duplicate_of === null &&
  row.occurred_at >= scope.from &&
  row.occurred_at < scope.to &&
  (scope.actions === null || scope.actions.includes(row.action)) &&
  (!scope.resourceType || row.resource_type === scope.resourceType) &&
  (!scope.resourceId || row.resource_id === scope.resourceId) &&
  (!scope.organisation || row.organisation === scope.organisation);

const maxText = (a: string | null, b: string | null) => (a === null ? b : b === null || a > b ? a : b);
const byEventsThenKey = <T extends { events: number; key: string }>(a: T, b: T) => b.events - a.events || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export async function allRows(): Promise<EventRow[]> {
  return (await env.DB.prepare("SELECT * FROM events").all<EventRow>()).results;
}

/** Stats computed in JavaScript from raw rows (all of them by default), in the API's shape. */
export async function referenceStats(
  scope: ReferenceScope & { interval: Interval; topOrganisations: number; topResources: number },
  ledger?: EventRow[],
) {
  const rows = (ledger ?? (await allRows())).filter((row) => counted(row, scope));
  const usersOf = (subset: EventRow[]) => new Set(subset.filter((row) => row.status === "success" && row.user_key).map((row) => row.user_key)).size;
  const successful = rows.filter((row) => row.status === "success");
  const organisationGroups = new Map<string, EventRow[]>();
  const resourceGroups = new Map<string, EventRow[]>();
  for (const row of rows) {
    if (row.organisation) organisationGroups.set(row.organisation, [...(organisationGroups.get(row.organisation) ?? []), row]);
    if (row.resource_id) {
      const key = `${row.resource_type ?? ""}\u0000${row.resource_id}`;
      resourceGroups.set(key, [...(resourceGroups.get(key) ?? []), row]);
    }
  }
  const series = periodsOf(scope.interval, scope.from, scope.to).map((period) => {
    const inPeriod = rows.filter((row) => periodLabel(scope.interval, Math.floor(row.occurred_at / DAY)) === period);
    const ok = inPeriod.filter((row) => row.status === "success");
    return { period, successful: ok.length, failed: inPeriod.length - ok.length, bytes: ok.reduce((sum, row) => sum + (row.bytes ?? 0), 0), unique_users: usersOf(inPeriod) };
  });
  return {
    totals: {
      events: rows.length,
      successful: successful.length,
      failed: rows.length - successful.length,
      success_rate: rows.length === 0 ? null : Math.round((successful.length / rows.length) * 10_000) / 10_000,
      unique_users: usersOf(rows),
      bytes: successful.reduce((sum, row) => sum + (row.bytes ?? 0), 0),
    },
    top_organisations: [...organisationGroups.entries()]
      .map(([key, group]) => ({ key, events: group.length, group }))
      .sort(byEventsThenKey)
      .slice(0, scope.topOrganisations)
      .map(({ key, events, group }) => ({ organisation: key, events, unique_users: usersOf(group) })),
    top_resources: [...resourceGroups.entries()]
      .map(([key, group]) => ({ key, events: group.length, group }))
      .sort(byEventsThenKey)
      .slice(0, scope.topResources)
      .map(({ events, group }) => ({
        resource_type: group[0]!.resource_type ?? "",
        resource_id: group[0]!.resource_id!,
        doi: group.reduce<string | null>((doi, row) => maxText(doi, row.doi), null),
        title: group.reduce<string | null>((title, row) => maxText(title, row.title), null),
        events,
        unique_users: usersOf(group),
      })),
    series,
  };
}
