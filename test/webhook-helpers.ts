// Drives webhook Durable Objects in tests: run due alarms now, and move an endpoint's clock (its next attempts) forward.
import { listDurableObjectIds, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";

/**
 * Runs the alarm of every webhook object that has one due now, then waits until no due message is left unattempted
 * (the runtime may be running an alarm on its own at the same moment; its attempts end within WEBHOOK_TIMEOUT_MS).
 */
export async function runWebhookAlarms(): Promise<void> {
  const ids = await listDurableObjectIds(env.WEBHOOK_DELIVERY);
  for (const id of ids) await runDurableObjectAlarm(env.WEBHOOK_DELIVERY.get(id));
  const deadline = Date.now() + 5_000;
  for (const id of ids) {
    const due = () =>
      runInDurableObject(env.WEBHOOK_DELIVERY.get(id), (_instance, state) =>
        state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages WHERE status = 'pending' AND next_attempt_at <= ?", Date.now()).one().n,
      );
    while ((await due()) > 0) {
      if (Date.now() > deadline) throw new Error("webhook deliveries still due after 5 s");
      await runDurableObjectAlarm(env.WEBHOOK_DELIVERY.get(id));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * Makes the endpoint's pending messages due now, as if their retry delay had passed, and returns the delays that were
 * skipped (next attempt − end of the last attempt), so tests can check the schedule.
 */
export async function skipRetryDelay(webhookId: string): Promise<number[]> {
  const stub = env.WEBHOOK_DELIVERY.getByName(webhookId);
  return runInDurableObject(stub, async (_instance, state) => {
    const sql = state.storage.sql;
    const delays = sql
      .exec<{ delay: number }>(
        `SELECT m.next_attempt_at - a.at - a.duration_ms AS delay FROM messages m JOIN attempts a ON a.message_id = m.id AND a.attempt = m.attempts
         WHERE m.status = 'pending' ORDER BY m.created_at`,
      )
      .toArray()
      .map((row) => row.delay);
    sql.exec("UPDATE messages SET next_attempt_at = ? WHERE status = 'pending'", Date.now() - 1);
    await state.storage.setAlarm(Date.now() - 1);
    return delays;
  });
}
