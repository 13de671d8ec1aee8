// Turns validated event inputs into ledger rows (pseudonymised, IP truncated) and stores them in multi-row statements.
import type { Config } from "../../lib/config";
import { hmacHex, uuidv7 } from "../../lib/crypto";
import { truncateIp } from "../../lib/ip";
import { chunkForJsonParameter, preparedWithinLimits } from "../../db/limits";
import { accessMethodOf, countryOf, type AccessMethod } from "../counter/classify";
import type { EventInput } from "./event-schema";

export type EventStatus = "success" | "failure" | "denied";

/** A ledger row exactly as stored in `events`. */
export interface EventRow {
  id: string;
  occurred_at: number;
  received_at: number;
  action: string;
  status: EventStatus;
  resource_type: string | null;
  resource_id: string | null;
  doi: string | null;
  title: string | null;
  actor_key: string | null;
  user_key: string | null;
  organisation: string | null;
  ip_prefix: string | null;
  ip_hash: string | null;
  user_agent: string | null;
  bytes: number | null;
  message: string | null;
  meta: string | null;
  duplicate_of: string | null;
  access_method: AccessMethod | null;
  country: string | null;
  file: string | null;
  session_id: string | null;
}

/** Personal data kept apart from the ledger, keyed by `actor_key`. */
export interface ActorRow {
  actor_key: string;
  actor_id: string | null;
  email: string | null;
  name: string | null;
  updated_at: number;
}

export interface PreparedEvent {
  row: EventRow;
  actor: ActorRow | null;
}

export interface RequestContext {
  ip?: string;
  userAgent?: string;
  /** The country Cloudflare's edge saw (`request.cf.country`), for live requests. */
  country?: string;
  receivedAt: number;
}

export const normaliseEmail = (email: string) => email.trim().toLowerCase();

/** The pseudonymous key of a person: HMAC over the actor id, else over the normalised email. */
export async function actorKeyFor(piiKey: string, actor: { id?: string | null; email?: string | null }): Promise<string | null> {
  if (actor.id) return hmacHex(piiKey, `id:${actor.id}`);
  if (actor.email) return hmacHex(piiKey, `email:${normaliseEmail(actor.email)}`);
  return null;
}

export async function prepareEvent(input: EventInput, config: Config, request: RequestContext): Promise<PreparedEvent> {
  const ip = input.client?.ip ?? request.ip;
  const userAgent = input.client?.user_agent ?? request.userAgent ?? null;
  const email = input.actor?.email ? normaliseEmail(input.actor.email) : null;
  const actorKey = await actorKeyFor(config.piiKey, { id: input.actor?.id, email });
  const ipHash = ip ? await hmacHex(config.piiKey, `ip:${ip}`) : null;
  const userKey = actorKey ?? (ip ? await hmacHex(config.piiKey, `ipua:${ip}|${userAgent ?? ""}`) : null);
  const row: EventRow = {
    id: input.id ?? uuidv7(request.receivedAt),
    occurred_at: input.occurred_at ? Date.parse(input.occurred_at) : request.receivedAt,
    received_at: request.receivedAt,
    action: input.action,
    status: input.status,
    resource_type: input.resource?.type ?? null,
    resource_id: input.resource?.id ?? null,
    doi: input.resource?.doi ?? null,
    title: input.resource?.title ?? null,
    actor_key: actorKey,
    user_key: userKey,
    organisation: input.actor?.organisation?.trim() || null,
    ip_prefix: ip ? (truncateIp(ip) ?? null) : null,
    ip_hash: ipHash,
    user_agent: userAgent,
    bytes: input.bytes ?? null,
    message: input.message ?? null,
    meta: input.meta ? JSON.stringify(input.meta) : null,
    duplicate_of: null,
    access_method: accessMethodOf(userAgent),
    country: countryOf(input.client?.country, request.country),
    file: input.resource?.file ?? null,
    session_id: input.client?.session_id ?? null,
  };
  const actor: ActorRow | null =
    actorKey && (input.actor?.id || email || input.actor?.name)
      ? { actor_key: actorKey, actor_id: input.actor?.id ?? null, email, name: input.actor?.name ?? null, updated_at: request.receivedAt }
      : null;
  return { row, actor };
}

const eventColumns = [
  "id", "occurred_at", "received_at", "action", "status", "resource_type", "resource_id", "doi", "title", "actor_key",
  "user_key", "organisation", "ip_prefix", "ip_hash", "user_agent", "bytes", "message", "meta", "duplicate_of",
  "access_method", "country", "file", "session_id",
] as const satisfies readonly (keyof EventRow)[];

// Rows travel as one JSON parameter per statement (json_each), so a 1,000-row insert binds one parameter instead of
// 23,000: the only way to stay under D1's 100-parameter limit without one statement per handful of rows.
const insertEventsSql = `INSERT INTO events (${eventColumns.join(", ")})
SELECT ${eventColumns.map((_, index) => `json_extract(value, '$[${index}]')`).join(", ")} FROM json_each(?1) WHERE true
ON CONFLICT(id) DO NOTHING RETURNING id`;

