// Shared OpenAPI pieces for routes: the router factory, error responses and the security requirement.
import { OpenAPIHono, type RouteConfig, type z } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { ErrorResponseSchema, errorStatus, invalidRequest, type ErrorCode } from "../lib/errors";

/** Security requirements with `scope` as the role of each scheme; an empty requirement (no auth) stays empty. */
const withRole = (requirements: Record<string, string[]>[], scope: string) =>
  requirements.map((requirement) => Object.fromEntries(Object.keys(requirement).map((name) => [name, [scope]])));

/**
 * The route's security requirement with the scope its `requireScope` middleware demands as the role (OpenAPI 3.1 allows
 * role names for non-OAuth schemes), so the document tells clients, and the security suite, which scope each route needs.
 */
function withDocumentedScope<R extends RouteConfig>(route: R): R {
  const middleware = [route.middleware ?? []].flat() as { requiredScope?: string }[];
  const scope = middleware.find((handler) => handler.requiredScope)?.requiredScope;
  if (!scope || !route.security) return route;
  return { ...route, security: withRole(route.security, scope) };
}

/** The `X-D1-Bookmark` request header and response header (src/routes/middleware/d1-session.ts), registered by the app. */
export const D1_BOOKMARK_COMPONENT = "D1Bookmark";

/**
 * Every /v1 operation takes and answers `X-D1-Bookmark`: the d1Session middleware serves them all, so the document says
 * so in one place instead of in each route.
 */
function withBookmark<R extends RouteConfig>(route: R): R {
  if (!route.path.startsWith("/v1/")) return route;
  const header = { "X-D1-Bookmark": { $ref: `#/components/headers/${D1_BOOKMARK_COMPONENT}` } };
  const responses = Object.fromEntries(
    Object.entries(route.responses).map(([status, response]) =>
      status.startsWith("2") && !("$ref" in response) && !(response.headers instanceof Object && "shape" in response.headers)
        ? [status, { ...response, headers: { ...(response.headers as Record<string, unknown> | undefined), ...header } }]
        : [status, response],
    ),
  );
  // A bookmark that is not one is a 400 on every operation.
  return {
    ...route,
    parameters: [...(route.parameters ?? []), { $ref: `#/components/parameters/${D1_BOOKMARK_COMPONENT}` }],
    responses: { ...errorResponses("invalid_request"), ...responses },
  };
}

/** A router whose validation failures become `invalid_request` errors with per-field details. */
export function router() {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalidRequest(result.error);
    },
  });
  const register = app.openapi;
  app.openapi = ((route, handler, hook) => register(withBookmark(withDocumentedScope(route)), handler, hook)) as typeof app.openapi;
  return app;
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

/** For routes that check a scope inside the handler (optional auth): the requirement naming that scope. */
export const securityWithScope = (scope: string) => withRole(security, scope);

/** The errors every authenticated route can answer with. */
/** A required JSON request body of `schema` (the route's `jsonBody` middleware bounds its size and parses it strictly). */
export const jsonRequestBody = <T extends z.ZodType>(schema: T) => ({ required: true, content: { "application/json": { schema } } });

export const authErrors = ["unauthorized", "forbidden", "rate_limited", "internal"] as const satisfies ErrorCode[];
