// D1 tables as drizzle definitions; `npm run db:generate` turns changes into SQL migrations under migrations/.
import { sql } from "drizzle-orm";
import { blob, index, integer, primaryKey, sqliteTable, sqliteView, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * The ledger as every reader sees it: one row per event. A view (migration 0012) over `event_rows`, returning each
 * stored value exactly as written; `.existing()` keeps drizzle-kit from generating it. Personal data lives in `actors`,
 * keyed by the pseudonymous `actor_key`.
 */
export const events = sqliteView("events", {
  id: text("id").notNull(),
  occurredAt: integer("occurred_at").notNull(),
  receivedAt: integer("received_at").notNull(),
  action: text("action").notNull(),
  status: text("status", { enum: ["success", "failure", "denied"] }).notNull(),
  resourceType: text("resource_type"),
  resourceId: text("resource_id"),
  doi: text("doi"),
  title: text("title"),
  actorKey: text("actor_key"),
  /** Pseudonymous user key (actor id, else email, else IP + user agent): dedup, unique users, and COUNTER's after `session_id`. */
  userKey: text("user_key"),
  organisation: text("organisation"),
  ipPrefix: text("ip_prefix"),
  ipHash: text("ip_hash"),
  userAgent: text("user_agent"),
  bytes: integer("bytes"),
  message: text("message"),
  meta: text("meta"),
  duplicateOf: text("duplicate_of"),
  /** Who stored the event: an API key id, `bootstrap-admin`, `anonymous` (downloads without a key) or `legacy`. */
  keyId: text("key_id").notNull(),
  /** The id the client chose, unique per key; the row's `id` is derived from (key_id, client_id). */
  clientId: text("client_id"),
  /** SHA-256 of the client's event content (RFC 8785 JSON): a replay with another fingerprint is a conflict. */
  contentHash: text("content_hash"),
  /** For an aggregated refusal: how many refused attempts of one client in one window this row stands for. */
  deniedCount: integer("denied_count"),
  /** COUNTER access method from the user agent, decided when stored: `regular`, `machine` or `robot` (never counted). */
  accessMethod: text("access_method", { enum: ["regular", "machine", "robot"] }),
  /** ISO 3166-1 alpha-2 country: `client.country`, else the edge's `request.cf.country`; null when unknown. */
  country: text("country"),
  /** The file within the record (`resource.file`); null for a landing page. */
  file: text("file"),
  /** The portal's opaque session or cookie id (`client.session_id`): the COUNTER user key after actor id and email. */
  sessionId: text("session_id"),
}).existing();

/** Repeated strings of the ledger (actions, organisations, user agents, key ids), stored once. */
export const eventStrings = sqliteTable("event_strings", { id: integer("id").primaryKey(), value: text("value").notNull() }, (table) => [
  uniqueIndex("event_strings_value").on(table.value),
]);

/**
 * Each distinct resource of the ledger (type, id, DOI, title, file), stored once. Migration 0012 gives it the unique
 * index `event_resources_key` over coalesce(column, 0) of the five columns (NULL matching NULL), which drizzle cannot
 * declare.
 */
export const eventResources = sqliteTable(
  "event_resources",
  {
    id: integer("id").primaryKey(),
    resourceType: text("resource_type"),
    resourceId: text("resource_id"),
    doi: text("doi"),
    title: text("title"),
    file: text("file"),
  },
  /** The resource_id and doi filters of GET /v1/events find their resources here, then their events by event_rows_resource. */
  (table) => [index("event_resources_resource_id").on(table.resourceId), index("event_resources_doi").on(table.doi)],
);

/**
 * The stored ledger rows, in the compact encoding of src/db/event-storage.ts (read them through `events`). Migration 0012
 * declares it WITHOUT ROWID with PRIMARY KEY (received_at, id): the table itself is the receipt order that rollups,
 * stats tails, seals, verification and proofs read. BLOB columns hold either the encoded form or the value as written.
 */
export const eventRows = sqliteTable(
  "event_rows",
  {
    id: text("id").notNull(),
    occurredAt: integer("occurred_at").notNull(),
    receivedAt: integer("received_at").notNull(),
    action: integer("action").notNull(),
    status: blob("status").notNull(),
    resource: integer("resource"),
    actorKey: blob("actor_key"),
    userKey: blob("user_key"),
    organisation: integer("organisation"),
    ipPrefix: blob("ip_prefix"),
    ipHash: blob("ip_hash"),
    userAgent: integer("user_agent"),
    bytes: integer("bytes"),
    message: text("message"),
    meta: text("meta"),
    duplicateOf: text("duplicate_of"),
    keyId: integer("key_id").notNull(),
    clientId: blob("client_id"),
    contentHash: blob("content_hash"),
    deniedCount: integer("denied_count"),
    accessMethod: blob("access_method"),
    country: text("country"),
    sessionId: blob("session_id"),
  },
  (table) => [
    primaryKey({ columns: [table.receivedAt, table.id] }),
    /** Replay lookups, GET /v1/events/{id}, proofs; and the uniqueness that makes ingest idempotent. */
    uniqueIndex("event_rows_id").on(table.id),
    /** Listing, export, retention, rollup days and stats tails by time of occurrence. */
    index("event_rows_occurred").on(table.occurredAt, table.id),
    /** The resource_id and doi filters of GET /v1/events: one record's events, newest first, without walking the ledger. */
    index("event_rows_resource").on(table.resource, table.occurredAt, table.id),
    /** The actor_id and email filters: an actor's event ids. */
    index("event_rows_actor").on(table.actorKey).where(sql`${table.actorKey} IS NOT NULL`),
  ],
);

/**
 * Personal data of actors, erasable without touching event rows or counts. WITHOUT ROWID since migration 0012 (drizzle
 * cannot say so). An actor with an actor_id is keyed by HMAC(PII_KEY, "id:" + actor_id), so it is found by that key; the
 * e-mail needs its index (an actor with both is keyed by the id), partial since migration 0015, which dropped the
 * actor_id index.
 */
export const actors = sqliteTable(
  "actors",
  {
    actorKey: text("actor_key").primaryKey(),
    actorId: text("actor_id"),
    email: text("email"),
    name: text("name"),
    updatedAt: integer("updated_at").notNull(),
  },
  (table) => [index("actors_email").on(table.email).where(sql`${table.email} IS NOT NULL`)],
);

/** API keys: only the SHA-256 of the secret is stored. */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    secretHash: text("secret_hash").notNull().unique(),
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
    lastUsedAt: integer("last_used_at"),
  },
  (table) => [index("api_keys_created").on(table.createdAt)],
);

