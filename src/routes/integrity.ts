// HTTP surface of ledger integrity: public keys, seals (list, seal now), inclusion proofs, verification runs and status,
// and the sealed rows of a range for offline verification.
import { createRoute, z } from "@hono/zod-openapi";
import { inclusionProof } from "../core/integrity/proofs";
import { latestSeal, publishedSeal, sealedRowsNdjson, sealPending, sealsBetween } from "../core/integrity/seals";
import { trustedKeys } from "../core/integrity/signing";
import { continueVerification, getVerification, latestVerification, startVerification } from "../core/integrity/verify";
import { requireScope } from "./middleware/auth";
import { jsonBody } from "./middleware/body";
import { ApiError } from "../lib/errors";
import { authErrors, errorResponses, jsonRequestBody, router, security } from "./openapi";
import { sessionEnv } from "./middleware/d1-session";

export const integrityRouter = router();

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const instant = z.iso.datetime({ offset: true }).transform((value) => Date.parse(value));

const SealSchema = z
  .object({
    version: z.number().int(),
    from: z.number().int().openapi({ description: "Window start (received_at, epoch ms, inclusive)" }),
    to: z.number().int().openapi({ description: "Window end (epoch ms, exclusive)" }),
    tree_size: z.number().int(),
    root: z.string().openapi({ description: "RFC 9162 Merkle tree hash of the window's rows (hex)" }),
    previous_seal_hash: z.string(),
    sealed_at: z.number().int(),
    key_id: z.string(),
    signature: z.string().openapi({ description: "Ed25519 signature (base64url) of the statement bytes" }),
    seal_hash: z.string().openapi({ description: "SHA-256 (hex) of the statement bytes; the next seal's previous_seal_hash" }),
  })
  .openapi("Seal");

const ProblemSchema = z
  .object({
    kind: z.enum([
      "seal_missing", "chain_broken", "bad_signature", "unknown_key", "seal_copy_missing", "seal_copy_differs", "count_differs",
      "root_differs", "row_differs", "archive_unreadable",
    ]),
    from: z.number().nullable(),
    to: z.number().nullable(),
    detail: z.string(),
    rows: z.array(z.string()).optional(),
  })
  .openapi("IntegrityProblem");

const VerificationSchema = z
  .object({
    id: z.string(),
    from: z.string(),
    to: z.string(),
    requested_by: z.string(),
    status: z.enum(["pending", "done"]),
    windows: z.number().int(),
    rows: z.number().int(),
    ok: z.boolean().nullable().openapi({ description: "null while pending" }),
    problems: z.array(ProblemSchema),
    created_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .openapi("Verification");

const keysRoute = createRoute({
  method: "get",
  path: "/v1/integrity/keys",
  operationId: "listSealKeys",
  tags: ["Integrity"],
  summary: "Public keys that seals are signed with (current and retired), for auditors and the offline verifier",
  security,
  middleware: [requireScope("read")] as const,
  responses: {
    200: json(
      z
        .object({
          keys: z.array(
            z.object({
              key_id: z.string(),
              algorithm: z.literal("Ed25519"),
              status: z.enum(["current", "retired"]),
              jwk: z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string(), kid: z.string() }),
            }),
          ),
        })
        .openapi("SealKeys"),
      "The trusted public keys",
    ),
    ...errorResponses(...authErrors),
  },
});

integrityRouter.openapi(keysRoute, async (c) =>
  c.json({ keys: await trustedKeys(c.var.config.sealSigningKey, c.var.config.sealRetiredPublicKeys) }, 200, { "Cache-Control": "public, max-age=300" }),
);

const sealsRoute = createRoute({
  method: "get",
  path: "/v1/integrity/seals",
  operationId: "listSeals",
  tags: ["Integrity"],
  summary: "Seals whose windows overlap [from, to), in chain order (for auditors and mirrors)",
  security,
  middleware: [requireScope("read")] as const,
  request: {
    query: z.object({
      from: instant.optional().openapi({ description: "RFC 3339; default: the beginning" }),
      to: instant.optional().openapi({ description: "RFC 3339; default: now" }),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    }),
  },
  responses: {
    200: json(
      z.object({ data: z.array(SealSchema), next_from: z.string().nullable().openapi({ description: "`from` of the next page" }) }).openapi("SealList"),
      "A page of seals",
    ),
    ...errorResponses("invalid_request", ...authErrors),
  },
});

integrityRouter.openapi(sealsRoute, async (c) => {
  const { from = 0, to = Date.now(), limit } = c.req.valid("query");
  if (to <= from) throw new ApiError("invalid_request", "`to` must be after `from`", { details: [{ path: "to", message: "must be after from" }] });
  const seals = await sealsBetween(c.var.db, from, to, limit + 1);
  const page = seals.slice(0, limit);
  return c.json({ data: page.map(publishedSeal), next_from: seals.length > limit ? new Date(page.at(-1)!.to).toISOString() : null }, 200);
});

const sealRoute = createRoute({
  method: "post",
  path: "/v1/integrity/seal",
  operationId: "sealNow",
  tags: ["Integrity"],
  summary: "Seal every window up to now − SEAL_MARGIN_SECONDS now, as the quarter-hour cron does",
  security,
  middleware: [requireScope("admin")] as const,
  responses: {
    200: json(
      z.object({ sealed: z.array(SealSchema), sealed_to: z.number().int().nullable() }).openapi("SealRunResult"),
      "The seals made (none when everything up to the margin is sealed)",
    ),
    ...errorResponses("conflict", "unavailable", ...authErrors),
  },
});

