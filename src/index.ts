// Worker entry: wires the HTTP app, scheduled jobs and the Durable Object classes.
import { app } from "./app";

export { LedgerShard } from "./guards/ledger-shard";
export { RateLimiter } from "./guards/rate-limiter";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
