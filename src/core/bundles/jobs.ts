// Background jobs as clients see them (D1): status, progress, message and result; listing and stale-job detection.
import { z } from "@hono/zod-openapi";
import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { jobs } from "../../db/catalog-schema";
import type { Config } from "../../lib/config";
import { base64UrlToText, textToBase64Url } from "../../lib/base64url";
import { ApiError } from "../../lib/errors";

export const jobStatuses = ["pending", "processing", "completed", "failed", "cancelled"] as const;
export type JobStatus = (typeof jobStatuses)[number];
export const activeStatuses: JobStatus[] = ["pending", "processing"];

export const JobSchema = z
  .object({
    id: z.string(),
    type: z.enum(["bundle"]),
    status: z.enum(jobStatuses),
    progress: z.number().int().min(0).max(100),
    message: z.string().nullable().openapi({ description: "What the job is doing, or why it failed" }),
    result: z.record(z.string(), z.unknown()).nullable().openapi({ description: "Set when completed; for a bundle: its signed download link" }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Job");
export type Job = z.infer<typeof JobSchema>;

export const JobListSchema = z.object({ data: z.array(JobSchema), next_cursor: z.string().nullable() }).openapi("JobList");

type JobRow = typeof jobs.$inferSelect;

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    progress: row.progress,
    message: row.message,
    result: row.result ? (JSON.parse(row.result) as Record<string, unknown>) : null,
    created_at: new Date(row.createdAt).toISOString(),
    updated_at: new Date(row.updatedAt).toISOString(),
  };
}

/** Who asks about jobs: a key sees the jobs it created; an admin key sees all. */
export interface JobViewer {
  keyId: string;
  admin: boolean;
}

const visibleTo = (viewer: JobViewer) => (viewer.admin ? undefined : eq(jobs.ownerKeyId, viewer.keyId));

export async function getJob(db: D1Database, id: string, viewer: JobViewer): Promise<Job | null> {
  const [row] = await drizzle(db).select().from(jobs).where(and(eq(jobs.id, id), visibleTo(viewer))).limit(1);
  return row ? toJob(row) : null;
}

/** The job, or 404 when it does not exist or belongs to another key (the same answer, so its existence is not revealed). */
export async function requireJob(db: D1Database, id: string, viewer: JobViewer): Promise<Job> {
  const job = await getJob(db, id, viewer);
  if (!job) throw new ApiError("not_found", `No job with id ${id}`);
  return job;
}

const encodeCursor = (createdAt: number, id: string) => textToBase64Url(JSON.stringify([createdAt, id]));

function decodeCursor(cursor: string): [number, string] {
  try {
    const [createdAt, id] = JSON.parse(base64UrlToText(cursor) ?? "null") as unknown[];
    if (Number.isSafeInteger(createdAt) && typeof id === "string") return [createdAt as number, id];
  } catch {
    // reported below
  }
  throw new ApiError("invalid_request", "The cursor is not valid", { details: [{ path: "cursor", message: "not a cursor returned by this API" }] });
}

/** The viewer's jobs newest first, optionally of one status, keyset-paginated on (created_at, id). */
export async function listJobs(db: D1Database, viewer: JobViewer, options: { status?: JobStatus; limit: number; cursor?: string }) {
  const conditions = [visibleTo(viewer), options.status ? eq(jobs.status, options.status) : undefined];
  if (options.cursor) {
    const [createdAt, id] = decodeCursor(options.cursor);
    conditions.push(sql`(${jobs.createdAt}, ${jobs.id}) < (${createdAt}, ${id})`);
  }
  const rows = await drizzle(db)
    .select()
    .from(jobs)
    .where(and(...conditions))
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(options.limit + 1);
  const page = rows.slice(0, options.limit);
  const last = page.at(-1);
  return { data: page.map(toJob), next_cursor: rows.length > options.limit && last ? encodeCursor(last.createdAt, last.id) : null };
}

export interface JobUpdate {
  status?: JobStatus;
  progress?: number;
  message?: string | null;
  result?: Record<string, unknown> | null;
}

/** Updates a job unless it already reached a final state (so a late worker cannot resurrect a cancelled job). */
export function jobUpdateStatement(db: D1Database, id: string, update: JobUpdate, now = Date.now()) {
  return drizzle(db)
    .update(jobs)
    .set({
      ...(update.status ? { status: update.status } : {}),
      ...(update.progress !== undefined ? { progress: update.progress } : {}),
      ...(update.message !== undefined ? { message: update.message } : {}),
      ...(update.result !== undefined ? { result: update.result === null ? null : JSON.stringify(update.result) } : {}),
      updatedAt: now,
    })
    .where(and(eq(jobs.id, id), inArray(jobs.status, activeStatuses)));
}

export async function updateJob(db: D1Database, id: string, update: JobUpdate, now = Date.now()): Promise<void> {
  await jobUpdateStatement(db, id, update, now);
}

/** Ids of pending/processing jobs that made no progress since `before` (epoch ms). */
export async function staleJobIds(db: D1Database, before: number, limit = 100): Promise<string[]> {
  const rows = await drizzle(db)
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(inArray(jobs.status, activeStatuses), lt(jobs.updatedAt, before)))
    .limit(limit);
  return rows.map((row) => row.id);
}

/**
 * Fails jobs that made no progress for JOB_STALE_MINUTES, through their Durable Object (which also aborts the upload):
 * the last-resort watchdog behind each object's own alarm retries, so no job stays `processing` forever.
 */
export async function failStaleJobs(env: Env, config: Config, now = Date.now()): Promise<string[]> {
  const ids = await staleJobIds(env.DB, now - config.jobStaleMinutes * 60_000);
  await Promise.all(ids.map((id) => env.BUNDLE_JOBS.getByName(id).fail(`No progress for ${config.jobStaleMinutes} minutes; the job was stopped`)));
  return ids;
}
