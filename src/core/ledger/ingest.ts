// Turns validated event inputs into ledger rows (pseudonymised, IP truncated) and stores them in multi-row statements.
import canonicalize from "canonicalize";
import { v5 as uuidv5 } from "uuid";
import type { Config } from "../../lib/config";
import { hmacHex, sha256Hex, uuidv7 } from "../../lib/crypto";
import { canonicalIp, clientNetwork, truncateIp } from "../../lib/ip";
import type { Region } from "../../lib/region";
import { chunkForJsonParameter, preparedWithinLimits } from "../../db/limits";
import { accessMethodOf, countryOf, type AccessMethod } from "../counter/classify";
import { SEALING_WATERMARK } from "../integrity/seals";
import { DICTIONARY_COLUMNS, encodeSql, EVENT_COLUMNS, PHYSICAL_COLUMNS, RESOURCE_COLUMNS, storedValue, type EventColumn } from "../../db/event-storage";
import { MAX_USER_AGENT_CHARS, type EventInput } from "./event-schema";

export type EventStatus = "success" | "failure" | "denied";

/** A ledger row exactly as the `events` view gives it back (its stored form: src/db/event-storage.ts). */
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
  /** Who stored the event: an API key id, or one of the `*_KEY_ID` names below. */
  key_id: string;
  /** The id the client chose (scoped to `key_id`), or null when the service chose `id`. */
  client_id: string | null;
  /** Fingerprint of the client's content, set with `client_id`: a replay with another fingerprint is a conflict. */
  content_hash: string | null;
  /** Set on an aggregated refusal row: the refused attempts of one client in one window it stands for. */
  denied_count: number | null;
  access_method: AccessMethod | null;
  country: string | null;
  file: string | null;
  session_id: string | null;
}

/** `key_id` of events recorded without an API key (public and signed-link downloads). */
export const ANONYMOUS_KEY_ID = "anonymous";

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
  /** The API key recording the events (its id), or ANONYMOUS_KEY_ID; client ids are scoped to it. */
  keyId: string;
  ip?: string;
  userAgent?: string;
  /** The country Cloudflare's edge saw (`request.cf.country`), for live requests. */
  country?: string;
  receivedAt: number;
  /** The service itself sends these events' bytes (signed links, public files, bundles): they count against the byte budgets. */
  servedByService?: boolean;
  /** The region of the request's client (`request.cf`): its events without a client id are staged in that region's shards. */
  region?: Region;
}

/** Namespace of the name-based (RFC 9562 v5) ids of events whose id the client chose. */
const CLIENT_ID_NAMESPACE = "6f1c3a52-8d0e-4b7a-9c51-2e4f0d7b9a13";

/**
 * The stored id of an event whose id the client chose: a UUIDv5 of (key id, client id). Two keys choosing the same id
 * get different events, and a retry of one key always lands on the same row.
 */
export const clientEventId = (keyId: string, clientId: string) => uuidv5(`${keyId}\n${clientId}`, CLIENT_ID_NAMESPACE);

/**
 * SHA-256 of the event as the client sent it (validated, id left out), in RFC 8785 canonical JSON so that key order and
 * number spelling do not matter. Header-derived values (IP, user agent from the request) are not part of it: a retry may
 * travel another route.
 */
export async function contentHashOf(input: EventInput): Promise<string> {
  const { id: _id, ...content } = input;
  return sha256Hex(canonicalize(content)!);
}

export const normaliseEmail = (email: string) => email.trim().toLowerCase();

/** The pseudonymous key of a person: HMAC over the actor id, else over the normalised email. */
export async function actorKeyFor(piiKey: string, actor: { id?: string | null; email?: string | null }): Promise<string | null> {
  if (actor.id) return hmacHex(piiKey, `id:${actor.id}`);
  if (actor.email) return hmacHex(piiKey, `email:${normaliseEmail(actor.email)}`);
  return null;
}

