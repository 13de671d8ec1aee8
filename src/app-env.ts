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
  };
}
