// HTTP surface of API keys (admin scope): create, list, revoke.
import { createRoute, z, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { recordAdminAction } from "../core/ledger/admin-audit";
import { createKey, listKeys, revokeKey, scopes } from "../core/ledger/keys";
import { requireScope } from "./middleware/auth";
import { jsonBody } from "./middleware/body";
import { authErrors, errorResponses, jsonRequestBody, router, security } from "./openapi";

const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string().openapi({ description: "First characters of the key, to recognise it" }),
    scopes: z.array(z.enum(scopes)),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
    last_used_at: z.string().nullable(),
  })
  .openapi("ApiKey");

const CreatedKeySchema = ApiKeySchema.extend({ key: z.string().openapi({ description: "The secret; shown only in this response" }) }).openapi(
  "CreatedApiKey",
);

const createRouteDef = createRoute({
  method: "post",
  path: "/v1/keys",
  operationId: "createKey",
  tags: ["Keys"],
  summary: "Create an API key (the secret is returned once)",
  security,
  middleware: [requireScope("admin"), ...jsonBody(64 * 1024)] as const,
  request: {
    body: jsonRequestBody(z.strictObject({ name: z.string().trim().min(1).max(100), scopes: z.array(z.enum(scopes)).min(1) }).openapi("CreateApiKey")),
  },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: CreatedKeySchema } } },
    ...errorResponses("invalid_request", "payload_too_large", "unsupported_media_type", ...authErrors),
  },
});

const createApiKey: RouteHandler<typeof createRouteDef, AppEnv> = async (c) => {
  const { name, scopes: keyScopes } = c.req.valid("json");
  const created = await createKey(c.var.db, name, keyScopes);
  await recordAdminAction(c.env, c.var.config, {
    action: "key.create",
    apiKeyId: c.var.apiKeyId,
    resource: { type: "api_key", id: created.id },
    // Ids and scopes only: read keys see the ledger, and a key's name or prefix is the admins' business.
    meta: { scopes: created.scopes },
  });
  return c.json(created, 201);
};

const listRouteDef = createRoute({
  method: "get",
  path: "/v1/keys",
  operationId: "listKeys",
  tags: ["Keys"],
  summary: "List API keys (never their secrets)",
  security,
  middleware: [requireScope("admin")] as const,
  responses: {
    200: { description: "Keys, newest first", content: { "application/json": { schema: z.object({ data: z.array(ApiKeySchema) }) } } },
    ...errorResponses(...authErrors),
  },
});

const listApiKeys: RouteHandler<typeof listRouteDef, AppEnv> = async (c) => c.json({ data: await listKeys(c.var.db) }, 200);

const revokeRouteDef = createRoute({
  method: "delete",
  path: "/v1/keys/{id}",
  operationId: "revokeKey",
  tags: ["Keys"],
  summary: "Revoke an API key, effective immediately",
  security,
  middleware: [requireScope("admin")] as const,
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: {
    200: { description: "The revoked key", content: { "application/json": { schema: ApiKeySchema } } },
    ...errorResponses("invalid_request", "not_found", ...authErrors),
  },
});

const revokeApiKey: RouteHandler<typeof revokeRouteDef, AppEnv> = async (c) => {
  const revoked = await revokeKey(c.var.db, c.req.valid("param").id);
  await recordAdminAction(c.env, c.var.config, {
    action: "key.revoke",
    apiKeyId: c.var.apiKeyId,
    resource: { type: "api_key", id: revoked.id },
    meta: { scopes: revoked.scopes, revoked_at: revoked.revoked_at },
  });
  return c.json(revoked, 200);
};

/** Chained, so that the app's type (AppType) carries these routes for hono/client. */
export const keys = router()
  .openapi(createRouteDef, createApiKey)
  .openapi(listRouteDef, listApiKeys)
  .openapi(revokeRouteDef, revokeApiKey);
