// HTTP surface of the ledger: ingest (single, batch, import) and queries over events.
import { createRoute, z, type RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import {
  BatchInputSchema,
  BatchResultSchema,
  EventFilterSchema,
  EventInputSchema,
  EventListQuerySchema,
  EventListSchema,
  EventSchema,
  IngestResultSchema,
  actionPattern,
  type EventInput,
} from "../core/ledger/event-schema";
import { recordAdminAction } from "../core/ledger/admin-audit";
import { importEvents, ImportResultSchema } from "../core/ledger/import";
import type { RequestContext } from "../core/ledger/ingest";
import { rateLimitHeaders, recordEvents, storedOrThrow, type StoredEvent } from "../core/ledger/pipeline";
import { getEvent, listEvents, resolveEventFilter } from "../core/ledger/query";
import { requireScope } from "./middleware/auth";
import { acceptBody, jsonBody, MB } from "./middleware/body";
import { ApiError, zodProblems } from "../lib/errors";
import { clientIpFromHeaders, edgeCountry } from "../lib/ip";
import { requestRegion } from "../lib/region";
import { authErrors, errorResponses, router, security } from "./openapi";

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

function requestContext(c: Context<AppEnv>): RequestContext {
  return {
    keyId: c.var.apiKeyId,
    ip: clientIpFromHeaders(c.req.raw.headers, c.var.config.trustForwardedHeaders),
    userAgent: c.req.header("user-agent") ?? undefined,
    country: edgeCountry(c.req.raw),
    receivedAt: Date.now(),
    region: requestRegion(c.req.raw, c.var.config.d1PrimaryRegion),
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

const postEvent = createRoute({
  method: "post",
  path: "/v1/events",
  operationId: "createEvent",
  tags: ["Events"],
  summary: "Record one event",
  security,
  middleware: [requireScope("ingest"), ...jsonBody(1 * MB)] as const,
  request: { body: { required: true, content: { "application/json": { schema: EventInputSchema } } } },
  responses: {
    201: json(IngestResultSchema, "Stored"),
    200: json(IngestResultSchema, "Replay of an id this key already stored with the same content; nothing new stored"),
    ...errorResponses("invalid_request", "conflict", "payload_too_large", "unsupported_media_type", "unavailable", ...authErrors),
  },
});

const recordEvent: RouteHandler<typeof postEvent, AppEnv> = async (c) => {
  const [outcome] = await recordEvents(c.env, c.var.config, [c.req.valid("json")], requestContext(c));
  if (outcome!.rateLimit) for (const [name, value] of Object.entries(rateLimitHeaders(outcome!.rateLimit, outcome!.denied))) c.header(name, value);
  const { id, client_id, received_at, duplicate_of, status, denied } = storedOrThrow(outcome!);
  if (denied)
    throw new ApiError("rate_limited", "Download limit reached for this client IP; the attempt was recorded as denied", {
      details: { event_id: id },
    });
  const body = { id, ...(client_id === null ? {} : { client_id }), received_at: iso(received_at), duplicate_of };
  return status === "replayed" ? c.json({ ...body, replayed: true }, 200) : c.json(body, 201);
};

const postBatch = createRoute({
  method: "post",
  path: "/v1/events/batch",
  operationId: "createEventBatch",
  tags: ["Events"],
  summary: "Record up to 1,000 events; invalid ones are reported by index",
  security,
  middleware: [requireScope("ingest"), ...jsonBody(5 * MB)] as const,
  request: { body: { required: true, content: { "application/json": { schema: BatchInputSchema } } } },
  responses: {
    200: json(BatchResultSchema, "Valid events stored (atomically per chunk), invalid ones listed"),
    ...errorResponses("invalid_request", "payload_too_large", "unsupported_media_type", "unavailable", ...authErrors),
  },
});

const recordBatch: RouteHandler<typeof postBatch, AppEnv> = async (c) => {
  const items = c.req.valid("json").events;
  const valid: EventInput[] = [];
  const validIndexes: number[] = [];
  const rejected: { index: number; errors: { path: string; message: string }[] }[] = [];
  items.forEach((item, index) => {
    const parsed = EventInputSchema.safeParse(item);
    if (parsed.success) {
      valid.push(parsed.data);
      validIndexes.push(index);
    } else rejected.push({ index, errors: zodProblems(parsed.error) });
  });
  const outcomes = valid.length > 0 ? await recordEvents(c.env, c.var.config, valid, requestContext(c)) : [];
  const unavailable = outcomes.flatMap((outcome, position) => (outcome.status === "unavailable" ? [{ outcome, index: validIndexes[position]! }] : []));
  if (unavailable.length > 0)
    throw new ApiError("unavailable", "Some events could not be staged now; retry them (events with a client id can be retried safely)", {
      details: {
        not_stored: unavailable.map(({ index }) => index),
        stored: outcomes.flatMap((outcome, position) => (outcome.status === "stored" || outcome.status === "replayed" ? [validIndexes[position]!] : [])),
      },
      headers: { "Retry-After": String(Math.max(...unavailable.map(({ outcome }) => (outcome.status === "unavailable" ? outcome.retryAfterSeconds : 0)))) },
    });
  outcomes.forEach((outcome, position) => {
    if (outcome.status === "conflict")
      rejected.push({ index: validIndexes[position]!, errors: [{ path: "id", message: "is already stored by this key with different content" }] });
  });
  rejected.sort((a, b) => a.index - b.index);
  const kept = outcomes.filter((outcome): outcome is StoredEvent => outcome.status === "stored" || outcome.status === "replayed");
  const replayed = kept.filter((outcome) => outcome.status === "replayed").length;
  const denied = kept.filter((outcome) => outcome.denied).length;
  const duplicates = kept.filter((outcome) => outcome.duplicate_of !== null && outcome.status === "stored").length;
  return c.json({ accepted: kept.length - replayed, replayed, denied, duplicates, rejected, ids: kept.map((outcome) => outcome.id) }, 200);
};

const importRoute = createRoute({
  method: "post",
  path: "/v1/events/import",
  operationId: "importEvents",
  tags: ["Events"],
  summary: "Import historical events from NDJSON or CSV (≤ 50,000 lines)",
  description:
    "CSV needs a header row with the flat columns id, occurred_at, action, status, resource_type, resource_id, doi, title, actor_id, email, name, organisation, ip, user_agent, bytes, message, meta (JSON). Lines without an id get one derived from their content, so importing the same file twice inserts nothing the second time.",
  security,
  middleware: [requireScope("admin"), ...acceptBody(["application/x-ndjson", "text/csv"], 32 * MB)] as const,
  request: {
    query: z.object({ dry_run: z.enum(["true", "false"]).default("false").openapi({ description: "Validate only; store nothing" }) }),
    body: {
      required: true,
      content: { "application/x-ndjson": { schema: z.string() }, "text/csv": { schema: z.string() } },
    },
  },
  responses: {
    200: json(ImportResultSchema, "Validation result and what was stored"),
    ...errorResponses("invalid_request", "payload_too_large", "unsupported_media_type", ...authErrors),
  },
});

const importHistory: RouteHandler<typeof importRoute, AppEnv> = async (c) => {
  const format = c.req.header("content-type")!.toLowerCase().startsWith("text/csv") ? "csv" : "ndjson";
  const dryRun = c.req.valid("query").dry_run === "true";
  const result = await importEvents(c.var.db, c.var.config, await c.req.text(), format, { dryRun, receivedAt: Date.now(), keyId: c.var.apiKeyId });
  if (!dryRun)
    await recordAdminAction(c.env, c.var.config, {
      action: "events.import",
      apiKeyId: c.var.apiKeyId,
      meta: { format, valid: result.valid, invalid: result.invalid.length, inserted: result.inserted, replayed: result.replayed },
    });
  return c.json(result, 200);
};

const listRoute = createRoute({
  method: "get",
  path: "/v1/events",
  operationId: "listEvents",
  tags: ["Events"],
  summary: "Find events, newest first, with keyset pagination",
  security,
  middleware: [requireScope("read")] as const,
  request: { query: EventListQuerySchema },
  responses: { 200: json(EventListSchema, "A page of events"), ...errorResponses("invalid_request", ...authErrors) },
});

const findEvents: RouteHandler<typeof listRoute, AppEnv> = async (c) => {
  const { limit, cursor, ...filter } = c.req.valid("query");
  return c.json(await listEvents(c.var.db, await resolveEventFilter(c.var.config.piiKey, filter), limit, cursor), 200);
};

const recentRoute = createRoute({
  method: "get",
  path: "/v1/events/recent",
  operationId: "listRecentEvents",
  tags: ["Events"],
  summary: "Events of the last minutes, newest first",
  security,
  middleware: [requireScope("read")] as const,
  request: {
    query: z.object({
      minutes: z.coerce.number().int().min(1).max(10_080).default(60),
      limit: z.coerce.number().int().min(1).max(500).default(500),
      action: z.string().regex(actionPattern).optional(),
      include_duplicates: EventFilterSchema.shape.include_duplicates,
    }),
  },
  responses: { 200: json(EventListSchema.pick({ data: true }), "Recent events"), ...errorResponses("invalid_request", ...authErrors) },
});

const recentEvents: RouteHandler<typeof recentRoute, AppEnv> = async (c) => {
  const { minutes, limit, action, include_duplicates } = c.req.valid("query");
  const page = await listEvents(c.var.db, { from: Date.now() - minutes * 60_000, action, include_duplicates }, limit);
  return c.json({ data: page.data }, 200);
};

const getRoute = createRoute({
  method: "get",
  path: "/v1/events/{id}",
  operationId: "getEvent",
  tags: ["Events"],
  summary: "One event, by its id or by the client id the caller's own key gave it",
  security,
  middleware: [requireScope("read")] as const,
  request: { params: z.object({ id: z.string().min(1).max(128) }) },
  responses: { 200: json(EventSchema, "The event"), ...errorResponses("invalid_request", "not_found", ...authErrors) },
});

const oneEvent: RouteHandler<typeof getRoute, AppEnv> = async (c) => c.json(await getEvent(c.var.db, c.req.valid("param").id, c.var.apiKeyId), 200);

/** Chained, so that the app's type (AppType) carries these routes for hono/client. */
export const events = router()
  .openapi(postEvent, recordEvent)
  .openapi(postBatch, recordBatch)
  .openapi(importRoute, importHistory)
  .openapi(listRoute, findEvents)
  .openapi(recentRoute, recentEvents)
  .openapi(getRoute, oneEvent);
