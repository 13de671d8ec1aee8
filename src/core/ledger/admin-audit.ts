// Admin actions recorded in the ledger itself (actions `admin.*`, actor = the API key id, details in `meta`), so they are
// sealed like every other event and listed by GET /v1/events?action=admin.key.create etc.
import type { Config } from "../../lib/config";
import { ADMIN_ACTION_PREFIX } from "./event-schema";
import { recordEvents, storedOrThrow } from "./pipeline";

export interface AdminAction {
  /** Without the prefix, e.g. "key.create". */
  action: string;
  apiKeyId: string;
  resource?: { type: string; id: string };
  status?: "success" | "failure";
  meta?: Record<string, unknown>;
}

/** Records an admin action through the ordinary ledger path (staged durably, flushed to D1, sealed later). */
export async function recordAdminAction(env: Env, config: Config, entry: AdminAction): Promise<string> {
  const [outcome] = await recordEvents(
    env,
    config,
    [
      {
        action: `${ADMIN_ACTION_PREFIX}${entry.action}`,
        status: entry.status ?? "success",
        actor: { id: entry.apiKeyId },
        ...(entry.resource ? { resource: entry.resource } : {}),
        ...(entry.meta ? { meta: entry.meta } : {}),
      },
    ],
    { keyId: entry.apiKeyId, receivedAt: Date.now() },
  );
  // A 503 here (the ledger's staging is full) tells the admin that the action's audit record was not stored.
  return storedOrThrow(outcome!).id;
}
