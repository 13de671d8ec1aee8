// zod schemas of events as clients send them and as the API returns them; they also generate the OpenAPI document.
import { z } from "@hono/zod-openapi";
import { wellFormedDeep } from "../../lib/json";

export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
export const MAX_META_BYTES = 16 * 1024;
export const MAX_META_KEYS = 50;
/** The longest user agent stored, whether sent in a body (`client.user_agent`) or as the `User-Agent` header. */
export const MAX_USER_AGENT_CHARS = 1024;

export const actionPattern = /^[a-z][a-z0-9_.-]{0,63}$/;

/** Actions under this prefix are written by the service only (audited admin actions); ingest and import refuse them. */
export const ADMIN_ACTION_PREFIX = "admin.";

/** A DOI as stored: lower case, without resolver prefix. */
export function normaliseDoi(doi: string): string {
  return doi
    .trim()
    .replace(/^(https?:\/\/(dx\.)?doi\.org\/|doi:)/i, "")
    .toLowerCase();
}

export const DoiSchema = z
  .string()
  .max(256)
  .transform(normaliseDoi)
  .refine((doi) => /^10\.\d{4,9}\/\S+$/.test(doi), "must be a DOI such as 10.1234/abc");

const metaSchema = z
  .record(z.string(), z.unknown())
  .superRefine((meta, ctx) => {
    if (Object.keys(meta).length > MAX_META_KEYS) ctx.addIssue({ code: "custom", message: `at most ${MAX_META_KEYS} keys` });
    if (new TextEncoder().encode(JSON.stringify(meta)).length > MAX_META_BYTES)
      ctx.addIssue({ code: "custom", message: `at most ${MAX_META_BYTES} bytes when serialised` });
  })
  .openapi({ description: "Free-form JSON object (≤ 50 keys, ≤ 16 KB serialised)" });

export const EventInputSchema = z
  .strictObject({
    id: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .openapi({
        description:
          "Client-chosen id, scoped to the API key that sends it: re-posting it with the same content is an idempotent replay (200), with other content a 409 conflict. The event's stored `id` is derived from (key, this id); GET /v1/events/{this id} with the same key finds it.",
      }),
    occurred_at: z.iso
      .datetime({ offset: true })
      .refine((value) => Date.parse(value) <= Date.now() + MAX_FUTURE_SKEW_MS, "must not be more than 5 minutes in the future")
      .refine((value) => Date.parse(value) >= 0, "must not be before 1970-01-01T00:00:00Z")
      .optional()
      .openapi({ description: "RFC 3339 with offset, from 1970 to 5 minutes ahead; defaults to now", example: "2026-11-20T10:15:00Z" }),
    action: z
      .string()
      .regex(actionPattern, "must match ^[a-z][a-z0-9_.-]{0,63}$")
      .refine((action) => !action.startsWith(ADMIN_ACTION_PREFIX), "admin.* actions are recorded by the service itself (audited admin actions)")
      .openapi({ example: "download" }),
    status: z.enum(["success", "failure"]).default("success"),
    resource: z
      .strictObject({
        type: z.string().min(1).max(64).openapi({ example: "dataset" }),
        id: z.string().min(1).max(256).openapi({ example: "odp-1234" }),
        doi: DoiSchema.optional().openapi({ example: "10.5281/zenodo.123456" }),
        title: z.string().max(1000).optional(),
        file: z.string().min(1).max(1024).optional().openapi({ description: "The file within the record; absent for a landing page", example: "data/station-12.csv" }),
      })
      .optional(),
    actor: z
      .strictObject({
        id: z.string().min(1).max(256).optional(),
        email: z.email().max(320).optional(),
        name: z.string().max(256).optional(),
        organisation: z.string().max(256).optional(),
      })
      .optional(),
    client: z
      .strictObject({
        ip: z.union([z.ipv4(), z.ipv6()]).optional(),
        user_agent: z.string().max(MAX_USER_AGENT_CHARS).optional(),
        session_id: z.string().min(1).max(128).optional().openapi({ description: "Opaque session or cookie id from the portal (COUNTER user key after actor id and email)" }),
        country: z
          .string()
          .regex(/^[A-Za-z]{2}$/, "must be an ISO 3166-1 alpha-2 code")
          .transform((code) => code.toUpperCase())
          .optional()
          .openapi({ description: "ISO 3166-1 alpha-2; defaults to the country Cloudflare's edge saw for live requests", example: "DE" }),
      })
      .optional(),
    bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    message: z.string().max(2000).optional(),
    meta: metaSchema.optional(),
  })
  // Batch items and import lines are parsed here, not by the JSON body guard: lone surrogates are refused here too.
  .refine(wellFormedDeep, "must not contain a lone surrogate (an unpaired \\ud800-\\udfff escape) in any string")
  .openapi("EventInput");

export type EventInput = z.infer<typeof EventInputSchema>;

