// Worker entry: wires the HTTP app (and, later, scheduled jobs and Durable Objects).
import { app } from "./app";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
