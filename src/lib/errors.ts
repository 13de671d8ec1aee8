// One error type for the whole API: a code maps to an HTTP status and a single JSON shape.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "@hono/zod-openapi";

export const errorStatus = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  payload_too_large: 413,
  quota_exceeded: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  too_many_jobs: 429,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;

export interface FieldProblem {
  path: string;
  message: string;
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: { details?: unknown; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.details = options.details;
    this.headers = options.headers;
  }

  get status(): ContentfulStatusCode {
    return errorStatus[this.code];
  }
}

/** Turns zod issues into `[{path, message}]`, the `details` of an `invalid_request` error. */
export function zodProblems(error: z.ZodError, prefix: (string | number)[] = []): FieldProblem[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join(".") || "(body)",
    message: issue.message,
  }));
}

export function invalidRequest(error: z.ZodError, message = "The request is not valid"): ApiError {
  return new ApiError("invalid_request", message, { details: zodProblems(error) });
}

export const ErrorResponseSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      details: z.unknown().optional(),
      request_id: z.string(),
    }),
  })
  .openapi("Error");

function fromHttpException(err: HTTPException): ApiError {
  const status = err.status;
  const code = (Object.entries(errorStatus).find(([, s]) => s === status)?.[0] ?? "internal") as ErrorCode;
  if (status === 400) return new ApiError("invalid_request", err.message || "Malformed request body");
  return new ApiError(code, err.message || code);
}

/** The one `app.onError`: every failure leaves as `{error:{code,message,details?,request_id}}`. */
export function renderError(err: Error, c: Context): Response {
  let apiError: ApiError;
  if (err instanceof ApiError) apiError = err;
  else if (err instanceof HTTPException) apiError = fromHttpException(err);
  else {
    console.error(JSON.stringify({ level: "error", request_id: c.get("requestId"), error: String(err), stack: err.stack }));
    apiError = new ApiError("internal", "Internal server error");
  }
  const body = {
    error: {
      code: apiError.code,
      message: apiError.message,
      ...(apiError.details === undefined ? {} : { details: apiError.details }),
      request_id: c.get("requestId") ?? "",
    },
  };
  for (const [name, value] of Object.entries(apiError.headers ?? {})) c.header(name, value);
  return c.json(body, apiError.status);
}
