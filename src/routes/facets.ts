// HTTP surface of the ledger's facets: which actions and resource types have been seen.
import { createRoute, z, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { listActions, listResourceTypes } from "../core/ledger/query";
import { requireScope } from "./middleware/auth";
import { authErrors, errorResponses, router, security } from "./openapi";

const actionsRoute = createRoute({
  method: "get",
  path: "/v1/actions",
  operationId: "listActions",
  tags: ["Events"],
  summary: "Actions seen, with event counts and last occurrence",
  security,
  middleware: [requireScope("read")] as const,
  responses: {
    200: {
      description: "Actions",
      content: { "application/json": { schema: z.array(z.object({ action: z.string(), events: z.number(), last_seen: z.string() })) } },
    },
    ...errorResponses(...authErrors),
  },
});

const actionCounts: RouteHandler<typeof actionsRoute, AppEnv> = async (c) => c.json(await listActions(c.var.db), 200);

const resourceTypesRoute = createRoute({
  method: "get",
  path: "/v1/resource-types",
  operationId: "listResourceTypes",
  tags: ["Events"],
  summary: "Resource types seen, with event counts",
  security,
  middleware: [requireScope("read")] as const,
  responses: {
    200: {
      description: "Resource types",
      content: { "application/json": { schema: z.array(z.object({ resource_type: z.string(), events: z.number() })) } },
    },
    ...errorResponses(...authErrors),
  },
});

const resourceTypeCounts: RouteHandler<typeof resourceTypesRoute, AppEnv> = async (c) => c.json(await listResourceTypes(c.var.db), 200);

/** Chained, so that the app's type (AppType) carries these routes for hono/client. */
export const facets = router()
  .openapi(actionsRoute, actionCounts)
  .openapi(resourceTypesRoute, resourceTypeCounts);
