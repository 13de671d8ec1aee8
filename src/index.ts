// Worker entry: wires the HTTP app, scheduled jobs and the Durable Object classes.
import { app } from "./app";
import { scheduled } from "./scheduled";

export { LedgerShard } from "./objects/ledger-shard";
export { BundleJob } from "./objects/bundle-job";
export { RateLimiter } from "./objects/rate-limiter";
export { WebhookDelivery } from "./objects/webhook-delivery";

export default {
  fetch: app.fetch,
  scheduled,
} satisfies ExportedHandler<Env>;
