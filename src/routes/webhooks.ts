// HTTP surface of webhooks (admin): create (secret shown once), list, delete, and each endpoint's delivery log.
import { createRoute, z } from "@hono/zod-openapi";
import { CreatedWebhookSchema, createWebhook, DeliverySchema, deleteWebhook, listDeliveries, listWebhooks, webhookEventTypes, WebhookSchema } from "../core/alerts/webhooks";
import { requireScope } from "./middleware/auth";
import { jsonBody } from "./middleware/body";
import { authErrors, errorResponses, jsonRequestBody, router, security } from "./openapi";
import { sessionEnv } from "./middleware/d1-session";

export const webhooksRouter = router();

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const params = z.object({ id: z.string().min(1).max(64) });

const createRouteDef = createRoute({
  method: "post",
  path: "/v1/webhooks",
  operationId: "createWebhook",
  tags: ["Webhooks"],
  summary: "Register a webhook endpoint (Standard Webhooks; the signing secret is returned once)",
  description: "The URL must be https and must not point at a private, loopback, link-local or reserved address.",
  security,
  middleware: [requireScope("admin"), ...jsonBody(16 * 1024)] as const,
  request: {
    body: jsonRequestBody(z
      .strictObject({
        url: z.string().max(2048),
        event_types: z.array(z.enum(webhookEventTypes)).min(1),
        description: z.string().trim().max(200).optional(),
      })
      .openapi("CreateWebhook")),
  },
  responses: {
    201: json(CreatedWebhookSchema, "Created"),
    ...errorResponses("invalid_request", "payload_too_large", "unsupported_media_type", ...authErrors),
  },
});

webhooksRouter.openapi(createRouteDef, async (c) => c.json(await createWebhook(sessionEnv(c), c.var.config, c.req.valid("json")), 201));

const listRoute = createRoute({
  method: "get",
  path: "/v1/webhooks",
  operationId: "listWebhooks",
  tags: ["Webhooks"],
  summary: "Webhook endpoints (never their secrets)",
  security,
  middleware: [requireScope("admin")] as const,
  responses: { 200: json(z.object({ data: z.array(WebhookSchema) }), "Endpoints, newest first"), ...errorResponses(...authErrors) },
});

webhooksRouter.openapi(listRoute, async (c) => c.json({ data: await listWebhooks(c.var.db) }, 200));

const deleteRoute = createRoute({
  method: "delete",
  path: "/v1/webhooks/{id}",
  operationId: "deleteWebhook",
  tags: ["Webhooks"],
  summary: "Delete a webhook endpoint; pending deliveries are dropped",
  security,
  middleware: [requireScope("admin")] as const,
  request: { params },
  responses: { 200: json(WebhookSchema, "The deleted endpoint"), ...errorResponses("invalid_request", "not_found", ...authErrors) },
});

webhooksRouter.openapi(deleteRoute, async (c) => c.json(await deleteWebhook(sessionEnv(c), c.req.valid("param").id), 200));

const deliveriesRoute = createRoute({
  method: "get",
  path: "/v1/webhooks/{id}/deliveries",
  operationId: "listWebhookDeliveries",
  tags: ["Webhooks"],
  summary: "Delivery log of an endpoint, newest first: status, attempts and each attempt's status code",
  security,
  middleware: [requireScope("admin")] as const,
  request: { params, query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }) },
  responses: {
    200: json(z.object({ data: z.array(DeliverySchema) }), "Deliveries (kept 7 days after they end)"),
    ...errorResponses("invalid_request", "not_found", ...authErrors),
  },
});

webhooksRouter.openapi(deliveriesRoute, async (c) =>
  c.json({ data: await listDeliveries(sessionEnv(c), c.req.valid("param").id, c.req.valid("query").limit) }, 200),
);
