// The one path every recorded event takes: the per-IP rate limit, then the ledger shard (replay, dedup, durable staging).
import type { Config } from "../../lib/config";
import { ApiError } from "../../lib/errors";
import type { StageItem, StageOutcome } from "../../objects/ledger-shard";
import type { ByteCharge, ByteDecision, RateDecision } from "../../objects/rate-limiter";
import type { EventInput } from "./event-schema";
import { prepareEvent, type IngestOutcome, type PreparedEvent, type RequestContext } from "./ingest";

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

/** The `message` of an event refused by a byte budget: the reason stays in the ledger. */
export const BYTE_BUDGET_DENIAL = "byte budget exceeded (DOWNLOAD_BYTES_LIMIT)";

interface Guarded {
  rate: RateDecision | null;
  /** Byte-budget verdicts: the IP's (from the rate-limit call) and the user key's. */
  bytes: ByteDecision[];
}

/** FNV-1a: a fast, stable spread of keys over shards (not a security boundary; keys are already HMACs). */
export function shardOf(key: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % shards;
}

export const ledgerShardName = (index: number) => `ledger:${index}`;
export const rateLimitShardName = (index: number) => `ip:${index}`;
export const userBudgetShardName = (index: number) => `user:${index}`;

function groupBy<T>(items: T[], keyOf: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    groups.set(key, [...(groups.get(key) ?? []), item]);
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

/**
 * Applies the per-IP download limit and, for bytes the service serves, the per-IP byte budget in the same call to the
 * IP's shard. The user key's byte budget lives in the user's own shard and is asked in parallel, so it adds no round
 * trip; a download refused by one budget may still have been charged to the other (only clients already at a limit).
 */
async function applyRateLimit(env: Env, config: Config, events: PreparedEvent[], request: RequestContext): Promise<Guarded[]> {
  const guarded: Guarded[] = events.map(() => ({ rate: null, bytes: [] }));
  const indexed = events.map((event, index) => ({ event, index, charge: byteChargeOf(config, event, request) }));
  const limited = indexed.filter(({ event }) => config.downloadActions.has(event.row.action) && event.row.ip_hash !== null);
  const ipShards = groupBy(limited, ({ event }) => shardOf(event.row.ip_hash!, config.rateLimitShards));
  const budgeted = indexed.filter(({ event, charge }) => charge && event.row.user_key !== null);
  const userShards = groupBy(budgeted, ({ event }) => shardOf(event.row.user_key!, config.rateLimitShards));
  await Promise.all([
    ...[...ipShards].map(async ([shard, members]) => {
      const stub = env.RATE_LIMITER.getByName(rateLimitShardName(shard));
      const results = await stub.takeLog(
        members.map(({ event, charge }) => ({ subject: event.row.ip_hash!, at: event.row.received_at, ...(charge ? { bytes: charge } : {}) })),
        config.downloadRateLimit,
        config.downloadRateWindowSeconds * 1000,
      );
      members.forEach(({ index }, position) => {
        const decision = results[position]!;
        guarded[index]!.rate = decision;
        if (decision.bytes) guarded[index]!.bytes.push(decision.bytes);
      });
    }),
    ...[...userShards].map(async ([shard, members]) => {
      const stub = env.RATE_LIMITER.getByName(userBudgetShardName(shard));
      const results = await stub.takeBytes(members.map(({ event, charge }) => ({ subject: event.row.user_key!, at: event.row.received_at, bytes: charge! })));
      members.forEach(({ index }, position) => guarded[index]!.bytes.push(results[position]!));
    }),
  ]);
  return guarded;
}

/** The verdict to report: a refusing budget if any, else the one with the fewest bytes left. */
function tighterBudget(decisions: ByteDecision[]): ByteDecision | null {
  const refused = decisions.filter((decision) => !decision.allowed).sort((a, b) => b.resetSeconds - a.resetSeconds)[0];
  return refused ?? [...decisions].sort((a, b) => a.remaining - b.remaining)[0] ?? null;
}

function dedupKeyOf(config: Config, event: PreparedEvent): string | null {
  const { row } = event;
  if (!config.downloadActions.has(row.action) || row.status !== "success" || !row.user_key || !row.resource_type) return null;
  return `${row.action}|${row.user_key}|${row.resource_type}:${row.resource_id}`;
}

/**
 * Refused download attempts (over the limit, failed links) of one client, without a client id, share a key: after the
 * first in a window they become a count on one row. Events with a client id are always stored one by one (a retry must
 * find its own row).
 */
function denialKeyOf(config: Config, event: PreparedEvent): string | null {
  const { row } = event;
  if (!config.downloadActions.has(row.action) || row.status === "success" || row.client_id !== null || !row.ip_hash) return null;
  return `${row.key_id}|${row.action}|${row.status}|${row.ip_hash}|${row.resource_type}:${row.resource_id}`;
}

/**
 * The shard that stages an event. A client-chosen id decides it (so one object sees every use of that id); a refusal goes
 * by its client IP (so its repeats meet); anything else by its user (so the user's dedup window is local).
 */
function shardFor(config: Config, item: StageItem): number {
  if (item.row.client_id !== null) return shardOf(item.row.id, config.ledgerShards);
  if (item.denialKey) return shardOf(item.row.ip_hash!, config.ledgerShards);
  return shardOf(item.row.user_key ?? item.row.id, config.ledgerShards);
}

/** Stages events in their ledger shards (grouped, one call per shard, in parallel). */
async function stage(env: Env, config: Config, items: StageItem[]): Promise<StageOutcome[]> {
  const outcomes: StageOutcome[] = new Array(items.length);
  const indexed = items.map((item, index) => ({ item, index }));
  const shards = groupBy(indexed, ({ item }) => shardFor(config, item));
  await Promise.all(
    [...shards].map(async ([shard, members]) => {
      const stub = env.LEDGER_SHARD.getByName(ledgerShardName(shard));
      const results = await stub.stage(
        members.map(({ item }) => item),
        {
          shard: ledgerShardName(shard),
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
 * Records events through the guards into the ledger. Usually two Durable Object round trips per call: the IP's
 * rate-limit shard (download-class events only), then the ledger shard, which also holds dedup windows (a download with a
 * client id whose user's window lives in another shard costs that shard one more call).
 */
export async function recordEvents(env: Env, config: Config, inputs: EventInput[], request: RequestContext): Promise<RecordedEvent[]> {
  const prepared = await Promise.all(inputs.map((input) => prepareEvent(input, config, request)));
  const guarded = await applyRateLimit(env, config, prepared, request);
  const verdicts = guarded.map(({ rate, bytes }) => {
    const budget = tighterBudget(bytes);
    // The count refused when no attempt is left; otherwise a refusal came from a byte budget.
    const countRefused = rate !== null && !rate.allowed && rate.remaining === 0;
    const deniedBy = countRefused ? ("count" as const) : budget && !budget.allowed ? ("bytes" as const) : null;
    return { rate, budget, deniedBy };
  });
  verdicts.forEach(({ deniedBy }, index) => {
    if (!deniedBy) return;
    prepared[index]!.row.status = "denied";
    if (deniedBy === "bytes") prepared[index]!.row.message = BYTE_BUDGET_DENIAL;
  });
  const outcomes = await stage(
    env,
    config,
    prepared.map((event) => {
      const dedupKey = dedupKeyOf(config, event);
      return {
        row: event.row,
        actor: event.actor,
        dedup: dedupKey ? { key: dedupKey, shard: ledgerShardName(shardOf(event.row.user_key!, config.ledgerShards)) } : null,
        denialKey: denialKeyOf(config, event),
      };
    }),
  );
  return outcomes.map((outcome, index) => {
    const { rate, budget, deniedBy } = verdicts[index]!;
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
