// HTTP surface of reproduction: a person's downloads as a fetch-and-verify Bash script, a JSON manifest, BibTeX or RIS.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { buildReproduction, reproduceBibtex, reproduceRis, reproduceScript } from "../core/catalog/reproduce";
import { InstantSchema } from "../core/ledger/event-schema";
import type { Scope } from "../core/ledger/keys";
import { ApiError } from "../lib/errors";
import { linkOrigin } from "./bundles";
import { requireScope } from "./middleware/auth";
import { authErrors, errorResponses, router, security } from "./openapi";

export const reproduceRouter = router();

const ReproduceQuerySchema = z
  .object({
    actor_id: z.string().trim().min(1).max(256).optional(),
    email: z.email().max(320).optional(),
    from: InstantSchema.optional().openapi({ description: "Inclusive date or date-time; default: the beginning" }),
    to: InstantSchema.optional().openapi({ description: "Exclusive date or date-time; default: now" }),
    format: z.enum(["sh", "json", "bibtex", "ris"]).default("sh").openapi({ description: "sh: Bash script; json: manifest; bibtex/ris: one citation per dataset" }),
    link_hours: z.coerce.number().int().min(1).max(168).default(24).openapi({ description: "Lifetime of the signed links in the script (hours)" }),
  })
  .refine((query) => (query.email === undefined) !== (query.actor_id === undefined), { message: "give exactly one of email and actor_id", path: ["actor_id"] })
  .refine((query) => query.from === undefined || query.to === undefined || query.from < query.to, { message: "must be before to", path: ["from"] });

const responses = {
  200: {
    description: "The script, manifest or citations",
    content: {
      "text/x-shellscript": { schema: z.string() },
      "application/json": { schema: z.object({}).passthrough().openapi("ReproduceManifest") },
      "application/x-bibtex": { schema: z.string() },
      "application/x-research-info-systems": { schema: z.string() },
    },
  },
  ...errorResponses("invalid_request", ...authErrors),
};

const reproduceRoute = createRoute({
  method: "get",
  path: "/v1/reproduce",
  operationId: "getReproduction",
  tags: ["Downloads"],
  summary: "A person's successful file and bundle downloads, to fetch again and cite",
  description:
    "Resolves the person's downloads in the range against today's catalog. Each file is `available` (the script fetches it: the public URL of a public record, else a signed link valid for `link_hours` and bound to the person, which needs a key that also holds the `ingest` scope), `changed` (replaced after the last download), `missing` (record or file gone) or `restricted`; all but `available` are listed in the script's header, never skipped silently. The script verifies every file's SHA-256 from the catalog and stops at the first mismatch.",
  security,
  middleware: [requireScope("read")] as const,
  request: { query: ReproduceQuerySchema },
  responses,
});

/** Whether the calling key also holds `scope`; a key lacking it is not an error here, only a narrower answer. */
async function holdsScope(c: Context<AppEnv>, scope: Scope): Promise<boolean> {
  try {
    await requireScope(scope)(c, async () => {});
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.code === "forbidden") return false;
    throw error;
  }
}

type ReproduceQuery = z.infer<typeof ReproduceQuerySchema>;

async function respond(c: Context<AppEnv>, query: ReproduceQuery): Promise<Response> {
  const manifest = await buildReproduction(c.var.db, {
    person: { actorId: query.actor_id, email: query.email },
    from: query.from,
    to: query.to,
    origin: linkOrigin(c.var.config.publicBaseUrl, c.req.url),
    linkTtlSeconds: query.link_hours * 3600,
    canSignLinks: await holdsScope(c, "ingest"),
    tokenSecret: c.var.config.downloadTokenSecret,
    piiKey: c.var.config.piiKey,
  });
  const attachment = (type: string, name: string, body: string) =>
    c.body(body, 200, { "Content-Type": `${type}; charset=utf-8`, "Content-Disposition": `attachment; filename="${name}"`, "Cache-Control": "no-store" });
  if (query.format === "json") return c.json(manifest, 200, { "Cache-Control": "no-store" });
  if (query.format === "bibtex") return attachment("application/x-bibtex", "datasets.bib", await reproduceBibtex(c.var.db, manifest));
  if (query.format === "ris") return attachment("application/x-research-info-systems", "datasets.ris", await reproduceRis(c.var.db, manifest));
  return attachment("text/x-shellscript", "reproduce.sh", reproduceScript(manifest));
}

reproduceRouter.openapi(reproduceRoute, (c) => respond(c, c.req.valid("query")));
