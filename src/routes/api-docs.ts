// Serves the API reference at /docs (Swagger UI over /openapi.json, bundled by `npm run build:dashboard`) from the Worker.
import type { Context } from "hono";
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import { apiDocsAssets } from "./api-docs-assets.generated";
import { serveAsset } from "./static-assets";

export const apiDocs = new Hono<AppEnv>();

const shell = (c: Context<AppEnv>) => serveAsset(c, apiDocsAssets, "index.html", "API reference");

apiDocs.get("/docs", shell);
apiDocs.get("/docs/", shell);
apiDocs.get("/docs/:file{.+}", (c) => serveAsset(c, apiDocsAssets, c.req.param("file"), "API reference"));
