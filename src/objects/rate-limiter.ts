// Durable Object holding the per-user byte budgets of a shard of user keys (one set of shards per region).
import { DurableObject } from "cloudflare:workers";
import { RateLog, type ByteCharge, type ByteDecision, type RateRequest } from "./rate-log";

/**
 * Byte budgets of user keys: a sliding-window log of charges per user (src/objects/rate-log.ts). The per-IP download
 * count and byte budget live in the IP's ledger shard instead (one call stages the download and applies them), and
 * requests per API key are limited by the API_KEY_LIMITER Workers Rate Limiting binding. The alarm deletes expired rows.
 */
export class RateLimiter extends DurableObject<Env> {
  private readonly log: RateLog;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Objects created by the first release hold its fixed-window counters table, which nothing reads any more.
    ctx.storage.sql.exec("DROP TABLE IF EXISTS counters");
    this.log = new RateLog(ctx.storage.sql);
  }

  /** Byte budgets alone (user keys): each is charged when it fits. */
  async takeBytes(requests: (RateRequest & { bytes: ByteCharge })[]): Promise<ByteDecision[]> {
    const decisions = requests.map((request) => this.log.takeBytes(request));
    await this.scheduleSweep();
    return decisions;
  }

  private async scheduleSweep(): Promise<void> {
    const next = this.log.nextSweep(Date.now());
    if (next === null) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
  }

  /** Deletes expired state; reschedules itself while any state remains. */
  override async alarm(): Promise<void> {
    this.log.sweep(Date.now());
    await this.scheduleSweep();
  }

  /** Number of rows held, for tests and diagnostics. */
  async stateSize(): Promise<{ hits: number; byteCharges: number }> {
    return this.log.size();
  }
}