integrityRouter.openapi(sealRoute, async (c) => c.json(await sealPending(sessionEnv(c), c.var.config), 200));

const proofRoute = createRoute({
  method: "get",
  path: "/v1/integrity/proof/{event_id}",
  operationId: "getInclusionProof",
  tags: ["Integrity"],
  summary: "Inclusion proof of one event: its sealed form, leaf index, audit path and the signed seal",
  security,
  middleware: [requireScope("read")] as const,
  request: { params: z.object({ event_id: z.string().min(1).max(128) }) },
  responses: {
    200: json(
      z
        .object({
          event_id: z.string(),
          sealed_row: z.record(z.string(), z.union([z.string(), z.number(), z.null()])),
          encoding_version: z.number().int(),
          canonical: z.string(),
          leaf_hash: z.string(),
          leaf_index: z.number().int(),
          tree_size: z.number().int(),
          audit_path: z.array(z.string()),
          seal: SealSchema,
        })
        .openapi("InclusionProof"),
      "The proof; check it offline with `npm run verify -- --proof file.json`",
    ),
    ...errorResponses("invalid_request", "not_found", "conflict", ...authErrors),
  },
});

integrityRouter.openapi(proofRoute, async (c) => c.json(await inclusionProof(c.var.db, c.req.valid("param").event_id), 200));

const verifyRoute = createRoute({
  method: "post",
  path: "/v1/integrity/verify",
  operationId: "verifyLedger",
  tags: ["Integrity"],
  summary: "Recompute the sealed windows overlapping [from, to) and check roots, counts, signatures and the chain",
  description:
    "Answers 200 with the outcome when the range holds at most VERIFY_INLINE_ROWS sealed rows; otherwise 202 with a pending verification that starts at once and that the quarter-hour cron carries on, about 20 s of work at a time (poll GET /v1/integrity/verifications/{id}).",
  security,
  middleware: [requireScope("admin"), ...jsonBody(16 * 1024)] as const,
  request: {
    body: jsonRequestBody(z
      .strictObject({ from: instant.openapi({ example: "2026-11-01T00:00:00Z" }), to: instant.openapi({ example: "2026-11-08T00:00:00Z" }) })
      .refine((body) => body.to > body.from, { message: "must be after from", path: ["to"] })
      .openapi("VerifyRequest")),
  },
  responses: {
    200: json(VerificationSchema, "Done: ok, or the problems found"),
    202: json(VerificationSchema, "Running as a job"),
    ...errorResponses("invalid_request", "payload_too_large", "unsupported_media_type", ...authErrors),
  },
});

integrityRouter.openapi(verifyRoute, async (c) => {
  const { from, to } = c.req.valid("json");
  const verification = await startVerification(sessionEnv(c), c.var.config, { from, to, requestedBy: c.var.apiKeyId });
  if (verification.status === "done") return c.json(verification, 200);
  c.executionCtx.waitUntil(continueVerification(c.env, c.var.config, verification.id));
  return c.json(verification, 202);
});

const verificationRoute = createRoute({
  method: "get",
  path: "/v1/integrity/verifications/{id}",
  operationId: "getVerification",
  tags: ["Integrity"],
  summary: "A verification run: progress, outcome and problems",
  security,
  middleware: [requireScope("admin")] as const,
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: { 200: json(VerificationSchema, "The verification"), ...errorResponses("invalid_request", "not_found", ...authErrors) },
});

integrityRouter.openapi(verificationRoute, async (c) => c.json(await getVerification(c.var.db, c.req.valid("param").id), 200));

const statusRoute = createRoute({
  method: "get",
  path: "/v1/integrity/status",
  operationId: "getIntegrityStatus",
  tags: ["Integrity"],
  summary: "The seal chain's state: the last sealed window and the last verification",
  security,
  middleware: [requireScope("admin")] as const,
  responses: {
    200: json(
      z.object({ last_seal: SealSchema.nullable(), last_verification: VerificationSchema.nullable() }).openapi("IntegrityStatus"),
      "Status",
    ),
    ...errorResponses(...authErrors),
  },
});

integrityRouter.openapi(statusRoute, async (c) => {
  const [seal, verification] = await Promise.all([latestSeal(c.var.db), latestVerification(c.var.db)]);
  return c.json({ last_seal: seal ? publishedSeal(seal) : null, last_verification: verification }, 200);
});

const ndjsonType: string = "application/x-ndjson";

const rowsRoute = createRoute({
  method: "get",
  path: "/v1/integrity/rows",
  operationId: "exportSealedRows",
  tags: ["Integrity"],
  summary: "The complete sealed rows received in [from, to), as NDJSON, for `npm run verify` (no personal data)",
  description: "Give a whole number of windows (a seal's from and to) so that the offline verifier can rebuild them. At most 100,000 rows.",
  security,
  middleware: [requireScope("read")] as const,
  request: { query: z.object({ from: z.coerce.number().int().min(0), to: z.coerce.number().int().min(1) }) },
  responses: {
    200: { description: "One ledger row per line, in seal order", content: { [ndjsonType]: { schema: z.string() } } },
    ...errorResponses("invalid_request", "payload_too_large", ...authErrors),
  },
});

integrityRouter.openapi(rowsRoute, async (c) => {
  const { from, to } = c.req.valid("query");
  if (to <= from) throw new ApiError("invalid_request", "`to` must be after `from`", { details: [{ path: "to", message: "must be after from" }] });
  return c.body(await sealedRowsNdjson(c.var.db, from, to), 200, { "Content-Type": "application/x-ndjson; charset=utf-8", "Cache-Control": "no-store" });
});

