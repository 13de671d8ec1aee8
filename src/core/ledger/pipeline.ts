// The one path every recorded event takes: the per-IP rate limit, then the ledger shard (replay, dedup, durable staging).
import type { Config } from "../../lib/config";
import type { StageItem, StageOutcome } from "../../objects/ledger-shard";
import type { RateDecision } from "../../objects/rate-limiter";
import type { EventInput } from "./event-schema";
import { prepareEvent, type IngestOutcome, type PreparedEvent, type RequestContext } from "./ingest";

/** Rate-limit state of the client after this event, for `RateLimit-*` headers. */
export type RateLimitState = Omit<RateDecision, "allowed">;

export interface RecordedEvent extends IngestOutcome {
  /** True when the rate limit refused the event: it is stored with status `denied` and the caller must answer 429. */
  denied: boolean;
  rateLimit: RateLimitState | null;
}

/** FNV-1a: a fast, stable spread of keys over shards (not a security boundary; keys are already HMACs). */
export function shardOf(key: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % shards;
}

export const ledgerShardName = (index: number) => `ledger:${index}`;
export const rateLimitShardName = (index: number) => `ip:${index}`;

function groupBy<T>(items: T[], keyOf: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  return groups;
}

/** Applies the per-IP download limit to download-class events; refused ones become `denied`. */
async function applyRateLimit(env: Env, config: Config, events: PreparedEvent[]): Promise<(RateDecision | null)[]> {
  const decisions: (RateDecision | null)[] = events.map(() => null);
  const limited = events
    .map((event, index) => ({ event, index }))
    .filter(({ event }) => config.downloadActions.has(event.row.action) && event.row.ip_hash !== null);
  const shards = groupBy(limited, ({ event }) => shardOf(event.row.ip_hash!, config.rateLimitShards));
  await Promise.all(
    [...shards].map(async ([shard, members]) => {
      const stub = env.RATE_LIMITER.getByName(rateLimitShardName(shard));
      const results = await stub.takeLog(
        members.map(({ event }) => ({ subject: event.row.ip_hash!, at: event.row.received_at })),
        config.downloadRateLimit,
        config.downloadRateWindowSeconds * 1000,
      );
      members.forEach(({ index }, position) => (decisions[index] = results[position]!));
    }),
  );
  return decisions;
}

function dedupKeyOf(config: Config, event: PreparedEvent): string | null {
  const { row } = event;
  if (!config.downloadActions.has(row.action) || row.status !== "success" || !row.user_key || !row.resource_type) return null;
  return `${row.action}|${row.user_key}|${row.resource_type}:${row.resource_id}`;
}

/** Stages events in their ledger shards (grouped, one call per shard, in parallel). */
async function stage(env: Env, config: Config, items: StageItem[]): Promise<StageOutcome[]> {
  const outcomes: StageOutcome[] = new Array(items.length);
  const indexed = items.map((item, index) => ({ item, index }));
  const shards = groupBy(indexed, ({ item }) => shardOf(item.row.user_key ?? item.row.id, config.ledgerShards));
  await Promise.all(
    [...shards].map(async ([shard, members]) => {
      const stub = env.LEDGER_SHARD.getByName(ledgerShardName(shard));
      const results = await stub.stage(
        members.map(({ item }) => item),
        { dedupWindowMs: config.dedupWindowSeconds * 1000, flushDelayMs: config.ledgerFlushDelayMs },
      );
      members.forEach(({ index }, position) => (outcomes[index] = results[position]!));
    }),
  );
  return outcomes;
}

/**
 * Records events through the guards into the ledger. At most two Durable Object round trips per call: the IP's
 * rate-limit shard (download-class events only), then the user's ledger shard, which also holds dedup windows.
 */
export async function recordEvents(env: Env, config: Config, inputs: EventInput[], request: RequestContext): Promise<RecordedEvent[]> {
  const prepared = await Promise.all(inputs.map((input) => prepareEvent(input, config, request)));
  const decisions = await applyRateLimit(env, config, prepared);
  decisions.forEach((decision, index) => {
    if (decision && !decision.allowed) prepared[index]!.row.status = "denied";
  });
  const outcomes = await stage(
    env,
    config,
    prepared.map((event, index) => ({
      row: event.row,
      actor: event.actor,
      clientChosenId: inputs[index]!.id !== undefined,
      dedupKey: dedupKeyOf(config, event),
    })),
  );
  return outcomes.map((outcome, index) => {
    const decision = decisions[index];
    return {
      ...outcome,
      denied: decision ? !decision.allowed : false,
      rateLimit: decision ? { limit: decision.limit, remaining: decision.remaining, resetSeconds: decision.resetSeconds } : null,
    };
  });
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