/** At most `max` UTF-16 units of `text`, never ending in half a surrogate pair. */
export function capText(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/**
 * Header-derived request data is capped like the same fields in a body (a 120,000-character User-Agent is stored as its
 * first 1,024 characters) and IPs are canonical, so no spelling of an address gets a fresh rate-limit bucket.
 * `ip_hash` is the HMAC of the client as the download limit counts it: the IPv4 address, or the IPv6 /IPV6_LIMIT_PREFIX.
 */
export async function prepareEvent(input: EventInput, config: Config, request: RequestContext): Promise<PreparedEvent> {
  const rawIp = input.client?.ip ?? request.ip;
  const ip = rawIp === undefined ? undefined : canonicalIp(rawIp);
  const requestUserAgent = request.userAgent === undefined ? undefined : capText(request.userAgent, MAX_USER_AGENT_CHARS);
  const userAgent = input.client?.user_agent ?? requestUserAgent ?? null;
  const email = input.actor?.email ? normaliseEmail(input.actor.email) : null;
  const network = ip ? clientNetwork(ip, config.ipv6LimitPrefix) : undefined;
  // The keyed hashes and the fingerprint are independent of each other: computed together, one wait per event.
  const hasActor = Boolean(input.actor?.id || email);
  const [actorKey, ipHash, ipUserKey, contentHash, sessionKey] = await Promise.all([
    actorKeyFor(config.piiKey, { id: input.actor?.id, email }),
    network ? hmacHex(config.piiKey, `ip:${network}`) : null,
    !hasActor && ip ? hmacHex(config.piiKey, `ipua:${ip}|${userAgent ?? ""}`) : null,
    input.id === undefined ? null : contentHashOf(input),
    input.client?.session_id === undefined ? null : hmacHex(config.piiKey, `session:${input.client.session_id}`),
  ]);
  const userKey = actorKey ?? ipUserKey;
  const row: EventRow = {
    id: input.id === undefined ? uuidv7(request.receivedAt) : clientEventId(request.keyId, input.id),
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
    key_id: request.keyId,
    client_id: input.id ?? null,
    content_hash: contentHash,
    denied_count: null,
    access_method: accessMethodOf(userAgent),
    country: countryOf(input.client?.country, request.country),
    file: input.resource?.file ?? null,
    // A pseudonym, like the other keys of people: equal ids stay equal (COUNTER sessions need only that), none is readable.
    session_id: sessionKey === null ? null : sessionKey.slice(0, 32),
  };
  const actor: ActorRow | null =
    actorKey && (input.actor?.id || email || input.actor?.name)
      ? { actor_key: actorKey, actor_id: input.actor?.id ?? null, email, name: input.actor?.name ?? null, updated_at: request.receivedAt }
      : null;
  return { row, actor };
}

const eventColumns = EVENT_COLUMNS satisfies readonly (keyof EventRow)[];

/** Position of each column in a row's JSON array. */
const position = Object.fromEntries(eventColumns.map((column, index) => [column, index])) as Record<EventColumn, number>;

// Rows travel as one JSON parameter per statement (json_each), so a 1,000-row insert binds one parameter instead of
// 27,000: the only way to stay under D1's 100-parameter limit without one statement per handful of rows. Each value is
// taken out of the JSON once, in a materialised CTE (an ephemeral table: no rows written): the encodings read an input
// up to five times, and each read would otherwise be a JSON function call in D1's single writer thread. The row goes
// into `event_rows` in the compact form of src/db/event-storage.ts, its strings and resource resolved against the
// dictionaries that the statements before it in the same batch filled.
const insertSql = (value: (column: EventColumn) => string) => `WITH incoming AS MATERIALIZED (
SELECT ${eventColumns.map((column) => `value ->> ${position[column]} AS ${column}`).join(", ")} FROM json_each(?1))
INSERT INTO event_rows (${PHYSICAL_COLUMNS.join(", ")})
SELECT ${PHYSICAL_COLUMNS.map((column) => encodeSql(column, value)).join(", ")} FROM incoming WHERE true
ON CONFLICT DO NOTHING RETURNING id`;

const incomingValue = (column: EventColumn) => `incoming.${column}`;

// A row reaching D1 after its receipt window was sealed (a flush delayed past the seal margin) gets the sealing
// watermark as its receipt time, in the same statement, so it lands in the next window and no seal ever changes.
const insertEventsSql = insertSql((column) =>
  column === "received_at"
    ? `max(${incomingValue(column)}, coalesce((SELECT value FROM maintenance_state WHERE name = '${SEALING_WATERMARK}'), 0))`
    : incomingValue(column),
);

/** For restoring archived rows into the windows they were sealed in. */
const insertArchivedEventsSql = insertSql(incomingValue);

/** Adds the strings of a chunk (one JSON array parameter) that the dictionary lacks; a known string writes nothing. */
const insertStringsSql = "INSERT INTO event_strings (value) SELECT value FROM json_each(?1) WHERE true ON CONFLICT DO NOTHING";

/** Adds the resources of a chunk (one JSON array of tuples) that `event_resources` lacks; a known one writes nothing. */
const insertResourcesSql = `INSERT INTO event_resources (${RESOURCE_COLUMNS.join(", ")})
SELECT ${RESOURCE_COLUMNS.map((_, index) => `json_extract(value, '$[${index}]')`).join(", ")} FROM json_each(?1) WHERE true ON CONFLICT DO NOTHING`;

// An actor whose known details already hold every given one is left alone: no row is written for it.
const upsertActorsSql = `INSERT INTO actors (actor_key, actor_id, email, name, updated_at)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]')
FROM json_each(?1) WHERE true
ON CONFLICT(actor_key) DO UPDATE SET actor_id = coalesce(excluded.actor_id, actors.actor_id),
  email = coalesce(excluded.email, actors.email), name = coalesce(excluded.name, actors.name),
  updated_at = max(excluded.updated_at, actors.updated_at)
WHERE coalesce(excluded.actor_id, actors.actor_id) IS NOT actors.actor_id OR coalesce(excluded.email, actors.email) IS NOT actors.email
  OR coalesce(excluded.name, actors.name) IS NOT actors.name`;

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
 * Stores prepared events: each chunk (≤ 1,000 rows, ≤ 1 MB) is one atomic D1 batch of an actor upsert, the new
 * dictionary strings and resources, and the event insert.
 * Existing ids are left untouched (idempotent replay); they are absent from `inserted`. `keepReceivedAt` is for archive
 * restores only: the rows go back into their sealed windows instead of after the sealing watermark.
 */
export async function storeEvents(db: D1Database, events: PreparedEvent[], options: { keepReceivedAt?: boolean } = {}): Promise<StoreResult> {
  const inserted = new Set<string>();
  let statements = 0;
  const chunks = chunkForJsonParameter(events.map((event) => eventColumns.map((column) => storedValue(column, event.row[column]))));
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
    const strings = new Set<string>();
    for (const { row } of slice) for (const column of DICTIONARY_COLUMNS) if (row[column] !== null) strings.add(row[column]);
    for (const stringChunk of chunkForJsonParameter([...strings])) batch.push(preparedWithinLimits(db, insertStringsSql, [stringChunk.json]));
    const resources = new Map<string, (string | null)[]>();
    for (const { row } of slice) {
      const tuple = RESOURCE_COLUMNS.map((column) => row[column]);
      if (tuple.some((value) => value !== null)) resources.set(JSON.stringify(tuple), tuple);
    }
    for (const resourceChunk of chunkForJsonParameter([...resources.values()])) batch.push(preparedWithinLimits(db, insertResourcesSql, [resourceChunk.json]));
    batch.push(preparedWithinLimits(db, options.keepReceivedAt ? insertArchivedEventsSql : insertEventsSql, [chunk.json]));
    const results = await db.batch<{ id: string }>(batch);
    statements += batch.length;
    for (const row of results.at(-1)!.results) inserted.add(row.id);
  }
  return { inserted, statements };
}

