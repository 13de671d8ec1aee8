// Request-body guards: accepted media types (415) and size limits (413) before anything is parsed; JSON parsed strictly (400).
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../app-env";
import { ApiError } from "../../lib/errors";
import { jsonProblem } from "../../lib/json";

export const MB = 1024 * 1024;

/** Accepts only the given media types (parameters such as charset are ignored) and at most `maxBytes` of body. */
export function acceptBody(mediaTypes: string[], maxBytes: number): MiddlewareHandler<AppEnv>[] {
  const mediaType = createMiddleware<AppEnv>(async (c, next) => {
    const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (!type || !mediaTypes.includes(type))
      throw new ApiError("unsupported_media_type", `Content-Type must be ${mediaTypes.join(" or ")}`);
    await next();
  });
  const size = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError("payload_too_large", `The request body exceeds ${Math.round(maxBytes / MB)} MB`);
    },
  });
  return [mediaType, size];
}

/**
 * Refuses (400) a JSON body that JSON.parse would accept but read differently from a strict reader: duplicate keys at
 * any depth (the last would win) and lone surrogates (storage would turn them into U+FFFD).
 */
const strictJson = createMiddleware<AppEnv>(async (c, next) => {
  const problem = jsonProblem(await c.req.text());
  if (problem) throw new ApiError("invalid_request", problem.path === "(body)" ? problem.message : "The request body is not acceptable JSON", { details: [problem] });
  await next();
});

export const jsonBody = (maxBytes: number): MiddlewareHandler<AppEnv>[] => [...acceptBody(["application/json"], maxBytes), strictJson];
