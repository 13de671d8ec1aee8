// Request-body guards: accepted media types (415) and size limits (413) before anything is parsed.
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../app-env";
import { ApiError } from "../../lib/errors";

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

export const jsonBody = (maxBytes: number) => acceptBody(["application/json"], maxBytes);
