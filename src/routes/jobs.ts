// HTTP surface of background jobs: status, listing by status, and cancellation.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { activeStatuses, JobListSchema, JobSchema, jobStatuses, listJobs, requireJob, type JobViewer } from "../core/bundles/jobs";
import { requireScope } from "./middleware/auth";
import { ApiError } from "../lib/errors";
import { authErrors, errorResponses, router, security } from "./openapi";

export const jobsRouter = router();

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const jobParams = z.object({ id: z.string().min(1).max(64) });

/** Jobs belong to the key that created them; another key gets 404 for them, an admin key sees all. */
const viewerOf = (c: Context<AppEnv>): JobViewer => ({ keyId: c.var.apiKeyId, admin: c.var.apiKeyScopes.includes("admin") });

const getJobRoute = createRoute({
  method: "get",
  path: "/v1/jobs/{id}",
  operationId: "getJob",
  tags: ["Jobs"],
  summary: "A job's status, progress and result",
  description: "A job is visible to the API key that created it and to admin keys; any other key gets 404.",
  security,
  middleware: [requireScope("ingest")] as const,
  request: { params: jobParams },
  responses: { 200: json(JobSchema, "The job"), ...errorResponses("invalid_request", "not_found", ...authErrors) },
});

jobsRouter.openapi(getJobRoute, async (c) => c.json(await requireJob(c.var.db, c.req.valid("param").id, viewerOf(c)), 200));

const listJobsRoute = createRoute({
  method: "get",
  path: "/v1/jobs",
  operationId: "listJobs",
  tags: ["Jobs"],
  summary: "Jobs of this API key (all jobs for an admin key), newest first, optionally of one status",
  security,
  middleware: [requireScope("ingest")] as const,
  request: {
    query: z.object({
      status: z.enum(jobStatuses).optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: z.string().max(512).optional(),
    }),
  },
  responses: { 200: json(JobListSchema, "A page of jobs"), ...errorResponses("invalid_request", ...authErrors) },
});

jobsRouter.openapi(listJobsRoute, async (c) => c.json(await listJobs(c.var.db, viewerOf(c), c.req.valid("query")), 200));

const cancelJobRoute = createRoute({
  method: "delete",
  path: "/v1/jobs/{id}",
  operationId: "cancelJob",
  tags: ["Jobs"],
  summary: "Cancel a pending or processing job (its partial upload is aborted)",
  description: "Only the API key that created the job or an admin key may cancel it; any other key gets 404.",
  security,
  middleware: [requireScope("ingest")] as const,
  request: { params: jobParams },
  responses: {
    200: json(JobSchema, "The cancelled job"),
    ...errorResponses("invalid_request", "not_found", "conflict", ...authErrors),
  },
});

jobsRouter.openapi(cancelJobRoute, async (c) => {
  const { id } = c.req.valid("param");
  const viewer = viewerOf(c);
  const job = await requireJob(c.var.db, id, viewer);
  if (!activeStatuses.includes(job.status)) throw new ApiError("conflict", `The job is already ${job.status}`);
  const status = await c.env.BUNDLE_JOBS.getByName(id).cancel();
  if (status !== "cancelled") throw new ApiError("conflict", `The job is already ${status}`);
  return c.json(await requireJob(c.var.db, id, viewer), 200);
});
