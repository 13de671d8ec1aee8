// Worker entry: wires the HTTP app, scheduled jobs and the Durable Object classes.
import { app } from "./app";
import { scheduled } from "./scheduled";

export { LedgerShard } from "./guards/ledger-shard";
export { BundleJob } from "./jobs/bundle-job";
export { RateLimiter } from "./guards/rate-limiter";

export default {
  fetch: app.fetch,
  scheduled,
} satisfies ExportedHandler<Env>;