export const EventSchema = z
  .object({
    id: z.string(),
    occurred_at: z.string(),
    received_at: z.string(),
    action: z.string(),
    status: z.enum(["success", "failure", "denied"]),
    resource: z.object({
      type: z.string().nullable(),
      id: z.string().nullable(),
      doi: z.string().nullable(),
      title: z.string().nullable(),
      file: z.string().nullable(),
    }),
    actor: z.object({ id: z.string().nullable(), email: z.string().nullable(), name: z.string().nullable(), organisation: z.string().nullable() }),
    client: z.object({
      ip: z.string().nullable().openapi({ description: "Truncated: IPv4 /24, IPv6 /48" }),
      user_agent: z.string().nullable(),
      session_id: z.string().nullable(),
      country: z.string().nullable(),
    }),
    access_method: z
      .enum(["regular", "machine", "robot"])
      .nullable()
      .openapi({ description: "COUNTER access method decided from the user agent when stored; robots are never counted" }),
    bytes: z.number().nullable(),
    message: z.string().nullable(),
    meta: z.record(z.string(), z.unknown()).nullable(),
    duplicate_of: z.string().nullable(),
    key_id: z.string().openapi({ description: "Who stored it: an API key id, bootstrap-admin, anonymous (downloads without a key) or legacy" }),
    client_id: z.string().nullable().openapi({ description: "The id the storing key chose, if it chose one" }),
    denied_count: z.number().nullable().openapi({ description: "On an aggregated refusal row: the refused attempts it stands for" }),
  })
  .openapi("Event");

export type Event = z.infer<typeof EventSchema>;

export const IngestResultSchema = z
  .object({
    id: z.string(),
    client_id: z.string().optional().openapi({ description: "The client-chosen id, when the request had one" }),
    received_at: z.string(),
    replayed: z.boolean().optional(),
    duplicate_of: z.string().nullable(),
  })
  .openapi("IngestResult");

export const BatchInputSchema = z
  .strictObject({
    events: z
      .array(z.unknown().openapi({ description: "An EventInput; invalid items are rejected by index" }))
      .min(1)
      .max(1000),
  })
  .openapi("EventBatch");

export const BatchResultSchema = z
  .object({
    accepted: z.number().openapi({ description: "New events stored (including denied attempts and duplicates)" }),
    replayed: z.number(),
    denied: z.number().openapi({ description: "Download attempts over the per-IP limit, stored with status denied" }),
    duplicates: z.number().openapi({ description: "Repeats within the dedup window, stored with duplicate_of" }),
    rejected: z
      .array(z.object({ index: z.number(), errors: z.array(z.object({ path: z.string(), message: z.string() })) }))
      .openapi({ description: "Items not stored: invalid, or (path `id`) a client id already stored with other content" }),
    ids: z.array(z.string()).openapi({ description: "Stored ids of the events stored or replayed, in input order" }),
  })
  .openapi("EventBatchResult");

/** A date (YYYY-MM-DD, midnight UTC) or an RFC 3339 date-time, as epoch milliseconds. */
export const InstantSchema = z
  .string()
  .refine((value) => /^\d{4}-\d{2}-\d{2}$/.test(value) || z.iso.datetime({ offset: true }).safeParse(value).success, "must be YYYY-MM-DD or an RFC 3339 date-time")
  .transform((value) => Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value))
  .refine((ms) => Number.isFinite(ms), "is not a valid date");

const trimmed = (max: number) => z.string().trim().min(1).max(max);

export const EventFilterSchema = z.object({
  from: InstantSchema.optional().openapi({ description: "Inclusive; date or date-time", example: "2026-11-01" }),
  to: InstantSchema.optional().openapi({ description: "Exclusive; date or date-time", example: "2026-12-01" }),
  action: z.string().regex(actionPattern).optional(),
  status: z.enum(["success", "failure", "denied"]).optional(),
  resource_type: trimmed(64).optional(),
  resource_id: trimmed(256).optional(),
  doi: DoiSchema.optional(),
  actor_id: trimmed(256).optional(),
  email: z.email().max(320).optional(),
  organisation: trimmed(256).optional(),
  ip_prefix: trimmed(64).optional().openapi({ description: "Client network as stored (IPv4 /24, IPv6 /48), e.g. 203.0.113.0" }),
  user_key: z.string().regex(/^[0-9a-f]{64}$/, "must be a pseudonymous user key (64 hex digits)").optional().openapi({ description: "Pseudonymous user key, as alerts show it" }),
  q: trimmed(200).optional().openapi({ description: "Case-insensitive text search over message, resource title and organisation" }),
  include_duplicates: z.enum(["true", "false"]).optional().transform((value) => value === "true"),
});

export type EventFilter = z.infer<typeof EventFilterSchema>;

export const EventListQuerySchema = EventFilterSchema.extend({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  // An id of 128 characters that JSON escapes (6 bytes each) makes a cursor of about 1,050 characters.
  cursor: z.string().max(2048).optional().openapi({ description: "Opaque cursor from next_cursor" }),
});

export const EventListSchema = z.object({ data: z.array(EventSchema), next_cursor: z.string().nullable() }).openapi("EventList");
