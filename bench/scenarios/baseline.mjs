// The reference point of every ratio: the bare Hono worker in the same workerd, GET / and POST / with an event-sized JSON body.
import { loadFigures } from "../lib/load.mjs";

export default {
  name: "baseline",
  description: "bare Hono route in a separate minimal worker (GET /, and POST / with a JSON body)",
  order: 0,
  async run(ctx) {
    const events = ctx.events(1);
    const get = await ctx.load({ url: ctx.server.baselineUrl, request: () => ({ method: "GET", path: "/" }) });
    const post = await ctx.load({
      url: ctx.server.baselineUrl,
      request: () => ({
        method: "POST",
        path: "/",
        headers: { "content-type": "application/json", "cf-connecting-ip": events.ip() },
        body: JSON.stringify(events.event({ resourceType: "bench-baseline" })),
      }),
    });
    ctx.baseline.get = get;
    ctx.baseline.post = post;
    const row = (label, load) => ({
      label,
      figures: loadFigures(load),
      notes: load.non2xx > 0 ? [`${load.non2xx} non-2xx responses`] : [],
      details: load,
    });
    return [row("baseline GET /", get), row("baseline POST / (JSON body)", post)];
  },
};
