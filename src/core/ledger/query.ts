// Reads the ledger: filtered keyset pages, single events, recent events and the action / resource-type catalogues.
import { and, desc, eq, gte, inArray, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { drizzle } from "drizzle-orm/d1";
import { storedActorKeySql } from "../../db/event-storage";
import { actors, events } from "../../db/ledger-schema";
import { base64UrlToText, textToBase64Url } from "../../lib/base64url";
import { ApiError } from "../../lib/errors";
import type { Event, EventFilter } from "./event-schema";
import { actorKeyFor, clientEventId, normaliseEmail } from "./ingest";

export const eventSelection = {
  id: events.id,
  occurredAt: events.occurredAt,
  receivedAt: events.receivedAt,
  action: events.action,
  status: events.status,
  resourceType: events.resourceType,
  resourceId: events.resourceId,
  doi: events.doi,
  title: events.title,
  organisation: events.organisation,
  ipPrefix: events.ipPrefix,
  userAgent: events.userAgent,
  bytes: events.bytes,
  message: events.message,
  meta: events.meta,
  duplicateOf: events.duplicateOf,
  keyId: events.keyId,
  clientId: events.clientId,
  deniedCount: events.deniedCount,
  accessMethod: events.accessMethod,
  country: events.country,
  file: events.file,
  sessionId: events.sessionId,
  actorId: actors.actorId,
  email: actors.email,
  name: actors.name,
};

export type SelectedEvent = {
  [K in keyof typeof eventSelection]: (typeof eventSelection)[K]["_"]["data"] | null;
};

export function toEvent(row: SelectedEvent): Event {
  return {
    id: row.id!,
    occurred_at: new Date(row.occurredAt!).toISOString(),
    received_at: new Date(row.receivedAt!).toISOString(),
    action: row.action!,
    status: row.status!,
    resource: { type: row.resourceType, id: row.resourceId, doi: row.doi, title: row.title, file: row.file },
    actor: { id: row.actorId, email: row.email, name: row.name, organisation: row.organisation },
    client: { ip: row.ipPrefix, user_agent: row.userAgent, session_id: row.sessionId, country: row.country },
    bytes: row.bytes,
    message: row.message,
    meta: row.meta ? (JSON.parse(row.meta) as Record<string, unknown>) : null,
    duplicate_of: row.duplicateOf,
    key_id: row.keyId!,
    client_id: row.clientId,
    denied_count: row.deniedCount,
    access_method: row.accessMethod,
  };
}

interface Cursor {
  occurredAt: number;
  id: string;
}

/** The position after an event, as base64url of UTF-8 JSON: ids may hold any Unicode character. */
export function encodeCursor(cursor: Cursor): string {
  return textToBase64Url(JSON.stringify([cursor.occurredAt, cursor.id]));
}

export function decodeCursor(value: string): Cursor {
  try {
    const [occurredAt, id] = JSON.parse(base64UrlToText(value) ?? "null") as unknown[];
    if (Number.isSafeInteger(occurredAt) && typeof id === "string") return { occurredAt: occurredAt as number, id };
  } catch {
    // fall through to the error below
  }
  throw new ApiError("invalid_request", "The cursor is not valid", { details: [{ path: "cursor", message: "not a cursor returned by this API" }] });
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (char) => `\\${char}`);

/** Case-insensitive substring match; SQLite honours the backslash escapes only with an explicit ESCAPE clause. */
const contains = (column: SQLiteColumn, text: string) => sql`${column} LIKE ${`%${escapeLike(text)}%`} ESCAPE '\\'`;

/**
 * A filter whose actor_id is resolved to the actor key it hashes to (resolveEventFilter): an actor with an actor_id is
 * keyed by that HMAC, so it is found by the primary key of `actors` (migration 0015 dropped the actor_id index).
 */
export type ResolvedEventFilter = Omit<EventFilter, "actor_id"> & ({ actor_id?: undefined } | { actor_id: string; actorIdKey: string });

export async function resolveEventFilter(piiKey: string, filter: EventFilter): Promise<ResolvedEventFilter> {
  const { actor_id, ...rest } = filter;
  return actor_id ? { ...rest, actor_id, actorIdKey: (await actorKeyFor(piiKey, { id: actor_id }))! } : rest;
}

/**
 * Events of the actors matching `condition`: their stored keys found through the actors' primary key or e-mail index,
 * their events' ids through event_rows_actor (the view's actor_key is decoded, so it cannot reach that index itself).
 */
const eventsOfActors = (condition: SQL) =>
  inArray(
    events.id,
    sql`(SELECT id FROM event_rows WHERE actor_key IS NOT NULL AND actor_key IN (SELECT ${sql.raw(storedActorKeySql("actors.actor_key"))} FROM ${actors} WHERE ${condition}))`,
  );

export function filterConditions(filter: ResolvedEventFilter): SQL[] {
  const conditions: (SQL | undefined)[] = [
    filter.from === undefined ? undefined : gte(events.occurredAt, filter.from),
    filter.to === undefined ? undefined : lt(events.occurredAt, filter.to),
    filter.action ? eq(events.action, filter.action) : undefined,
    filter.status ? eq(events.status, filter.status) : undefined,
    filter.resource_type ? eq(events.resourceType, filter.resource_type) : undefined,
    filter.resource_id ? eq(events.resourceId, filter.resource_id) : undefined,
    filter.doi ? eq(events.doi, filter.doi) : undefined,
    filter.organisation ? eq(events.organisation, filter.organisation) : undefined,
    filter.ip_prefix ? eq(events.ipPrefix, filter.ip_prefix) : undefined,
    filter.user_key ? eq(events.userKey, filter.user_key) : undefined,
    // The key alone would also find an erased person's events: the actors row naming the id must still be there.
    filter.actor_id ? eventsOfActors(sql`${actors.actorKey} = ${filter.actorIdKey} AND ${actors.actorId} = ${filter.actor_id}`) : undefined,
    filter.email ? eventsOfActors(sql`${actors.email} = ${normaliseEmail(filter.email)}`) : undefined,
    filter.q
      ? or(contains(events.message, filter.q), contains(events.title, filter.q), contains(events.organisation, filter.q))
      : undefined,
    filter.include_duplicates ? undefined : isNull(events.duplicateOf),
  ];
  return conditions.filter((condition): condition is SQL => condition !== undefined);
}

export interface EventPage {
  data: Event[];
  next_cursor: string | null;
}

/** A page of events, newest first, continuing after `cursor` (keyset pagination on occurred_at, id). */
export async function listEvents(db: D1Database, filter: ResolvedEventFilter, limit: number, cursor?: string): Promise<EventPage> {
  const conditions = filterConditions(filter);
  if (cursor) {
    const after = decodeCursor(cursor);
    conditions.push(sql`(${events.occurredAt}, ${events.id}) < (${after.occurredAt}, ${after.id})`);
  }
  const rows = await drizzle(db)
    .select(eventSelection)
    .from(events)
    .leftJoin(actors, eq(actors.actorKey, events.actorKey))
    .where(and(...conditions))
    .orderBy(desc(events.occurredAt), desc(events.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    data: page.map(toEvent),
    next_cursor: rows.length > limit && last ? encodeCursor({ occurredAt: last.occurredAt!, id: last.id! }) : null,
  };
}

/**
 * One event by its stored id, or else by the id the caller's own key chose for it (client ids are scoped to the key
 * that sent them, so another key's client id never resolves).
 */
export async function getEvent(db: D1Database, id: string, callerKeyId: string): Promise<Event> {
  const rows = await drizzle(db)
    .select(eventSelection)
    .from(events)
    .leftJoin(actors, eq(actors.actorKey, events.actorKey))
    .where(inArray(events.id, [id, clientEventId(callerKeyId, id)]));
  const row = rows.find((candidate) => candidate.id === id) ?? rows[0];
  if (!row) throw new ApiError("not_found", `No event with id ${id}`);
  return toEvent(row);
}

// Both catalogues group the stored dictionary ids (no index holds them: a documented scan of the ledger) and look each
// string or resource up once, instead of decoding every row through the view.
export async function listActions(db: D1Database): Promise<{ action: string; events: number; last_seen: string }[]> {
  const { results } = await db
    .prepare(
      `SELECT strings.value AS action, grouped.events, grouped.last_seen FROM (SELECT action, count(*) AS events, max(occurred_at) AS last_seen FROM event_rows GROUP BY action) AS grouped
       JOIN event_strings AS strings ON strings.id = grouped.action ORDER BY strings.value`,
    )
    .all<{ action: string; events: number; last_seen: number }>();
  return results.map((row) => ({ action: row.action, events: row.events, last_seen: new Date(row.last_seen).toISOString() }));
}

export async function listResourceTypes(db: D1Database): Promise<{ resource_type: string; events: number }[]> {
  const { results } = await db
    .prepare(
      `SELECT resources.resource_type, sum(grouped.events) AS events FROM (SELECT resource, count(*) AS events FROM event_rows WHERE resource IS NOT NULL GROUP BY resource) AS grouped
       JOIN event_resources AS resources ON resources.id = grouped.resource WHERE resources.resource_type IS NOT NULL GROUP BY resources.resource_type ORDER BY resources.resource_type`,
    )
    .all<{ resource_type: string; events: number }>();
  return results;
}
