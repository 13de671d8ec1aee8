// GET /: where to go from the service's root — the dashboard, the API reference, the OpenAPI document, the health check.
import { createRoute, z, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { router } from "./openapi";
import { selfOnlyContentSecurityPolicy } from "./static-assets";

const links = [
  { rel: "dashboard", href: "/dashboard", title: "Dashboard: usage, events, bundle jobs and admin tools (sign in with an API key)" },
  { rel: "docs", href: "/docs", title: "API reference (Swagger UI)" },
  { rel: "openapi", href: "/openapi.json", title: "OpenAPI 3.1 document" },
  { rel: "health", href: "/health", title: "Health check" },
] as const;

const IndexSchema = z
  .object({
    service: z.string(),
    version: z.string(),
    links: z.array(z.object({ rel: z.string(), href: z.string(), title: z.string() })),
  })
  .openapi("Index");

const indexRoute = createRoute({
  method: "get",
  path: "/",
  operationId: "getIndex",
  tags: ["Health"],
  summary: "Where to start: links to the dashboard, the API reference, the OpenAPI document and the health check",
  description: "JSON by default; a small HTML page when the `Accept` header asks for `text/html` (a browser).",
  responses: {
    200: {
      description: "The links",
      content: { "application/json": { schema: IndexSchema }, "text/html": { schema: z.string() } },
    },
  },
});

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (char) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot" }[char]};`);

function page(version: string): string {
  const items = links.map((link) => `      <li><a href="${link.href}">${link.href}</a> — ${escapeHtml(link.title)}</li>`).join("\n");
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>download-audit</title>
    <link rel="icon" href="data:," />
  </head>
  <body>
    <h1>download-audit ${escapeHtml(version)}</h1>
    <p>An audit ledger of research-data downloads.</p>
    <ul>
${items}
    </ul>
  </body>
</html>
`;
}

const showIndex: RouteHandler<typeof indexRoute, AppEnv> = (c) => {
  const version = c.var.config.version;
  c.header("Vary", "Accept");
  if (c.req.header("accept")?.includes("text/html")) {
    c.header("Content-Security-Policy", selfOnlyContentSecurityPolicy);
    return c.html(page(version), 200);
  }
  return c.json({ service: "download-audit", version, links: links.map((link) => ({ ...link })) }, 200);
};

/** Chained, so that the app's type (AppType) carries this route for hono/client. */
export const home = router().openapi(indexRoute, showIndex);
