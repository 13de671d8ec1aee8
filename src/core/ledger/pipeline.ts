// The one path every recorded event takes: the download limits, replay, dedup and durable staging, in the nearest ledger
// shard where the semantics allow it (docs/architecture.md → Regional shards).
import type { Config } from "../../lib/config";
import { ApiError } from "../../lib/errors";
import { REGIONS, type Region } from "../../lib/region";
import type { StageItem, StageOutcome, StageResult } from "../../objects/ledger-shard";
import type { ByteCharge, ByteDecision, RateDecision } from "../../objects/rate-log";
import type { EventInput } from "./event-schema";
import { markRefused, verdictOf, type GuardVerdict } from "./guards";
import { prepareEvent, type IngestOutcome, type PreparedEvent, type RequestContext } from "./ingest";

export { BYTE_BUDGET_DENIAL } from "./guards";

/** Rate-limit state of the client after this event, for `RateLimit-*` headers. */
export type RateLimitState = Omit<RateDecision, "allowed">;

export type RecordedEvent = StageOutcome & {
  /** True when the rate limit refused the event: it is stored with status `denied` and the caller must answer 429. */
  denied: boolean;
  /** Which limit refused it: the download count or a byte budget (of the client IP or of the user key). */
  deniedBy: "count" | "bytes" | null;
  rateLimit: RateLimitState | null;
  /** The tighter byte budget's state when the event was charged to one (downloads the service serves). */
  byteBudget: ByteDecision | null;
};

/** FNV-1a: a fast, stable spread of keys over shards (not a security boundary; keys are already HMACs). */
export function shardOf(key: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % shards;
}

/** A Durable Object by name, with the region it is created in (its location hint). */
export interface ShardRef {
  name: string;
  region: Region;
}

/** The shard of an event with a client-chosen id: chosen by the id alone, in every region, and placed beside D1's primary. */
export const idShard = (config: Config, id: string): ShardRef => ({ name: `ledger:${shardOf(id, config.ledgerShards)}`, region: config.d1PrimaryRegion });
/** A ledger shard of a region's own set: every event without a client id, and the download limits of the region's IPs. */
export const regionalShard = (config: Config, region: Region, key: string): ShardRef => ({
  name: `ledger:${region}:${shardOf(key, config.ledgerRegionShards)}`,
  region,
});
const userBudgetShard = (config: Config, region: Region, userKey: string): ShardRef => ({
  name: `user:${region}:${shardOf(userKey, config.rateLimitShards)}`,
  region,
});

export const ledgerStub = (env: Env, shard: ShardRef) => env.LEDGER_SHARD.getByName(shard.name, { locationHint: shard.region });

/** Every ledger shard there can be (the id shards and each region's set), for work that must reach all staged events. */
export function allLedgerShards(config: Config): ShardRef[] {
  const ids = Array.from({ length: config.ledgerShards }, (_, index) => ({ name: `ledger:${index}`, region: config.d1PrimaryRegion }));
  const regional = REGIONS.flatMap((region) => Array.from({ length: config.ledgerRegionShards }, (_, index) => ({ name: `ledger:${region}:${index}`, region })));
  return [...ids, ...regional];
}

function groupBy<T>(items: T[], keyOf: (item: T) => ShardRef): Map<string, { shard: ShardRef; members: T[] }> {
  const groups = new Map<string, { shard: ShardRef; members: T[] }>();
  for (const item of items) {
    const shard = keyOf(item);
    const group = groups.get(shard.name) ?? { shard, members: [] };
    group.members.push(item);
    groups.set(shard.name, group);
  }
  return groups;
}

/** The byte charge of an event the service serves itself, when the byte budget is on. */
function byteChargeOf(config: Config, event: PreparedEvent, request: RequestContext): ByteCharge | undefined {
  const { row } = event;
  if (!request.servedByService || config.downloadBytesLimit === 0 || row.status !== "success" || !row.bytes) return undefined;
  if (!config.downloadActions.has(row.action)) return undefined;
  return { amount: row.bytes, limit: config.downloadBytesLimit, windowMs: config.downloadBytesWindowSeconds * 1000 };
}

function dedupKeyOf(config: Config, row: PreparedEvent["row"]): string | null {
  if (!config.downloadActions.has(row.action) || row.status !== "success" || !row.user_key || !row.resource_type) return null;
  return `${row.action}|${row.user_key}|${row.resource_type}:${row.resource_id}`;
}

/**
 * Refused download attempts (over the limit, failed links) of one client, without a client id, share a key: after the
 * first in a window they become a count on one row. Events with a client id are always stored one by one (a retry must
 * find its own row).
 */
