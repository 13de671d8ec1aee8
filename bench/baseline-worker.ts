// The benchmark's reference point: a bare Hono app with no bindings, served beside the real worker by the same Miniflare.
import { Hono } from "hono";

const app = new Hono();

app.get("/", (c) => c.json({ ok: true }));

// Reads and parses the JSON body like an ingest route would, then answers 201; nothing is stored.
app.post("/", async (c) => {
  const body = await c.req.json<{ id?: string }>();
  return c.json({ id: body.id ?? null }, 201);
});

export default app;
