// D1 tables as drizzle definitions; `npm run db:generate` turns changes into SQL migrations under migrations/.
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** The ledger: one row per event. Personal data lives in `actors`, keyed by the pseudonymous `actor_key`. */
export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
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
    keyId: text("key_id").notNull().default("legacy"),
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
  },
  (table) => [
    index("events_occurred").on(table.occurredAt, table.id),
    index("events_action_occurred").on(table.action, table.occurredAt, table.id),
    index("events_status_occurred").on(table.status, table.occurredAt, table.id),
    index("events_resource_type_occurred").on(table.resourceType, table.occurredAt, table.id),
    index("events_resource_id_occurred").on(table.resourceId, table.occurredAt, table.id),
    index("events_doi_occurred").on(table.doi, table.occurredAt, table.id),
    index("events_actor_occurred").on(table.actorKey, table.occurredAt, table.id),
    index("events_organisation_occurred").on(table.organisation, table.occurredAt, table.id),
    /**
     * Rollups find the days touched by late events, and stats add events received after the rollup watermark. With the
     * id, it is also the order of seal leaves: sealing, verification and proofs read and count windows from the index.
     */
    index("events_received").on(table.receivedAt, table.id),
  ],
);

/** Personal data of actors, erasable without touching event rows or counts. */
export const actors = sqliteTable(
  "actors",
  {
    actorKey: text("actor_key").primaryKey(),
    actorId: text("actor_id"),
    email: text("email"),
    name: text("name"),
    updatedAt: integer("updated_at").notNull(),
  },
  (table) => [index("actors_email").on(table.email), index("actors_actor_id").on(table.actorId)],
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

