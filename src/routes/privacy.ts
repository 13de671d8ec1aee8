// HTTP surface of data-subject requests (admin): subject access (JSON or CSV) and erasure of a person's personal data.
import { createRoute, z } from "@hono/zod-openapi";
import { EventSchema } from "../core/ledger/event-schema";
import { eraseSubject, subjectAccess, subjectAccessCsv, type Subject } from "../core/privacy/privacy";
import { requireScope } from "./middleware/auth";
import { jsonBody } from "./middleware/body";
import { ApiError } from "../lib/errors";
import { authErrors, errorResponses, jsonRequestBody, router, security } from "./openapi";
import { sessionEnv } from "./middleware/d1-session";

export const privacyRouter = router();

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

const subjectFields = {
  email: z.email().max(320).optional(),
  actor_id: z.string().min(1).max(256).optional(),
};

function subjectOf(input: { email?: string; actor_id?: string }): Subject {
  if ((input.email === undefined) === (input.actor_id === undefined))
    throw new ApiError("invalid_request", "Give exactly one of email and actor_id", { details: [{ path: "email", message: "give email or actor_id, not both" }] });
  return input.email !== undefined ? { email: input.email } : { actor_id: input.actor_id! };
}

const SubjectAccessSchema = z
  .object({
    subject: z.object({ email: z.string().nullable(), actor_id: z.string().nullable() }),
    actors: z.array(z.object({ actor_id: z.string().nullable(), email: z.string().nullable(), name: z.string().nullable(), updated_at: z.string() })),
    events: z.array(EventSchema),
    erased_at: z.string().nullable().openapi({ description: "When the person's data was erased, if it was" }),
  })
  .openapi("SubjectAccess");

const csvType: string = "text/csv";

const subjectRoute = createRoute({
  method: "get",
  path: "/v1/privacy/subject",
  operationId: "getPrivacySubject",
  tags: ["Privacy"],
  summary: "Everything held about a person (by email or actor id): their actors rows and their events",
  security,
  middleware: [requireScope("admin")] as const,
  request: { query: z.object({ ...subjectFields, format: z.enum(["json", "csv"]).default("json") }) },
  responses: {
    200: {
      description: "The subject-access answer (JSON, or CSV with one line per event)",
      content: { "application/json": { schema: SubjectAccessSchema }, [csvType]: { schema: z.string() } },
    },
    ...errorResponses("invalid_request", "payload_too_large", ...authErrors),
  },
});

privacyRouter.openapi(subjectRoute, async (c) => {
  const { format, ...query } = c.req.valid("query");
  const access = await subjectAccess(c.var.db, c.var.config, subjectOf(query));
  if (format === "csv")
    return c.body(subjectAccessCsv(access), 200, {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": 'attachment; filename="subject-access.csv"',
      "Cache-Control": "no-store",
    });
  return c.json(access, 200, { "Cache-Control": "no-store" });
});

const erasureRoute = createRoute({
  method: "post",
  path: "/v1/privacy/erasures",
  operationId: "erasePersonalData",
  tags: ["Privacy"],
  summary: "Erase a person's id, email and name everywhere they are held; counts, statistics and seals stay unchanged",
  description:
    "Idempotent: repeating the request finds nothing left to erase and answers the first erasure's id with already_erased true. Records an admin.privacy.erase event without the erased values. Do not put personal data in `reason`.",
  security,
  middleware: [requireScope("admin"), ...jsonBody(16 * 1024)] as const,
  request: {
    body: jsonRequestBody(z.strictObject({ ...subjectFields, reason: z.string().min(1).max(500).openapi({ example: "GDPR Art. 17 request #123" }) }).openapi("ErasureRequest")),
  },
  responses: {
    200: json(
      z
        .object({
          erasure_id: z.string(),
          already_erased: z.boolean(),
          removed: z.object({ actors: z.number().int(), bundle_links: z.number().int() }),
          event_id: z.string().nullable().openapi({ description: "The admin.privacy.erase event (null for a repeat)" }),
        })
        .openapi("ErasureResult"),
      "Erased (or erased before)",
    ),
    ...errorResponses("invalid_request", "payload_too_large", "unsupported_media_type", ...authErrors),
  },
});

privacyRouter.openapi(erasureRoute, async (c) => {
  const { reason, ...subject } = c.req.valid("json");
  return c.json(await eraseSubject(sessionEnv(c), c.var.config, subjectOf(subject), { reason, apiKeyId: c.var.apiKeyId }), 200);
});
