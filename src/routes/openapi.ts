// Shared OpenAPI pieces for routes: the router factory, error responses and the security requirement.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { ErrorResponseSchema, errorStatus, invalidRequest, type ErrorCode } from "../lib/errors";

/** A router whose validation failures become `invalid_request` errors with per-field details. */
export function router() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalidRequest(result.error);
    },
  });
}

const descriptions: Record<ErrorCode, string> = {
  invalid_request: "The request is not valid; `details` lists each field and problem",
  unauthorized: "API key missing, unknown or revoked",
  forbidden: "The API key lacks the required scope",
  not_found: "Not found",
  conflict: "Conflicts with the current state",
  gone: "No longer available",
  payload_too_large: "The body is too large",
  quota_exceeded: "The API key's storage quota would be exceeded; `details` has the usage and quota",
  unsupported_media_type: "Wrong Content-Type",
  rate_limited: "Too many requests; see Retry-After",
  too_many_jobs: "The API key already has the most jobs it may run at once; retry when one finishes",
  internal: "Unexpected server error",
  unavailable: "A dependency is unavailable",
};

/** OpenAPI response entries for the given error codes, all in the one error shape; codes sharing a status share its entry. */
export function errorResponses(...codes: ErrorCode[]) {
  const byStatus = new Map<number, string[]>();
  for (const code of codes) byStatus.set(errorStatus[code], [...(byStatus.get(errorStatus[code]) ?? []), descriptions[code]]);
  return Object.fromEntries(
    [...byStatus].map(([status, texts]) => [
      status,
      { description: texts.join(". Or: "), content: { "application/json": { schema: ErrorResponseSchema } } },
    ]),
  );
}

export const security: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyHeader: [] }];

/** The errors every authenticated route can answer with. */
export const authErrors = ["unauthorized", "forbidden", "rate_limited", "internal"] as const satisfies ErrorCode[];
