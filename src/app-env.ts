// The Hono environment type shared by the app, its middleware and routes.
import type { Config } from "./lib/config";

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    apiKeyId: string;
  };
}
