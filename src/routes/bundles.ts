// HTTP surface of ZIP bundles: POST /v1/bundles registers a bundle and starts its job (202).
import { createRoute, z } from "@hono/zod-openapi";
import { BundleRequestSchema, createBundle } from "../core/bundles/bundles";
import { JobSchema } from "../core/bundles/jobs";
import { requireScope } from "./middleware/auth";
import { jsonBody } from "./middleware/body";
import { authErrors, errorResponses, router, security } from "./openapi";
import { sessionEnv } from "./middleware/d1-session";

export const bundlesRouter = router();

export const BundleAcceptedSchema = z
  .object({
    bundle_id: z.string(),
    job: JobSchema.pick({ id: true, status: true, progress: true }),
    status_url: z.string().openapi({ description: "Poll this (GET /v1/jobs/{id}); when completed, its result holds the signed download link" }),
  })
  .openapi("BundleAccepted");

/** The origin links point at: PUBLIC_BASE_URL, which config requires outside development; there, the origin this request came to. */
export const linkOrigin = (configured: string | undefined, requestUrl: string) => configured ?? new URL(requestUrl).origin;

const createBundleRoute = createRoute({
  method: "post",
  path: "/v1/bundles",
  operationId: "createBundle",
  tags: ["Bundles"],
  summary: "Build a ZIP of records (metadata PDFs, optionally their files) in the background",
  description:
    "All records are checked in one query: unknown ids → 404 listing them; a bundle estimated over BUNDLE_MAX_BYTES → 413 `payload_too_large`; over the key's BUNDLE_QUOTA_BYTES of live bundles → 413 `quota_exceeded`; BUNDLE_MAX_ACTIVE_JOBS of the key's jobs already running → 429 `too_many_jobs`. Nothing is stored then.",
  security,
  middleware: [requireScope("ingest"), ...jsonBody(256 * 1024)] as const,
  request: { body: { required: true, content: { "application/json": { schema: BundleRequestSchema } } } },
  responses: {
    202: { description: "Accepted; the job builds the bundle", content: { "application/json": { schema: BundleAcceptedSchema } } },
    ...errorResponses("invalid_request", "not_found", "payload_too_large", "quota_exceeded", "unsupported_media_type", ...authErrors, "too_many_jobs"),
  },
});

bundlesRouter.openapi(createBundleRoute, async (c) => {
  const origin = linkOrigin(c.var.config.publicBaseUrl, c.req.url);
  const { bundleId, job } = await createBundle(sessionEnv(c), c.var.config, c.req.valid("json"), origin, c.var.apiKeyId);
  return c.json(
    { bundle_id: bundleId, job: { id: job.id, status: job.status, progress: job.progress }, status_url: `${origin}/v1/jobs/${job.id}` },
    202,
  );
});