function denialKeyOf(config: Config, row: PreparedEvent["row"]): string | null {
  if (!config.downloadActions.has(row.action) || row.status === "success" || row.client_id !== null || !row.ip_hash) return null;
  return `${row.key_id}|${row.action}|${row.status}|${row.ip_hash}|${row.resource_type}:${row.resource_id}`;
}

/** Downloads whose client IP is known are counted against the IP's limit, held by the IP's shard in the request's region. */
const isLimited = (config: Config, row: PreparedEvent["row"]) => config.downloadActions.has(row.action) && row.ip_hash !== null;

/**
 * The shard that stages an event. A client-chosen id decides it (so one object sees every use of that id, whatever region
 * a retry comes from); a limited download goes to its client IP's shard in the request's region (which holds the IP's
 * limit, so limit and staging are one call); anything else to its user's shard in the region.
 */
function stagingShard(config: Config, region: Region, row: PreparedEvent["row"]): ShardRef {
  if (row.client_id !== null) return idShard(config, row.id);
  if (isLimited(config, row)) return regionalShard(config, region, row.ip_hash!);
  return regionalShard(config, region, row.user_key ?? row.id);
}

/**
 * Where a download's dedup window lives: in the region its event is staged in (the request's, or the D1 primary's for
 * events with a client id), in the shard of the client IP when the user is known only by IP and user agent (so the
 * window is where the download is staged), else in the shard of the user.
 */
function dedupShard(config: Config, region: Region, row: PreparedEvent["row"]): ShardRef {
  const stagedIn = row.client_id !== null ? config.d1PrimaryRegion : region;
  return regionalShard(config, stagedIn, row.actor_key === null && row.ip_hash !== null ? row.ip_hash : row.user_key!);
}

/**
 * Asks, in parallel, what must be known before staging: the user's byte budget (downloads the service serves, budget on)
 * and, for downloads with a client id (staged in their id's shard), the client IP's limit from its regional shard.
 */
async function guardsBeforeStaging(env: Env, config: Config, region: Region, events: PreparedEvent[], request: RequestContext) {
  const rates: (RateDecision | null)[] = events.map(() => null);
  const userBudgets: (ByteDecision | null)[] = events.map(() => null);
  const indexed = events.map((event, index) => ({ event, index, charge: byteChargeOf(config, event, request) }));
  const budgeted = indexed.filter(({ event, charge }) => charge && event.row.user_key !== null);
  const limitedElsewhere = indexed.filter(({ event }) => isLimited(config, event.row) && event.row.client_id !== null);
  await Promise.all([
    ...[...groupBy(budgeted, ({ event }) => userBudgetShard(config, region, event.row.user_key!)).values()].map(async ({ shard, members }) => {
      const stub = env.RATE_LIMITER.getByName(shard.name, { locationHint: shard.region });
      const results = await stub.takeBytes(members.map(({ event, charge }) => ({ subject: event.row.user_key!, at: event.row.received_at, bytes: charge! })));
      members.forEach(({ index }, position) => (userBudgets[index] = results[position]!));
    }),
    ...[...groupBy(limitedElsewhere, ({ event }) => regionalShard(config, region, event.row.ip_hash!)).values()].map(async ({ shard, members }) => {
      const results = await ledgerStub(env, shard).guard(
        members.map(({ event, charge }) => ({ subject: event.row.ip_hash!, at: event.row.received_at, ...(charge ? { bytes: charge } : {}) })),
        config.downloadRateLimit,
        config.downloadRateWindowSeconds * 1000,
      );
      members.forEach(({ index }, position) => (rates[index] = results[position]!));
    }),
  ]);
  return { rates, userBudgets, charges: indexed.map(({ charge }) => charge) };
}

/** Stages events in their ledger shards (grouped, one call per shard, in parallel). */
async function stage(env: Env, config: Config, region: Region, items: StageItem[]): Promise<StageResult[]> {
  const outcomes: StageResult[] = new Array(items.length);
  const indexed = items.map((item, index) => ({ item, index }));
  await Promise.all(
    [...groupBy(indexed, ({ item }) => stagingShard(config, region, item.row)).values()].map(async ({ shard, members }) => {
      const results = await ledgerStub(env, shard).stage(
        members.map(({ item }) => item),
        {
          shard: shard.name,
          dedupWindowMs: config.dedupWindowSeconds * 1000,
          denialWindowMs: config.denialWindowSeconds * 1000,
          flushDelayMs: config.ledgerFlushDelayMs,
          maxStagedRows: config.ledgerStagingMaxRows,
          maxStagedBytes: config.ledgerStagingMaxBytes,
        },
      );
      members.forEach(({ index }, position) => (outcomes[index] = results[position]!));
    }),
  );
  return outcomes;
}

