// Serving a download: every attempt is recorded through the pipeline (guards decide 429), then R2 streams the object.
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import type { EventInput } from "../core/ledger/event-schema";
import { ANONYMOUS_KEY_ID } from "../core/ledger/ingest";
import { rateLimitHeaders, recordEvents, storedOrThrow, type StoredEvent } from "../core/ledger/pipeline";
import type { DownloadUser } from "../core/catalog/tokens";
import { ApiError, type ErrorCode } from "../lib/errors";
import { clientIpFromHeaders, edgeCountry } from "../lib/ip";
import { requestRegion } from "../lib/region";

export type DownloadAction = "download" | "metadata.download" | "bundle.download";

/** What the audit event of a download says: action, resource, who (from the signed link) and extra meta. */
export interface DownloadAudit {
  action: DownloadAction;
  resource?: { type: "dataset" | "bundle"; id: string; doi?: string | null; title?: string | null; file?: string };
  user?: DownloadUser | null;
  meta?: Record<string, unknown>;
}

function eventInput(audit: DownloadAudit, status: "success" | "failure", bytes: number | undefined, message?: string): EventInput {
  const user = audit.user ?? undefined;
  const actor = user && Object.values(user).some(Boolean) ? { id: user.id, email: user.email, name: user.name, organisation: user.organisation } : undefined;
  const resource = audit.resource
    ? { type: audit.resource.type, id: audit.resource.id, doi: audit.resource.doi ?? undefined, title: audit.resource.title?.slice(0, 1000) ?? undefined, file: audit.resource.file }
    : undefined;
  return { action: audit.action, status, resource, actor, bytes, message, meta: audit.meta };
}

/**
 * Records one download event through the guards; a refusal (download count or byte budget) becomes 429 with Retry-After
 * and RateLimit-* headers.
 */
async function record(c: Context<AppEnv>, input: EventInput): Promise<StoredEvent> {
  const [outcome] = await recordEvents(c.env, c.var.config, [input], {
    keyId: ANONYMOUS_KEY_ID,
    ip: clientIpFromHeaders(c.req.raw.headers, c.var.config.trustForwardedHeaders),
    userAgent: c.req.header("user-agent") ?? undefined,
    country: edgeCountry(c.req.raw),
    receivedAt: Date.now(),
    servedByService: true,
    region: requestRegion(c.req.raw, c.var.config.d1PrimaryRegion),
  });
  const stored = storedOrThrow(outcome!);
  const { rateLimit, byteBudget, denied, deniedBy, id } = stored;
  if (rateLimit) for (const [name, value] of Object.entries(rateLimitHeaders(rateLimit, deniedBy === "count"))) c.header(name, value);
  if (deniedBy === "bytes") {
    c.header("Retry-After", String(byteBudget!.resetSeconds));
    throw new ApiError("rate_limited", "Download byte budget reached for this client; the attempt was recorded as denied", {
      details: { event_id: id, limit: "bytes", bytes_limit: byteBudget!.limit, bytes_remaining: byteBudget!.remaining },
    });
  }
  if (denied)
    throw new ApiError("rate_limited", "Download limit reached for this client IP; the attempt was recorded as denied", { details: { event_id: id, limit: "count" } });
  return stored;
}

/** Records a failed download (status `failure`) and throws the error the client gets. */
export async function failDownload(c: Context<AppEnv>, audit: DownloadAudit, code: ErrorCode, message: string): Promise<never> {
  if (c.req.method !== "HEAD") await record(c, eventInput(audit, "failure", undefined, message));
  throw new ApiError(code, message);
}

/** Parses a single `bytes=` range (RFC 9110); anything else (several ranges, garbage) is ignored, which RFC 9110 allows. */
export function parseRange(header: string | undefined): R2Range | null {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") return Number(match[2]) > 0 ? { suffix: Number(match[2]) } : null;
  const offset = Number(match[1]);
  if (match[2] === "") return { offset };
  const end = Number(match[2]);
  return end >= offset ? { offset, length: end - offset + 1 } : null;
}

/** Resolves a range against the object's size: [start, end] inclusive, or null when it cannot be satisfied. */
function resolveRange(range: R2Range, size: number): [number, number] | null {
  if ("suffix" in range && range.suffix !== undefined) return size === 0 ? null : [Math.max(0, size - range.suffix), size - 1];
  const offset = "offset" in range ? (range.offset ?? 0) : 0;
  if (offset >= size) return null;
  const length = "length" in range && range.length !== undefined ? range.length : size - offset;
  return [offset, Math.min(size, offset + length) - 1];
}

const etagsOf = (header: string) => header.split(",").map((tag) => tag.trim().replace(/^W\//, ""));

function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/**
 * Streams an R2 object as a download with Content-Length, ETag, Content-Disposition, Range (206) and If-None-Match
 * (304). Exactly one event per download: success with the bytes being sent, or failure for a missing object. A 304
 * and a HEAD send no content and record nothing.
 */
export async function serveObject(c: Context<AppEnv>, key: string, filename: string, audit: DownloadAudit): Promise<Response> {
  const bucket = c.env.BUCKET;
  const ifNoneMatch = c.req.header("if-none-match");
  if (ifNoneMatch || c.req.method === "HEAD") {
    const head = await bucket.head(key);
    if (!head) return failDownload(c, audit, "not_found", "The file is missing from storage");
    if (ifNoneMatch && (ifNoneMatch.trim() === "*" || etagsOf(ifNoneMatch).includes(head.httpEtag)))
      return c.body(null, 304, { ETag: head.httpEtag, "Cache-Control": "private, no-cache" });
    if (c.req.method === "HEAD")
      return c.body(null, 200, {
        "Content-Type": head.httpMetadata?.contentType ?? "application/octet-stream",
        "Content-Length": String(head.size),
        ETag: head.httpEtag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": contentDisposition(filename),
      });
  }
  const range = parseRange(c.req.header("range"));
  let object: R2ObjectBody | null;
  try {
    object = await bucket.get(key, range ? { range } : {});
  } catch {
    object = await bucket.get(key);
  }
  if (!object) return failDownload(c, audit, "not_found", "The file is missing from storage");
  const span = range ? resolveRange(range, object.size) : null;
  if (range && !span) {
    await object.body.cancel();
    object = (await bucket.get(key))!;
  }
  const bytes = span ? span[1] - span[0] + 1 : object.size;
  try {
    await record(c, eventInput(audit, "success", bytes));
  } catch (error) {
    await object.body.cancel();
    throw error;
  }
  const headers: Record<string, string> = {
    "Content-Type": object.httpMetadata?.contentType ?? "application/octet-stream",
    "Content-Length": String(bytes),
    ETag: object.httpEtag,
    "Accept-Ranges": "bytes",
    "Content-Disposition": contentDisposition(filename),
    "Cache-Control": "private, no-cache",
  };
  if (span) headers["Content-Range"] = `bytes ${span[0]}-${span[1]}/${object.size}`;
  return c.body(object.body, span ? 206 : 200, headers);
}