export type StoredSummary = {
  id: string;
  received_at: number;
  duplicate_of: string | null;
  content_hash: string | null;
};

/** The stored id, receipt time, duplicate marker and fingerprint of events, for replay answers. Chunked under the parameter limit. */
export async function findStored(db: D1Database, ids: string[]): Promise<Map<string, StoredSummary>> {
  const found = new Map<string, StoredSummary>();
  for (const chunk of chunkForJsonParameter([...new Set(ids)])) {
    const { results } = await preparedWithinLimits(
      db,
      "SELECT id, received_at, duplicate_of, content_hash FROM events WHERE id IN (SELECT value FROM json_each(?1))",
      [chunk.json],
    ).all<StoredSummary>();
    for (const row of results) found.set(row.id, row);
  }
  return found;
}

/** What recording an event did: stored it, found it stored already (replay), or found its id taken by other content. */
export type IngestStatus = "stored" | "replayed" | "conflict";

export interface IngestOutcome {
  status: IngestStatus;
  id: string;
  client_id: string | null;
  received_at: number;
  duplicate_of: string | null;
}

/** The answer to an event whose id is already stored: a replay when its content is the same, else a conflict. */
export function replayOutcome(row: EventRow, known: StoredSummary): IngestOutcome {
  return {
    status: known.content_hash === row.content_hash ? "replayed" : "conflict",
    id: known.id,
    client_id: row.client_id,
    received_at: known.received_at,
    duplicate_of: known.duplicate_of,
  };
}

/** Prepares and stores validated events straight into D1 (imports); replays of known ids store nothing. */
export async function ingestEvents(db: D1Database, config: Config, inputs: EventInput[], request: RequestContext): Promise<IngestOutcome[]> {
  const prepared = await Promise.all(inputs.map((input) => prepareEvent(input, config, request)));
  const { inserted } = await storeEvents(db, prepared);
  const firstIndexOf = new Map<string, number>();
  prepared.forEach(({ row }, index) => {
    if (!firstIndexOf.has(row.id)) firstIndexOf.set(row.id, index);
  });
  const isFresh = (id: string, index: number) => inserted.has(id) && firstIndexOf.get(id) === index;
  const replayedIds = prepared.filter(({ row }, index) => !isFresh(row.id, index)).map(({ row }) => row.id);
  const stored = replayedIds.length > 0 ? await findStored(db, replayedIds) : new Map<string, StoredSummary>();
  return prepared.map(({ row }, index) => {
    if (isFresh(row.id, index)) return { status: "stored", id: row.id, client_id: row.client_id, received_at: row.received_at, duplicate_of: null };
    return replayOutcome(row, stored.get(row.id)!);
  });
}