const upsertActorsSql = `INSERT INTO actors (actor_key, actor_id, email, name, updated_at)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]')
FROM json_each(?1) WHERE true
ON CONFLICT(actor_key) DO UPDATE SET actor_id = coalesce(excluded.actor_id, actors.actor_id),
  email = coalesce(excluded.email, actors.email), name = coalesce(excluded.name, actors.name),
  updated_at = max(excluded.updated_at, actors.updated_at)`;

/** Two details of the same actor in one chunk: later values win, a missing one never erases a known one (as the upsert). */
function mergeActor(known: ActorRow | undefined, next: ActorRow): ActorRow {
  if (!known) return next;
  return {
    actor_key: next.actor_key,
    actor_id: next.actor_id ?? known.actor_id,
    email: next.email ?? known.email,
    name: next.name ?? known.name,
    updated_at: Math.max(known.updated_at, next.updated_at),
  };
}

export interface StoreResult {
  /** Ids that were new and are now stored. */
  inserted: Set<string>;
  statements: number;
}

/**
 * Stores prepared events: each chunk (≤ 1,000 rows, ≤ 1 MB) is one atomic D1 batch of an actor upsert and an event insert.
 * Existing ids are left untouched (idempotent replay); they are absent from `inserted`.
 */
export async function storeEvents(db: D1Database, events: PreparedEvent[]): Promise<StoreResult> {
  const inserted = new Set<string>();
  let statements = 0;
  const chunks = chunkForJsonParameter(events.map((event) => eventColumns.map((column) => event.row[column])));
  let offset = 0;
  for (const chunk of chunks) {
    const slice = events.slice(offset, offset + chunk.items.length);
    offset += chunk.items.length;
    const actors = new Map<string, ActorRow>();
    for (const { actor } of slice) if (actor) actors.set(actor.actor_key, mergeActor(actors.get(actor.actor_key), actor));
    const batch: D1PreparedStatement[] = [];
    if (actors.size > 0) {
      const actorRows = [...actors.values()].map((a) => [a.actor_key, a.actor_id, a.email, a.name, a.updated_at]);
      for (const actorChunk of chunkForJsonParameter(actorRows)) batch.push(preparedWithinLimits(db, upsertActorsSql, [actorChunk.json]));
    }
    batch.push(preparedWithinLimits(db, insertEventsSql, [chunk.json]));
    const results = await db.batch<{ id: string }>(batch);
    statements += batch.length;
    for (const row of results.at(-1)!.results) inserted.add(row.id);
  }
  return { inserted, statements };
}

export interface StoredSummary {
  id: string;
  received_at: number;
  duplicate_of: string | null;
}

/** The stored id, receipt time and duplicate marker of events, for replay answers. Chunked under the parameter limit. */
export async function findStored(db: D1Database, ids: string[]): Promise<Map<string, StoredSummary>> {
  const found = new Map<string, StoredSummary>();
  for (const chunk of chunkForJsonParameter([...new Set(ids)])) {
    const { results } = await preparedWithinLimits(
      db,
      "SELECT id, received_at, duplicate_of FROM events WHERE id IN (SELECT value FROM json_each(?1))",
      [chunk.json],
    ).all<StoredSummary>();
    for (const row of results) found.set(row.id, row);
  }
  return found;
}

export interface IngestOutcome {
  id: string;
  received_at: number;
  replayed: boolean;
  duplicate_of: string | null;
}

/** Prepares and stores validated events; replays of known ids report the stored event instead of storing anything. */
export async function ingestEvents(db: D1Database, config: Config, inputs: EventInput[], request: RequestContext): Promise<IngestOutcome[]> {
  const prepared = await Promise.all(inputs.map((input) => prepareEvent(input, config, request)));
  const { inserted } = await storeEvents(db, prepared);
  const firstIndexOf = new Map<string, number>();
  prepared.forEach(({ row }, index) => {
    if (!firstIndexOf.has(row.id)) firstIndexOf.set(row.id, index);
  });
  const replayedIds = prepared.filter(({ row }, index) => !inserted.has(row.id) || firstIndexOf.get(row.id) !== index).map(({ row }) => row.id);
  const stored = replayedIds.length > 0 ? await findStored(db, replayedIds) : new Map<string, StoredSummary>();
  return prepared.map(({ row }, index) => {
    const fresh = inserted.has(row.id) && firstIndexOf.get(row.id) === index;
    if (fresh) return { id: row.id, received_at: row.received_at, replayed: false, duplicate_of: row.duplicate_of };
    const existing = stored.get(row.id);
    return { id: row.id, received_at: existing?.received_at ?? row.received_at, replayed: true, duplicate_of: existing?.duplicate_of ?? null };
  });
}
