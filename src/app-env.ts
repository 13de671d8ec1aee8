// The Hono environment type shared by the app, its middleware and routes.
import type { Scope } from "./core/ledger/keys";
import type { Config } from "./lib/config";

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    apiKeyId: string;
    /** Scopes of that key (an `admin` key holds every scope). */
    apiKeyScopes: Scope[];
    /** D1 through the request's session (src/routes/middleware/d1-session.ts): replica reads, bookmarks for read-your-writes. */
    db: D1Database;
  };
}