/**
 * Records events through the guards into the ledger. An event without a client id costs one call to a shard in the
 * request's region, which applies the download limit and stages it; an event with a client id costs a call to its id's
 * shard beside D1's primary (a download with one first asks its IP's regional shard for the limit). The user's byte
 * budget, when on, is one more regional call before staging.
 */
export async function recordEvents(env: Env, config: Config, inputs: EventInput[], request: RequestContext): Promise<RecordedEvent[]> {
  const region = request.region ?? config.d1PrimaryRegion;
  const prepared = await Promise.all(inputs.map((input) => prepareEvent(input, config, request)));
  const { rates, userBudgets, charges } = await guardsBeforeStaging(env, config, region, prepared, request);
  // Verdicts known before staging (client-id downloads, and any download refused by its user's budget alone).
  const early: (GuardVerdict | null)[] = prepared.map((event, index) => {
    if (rates[index]) return verdictOf(rates[index], userBudgets[index] ?? null);
    return userBudgets[index] && !isLimited(config, event.row) ? verdictOf(null, userBudgets[index]) : null;
  });
  early.forEach((verdict, index) => {
    if (verdict?.deniedBy) markRefused(prepared[index]!.row, verdict.deniedBy);
  });
  const outcomes = await stage(
    env,
    config,
    region,
    prepared.map((event, index): StageItem => {
      const dedupKey = dedupKeyOf(config, event.row);
      const guarded = isLimited(config, event.row) && event.row.client_id === null;
      const dedupAt = dedupKey ? dedupShard(config, region, event.row) : null;
      return {
        row: event.row,
        actor: event.actor,
        dedup: dedupKey ? { key: dedupKey, shard: dedupAt!.name, region: dedupAt!.region } : null,
        denialKey: denialKeyOf(config, event.row),
        ...(guarded
          ? {
              guard: {
                request: { subject: event.row.ip_hash!, at: event.row.received_at, ...(charges[index] ? { bytes: charges[index] } : {}) },
                limit: config.downloadRateLimit,
                windowMs: config.downloadRateWindowSeconds * 1000,
                userBudget: userBudgets[index] ?? null,
                denialKey: denialKeyOf(config, { ...event.row, status: "denied" }),
              },
            }
          : {}),
      };
    }),
  );
  return outcomes.map(({ verdict: staged, ...outcome }, index) => {
    const { rate, budget, deniedBy } = staged ?? early[index] ?? { rate: null, budget: null, deniedBy: null };
    return {
      ...outcome,
      denied: deniedBy !== null && outcome.status === "stored",
      deniedBy: outcome.status === "stored" ? deniedBy : null,
      rateLimit: rate ? { limit: rate.limit, remaining: rate.remaining, resetSeconds: rate.resetSeconds } : null,
      byteBudget: budget,
    };
  });
}

/** An event the ledger holds: stored now or found stored (replay). */
export type StoredEvent = IngestOutcome & Pick<RecordedEvent, "denied" | "deniedBy" | "rateLimit" | "byteBudget"> & { status: "stored" | "replayed" };

/** The outcome of an event the ledger holds; throws the error for one it does not hold (409 conflict, 503 unavailable). */
export function storedOrThrow(outcome: RecordedEvent): StoredEvent {
  const error = notStoredError(outcome);
  if (error) throw error;
  return outcome as StoredEvent;
}

/** The error for an event that was not stored: its id holds other content (409), or the ledger cannot take it now (503). */
export function notStoredError(outcome: RecordedEvent): ApiError | null {
  if (outcome.status === "conflict")
    return new ApiError("conflict", "This id is already stored with different content; use a new id for a new event", {
      details: { client_id: outcome.client_id, id: outcome.id },
    });
  if (outcome.status === "unavailable")
    return new ApiError("unavailable", `Not stored: ${outcome.reason}; retry later`, {
      details: { client_id: outcome.client_id },
      headers: { "Retry-After": String(outcome.retryAfterSeconds) },
    });
  return null;
}

/** `RateLimit-*` headers (IETF draft) and, for a refusal, `Retry-After`. */
export function rateLimitHeaders(state: RateLimitState, refused: boolean): Record<string, string> {
  return {
    "RateLimit-Limit": String(state.limit),
    "RateLimit-Remaining": String(state.remaining),
    "RateLimit-Reset": String(state.resetSeconds),
    ...(refused ? { "Retry-After": String(state.resetSeconds) } : {}),
  };
}
