import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { emitWebhookEvent } from "../../src/core/alerts/webhooks";
import { MAX_ATTEMPTS, RETRY_DELAYS_MS, type WebhookDelivery } from "../../src/objects/webhook-delivery";
import { callJson } from "../helpers";
import { runWebhookAlarms, skipRetryDelay } from "../webhook-helpers";
import { TestReceiver } from "../webhook-receiver";

const HOST = "delivery-receiver.example.com";

async function subscribe(eventTypes: string[] = ["maintenance.failed"]): Promise<{ id: string; secret: string }> {
  const { status, body } = await callJson("POST", "/v1/webhooks", { body: { url: `https://${HOST}/hook`, event_types: eventTypes } });
  expect(status).toBe(201);
  return body;
}

const deliveries = async (id: string) => (await callJson("GET", `/v1/webhooks/${id}/deliveries`)).body.data as any[];

describe("WebhookDelivery", () => {
  let receiver: TestReceiver;
  beforeEach(async () => {
    await env.DB.prepare("DELETE FROM webhooks").run();
    receiver = new TestReceiver(HOST);
  });
  afterEach(() => receiver.restore());

  it("retries for more than 24 hours on the Standard Webhooks schedule", () => {
    // 5 s + 5 min + 30 min + 2 h + 5 h + 10 h + 10 h = 27 h 35 min 5 s between the first and the last of 8 attempts.
    expect(RETRY_DELAYS_MS.reduce((sum, delay) => sum + delay, 0)).toBe(99_305_000);
    expect(MAX_ATTEMPTS).toBe(8);
  });

  it("a receiver down for an hour misses nothing: failures are retried with backoff, the same webhook-id each time, then delivered once each", async () => {
    const hook = await subscribe();
    receiver.secret = hook.secret;
    receiver.down = 503;
    const first = await emitWebhookEvent(env, "maintenance.failed", { job: "retention", n: 1 });
    const second = await emitWebhookEvent(env, "maintenance.failed", { job: "rollup", n: 2 });
    expect(first.webhooks).toBe(1);
    await runWebhookAlarms();

    // Down for the attempts at 0 s, 5 s, 5 min and 30 min (about 35 minutes): each failure waits the next delay.
    const skipped: number[][] = [];
    for (let retry = 0; retry < 3; retry++) {
      skipped.push(await skipRetryDelay(hook.id));
      await runWebhookAlarms();
    }
    expect(skipped).toEqual([
      [5_000, 5_000],
      [300_000, 300_000],
      [1_800_000, 1_800_000],
    ]);
    let log = await deliveries(hook.id);
    expect(log.map((delivery) => [delivery.status, delivery.attempts, delivery.last_status_code])).toEqual([
      ["pending", 4, 503],
      ["pending", 4, 503],
    ]);
    expect(log[0].log.map((attempt: any) => attempt.status_code)).toEqual([503, 503, 503, 503]);
    expect(log[0].log[0].error).toBe("receiver is down");
    // The fifth attempt is due two hours after the fourth ended.
    expect(Date.parse(log[0].next_attempt_at) - Date.parse(log[0].log[3].at) - log[0].log[3].duration_ms).toBe(2 * 3_600_000);

    receiver.down = null;
    await skipRetryDelay(hook.id);
    await runWebhookAlarms();
    log = await deliveries(hook.id);
    expect(log.map((delivery) => [delivery.status, delivery.attempts, delivery.last_status_code])).toEqual([
      ["delivered", 5, 204],
      ["delivered", 5, 204],
    ]);
    // Each message reached the receiver five times under one id and was stored once; order is not assumed.
    expect(new Set(receiver.requests.map((request) => request.id))).toEqual(new Set([first.id, second.id]));
    expect(receiver.requests.filter((request) => request.id === first.id)).toHaveLength(5);
    expect([...receiver.messages.values()].map((message) => message.data.n).sort()).toEqual([1, 2]);
    expect(receiver.ofType("maintenance.failed")).toHaveLength(2);
    // Nothing further is attempted once delivered.
    await runWebhookAlarms();
    expect(receiver.requests).toHaveLength(10);
  });

  it("a message queued twice (same id) is delivered once; the receiver still de-duplicates a repeat", async () => {
    const hook = await subscribe();
    receiver.secret = hook.secret;
    const stub = env.WEBHOOK_DELIVERY.getByName(hook.id);
    const message = { id: "msg_fixed", type: "maintenance.failed", body: JSON.stringify({ type: "maintenance.failed", timestamp: new Date().toISOString(), data: {} }), createdAt: Date.now() };
    await stub.enqueue([message]);
    await stub.enqueue([message]);
    await runWebhookAlarms();
    expect(receiver.requests).toHaveLength(1);
    expect(await deliveries(hook.id)).toHaveLength(1);
  });

  it("gives up after the last attempt and marks the delivery failed", async () => {
    const hook = await subscribe();
    receiver.secret = hook.secret;
    receiver.down = 500;
    await emitWebhookEvent(env, "maintenance.failed", { job: "x" });
    await runWebhookAlarms();
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
      await skipRetryDelay(hook.id);
      await runWebhookAlarms();
    }
    const [delivery] = await deliveries(hook.id);
    expect(delivery).toMatchObject({ status: "failed", attempts: 8, next_attempt_at: null, last_status_code: 500 });
    expect(receiver.requests).toHaveLength(8);
  });

  it("SSRF: never follows a redirect (it counts as a failed attempt) and refuses a URL the policy forbids at delivery time", async () => {
    const hook = await subscribe();
    receiver.secret = hook.secret;
    receiver.redirectTo = "http://169.254.169.254/latest/meta-data";
    await emitWebhookEvent(env, "maintenance.failed", { job: "x" });
    await runWebhookAlarms();
    const [redirected] = await deliveries(hook.id);
    expect(redirected).toMatchObject({ status: "pending", attempts: 1, last_status_code: 302 });
    expect(receiver.requests.map((request) => request.redirect)).toEqual(["manual"]);

    // An endpoint whose stored URL points at loopback (as a development setup would) is refused in production.
    const stub = env.WEBHOOK_DELIVERY.getByName(hook.id);
    await stub.configure("http://127.0.0.1:8788/hook", hook.secret);
    await runInDurableObject(stub, (_: WebhookDelivery, state) => state.storage.sql.exec("DELETE FROM messages"));
    await emitWebhookEvent(env, "maintenance.failed", { job: "y" });
    await runWebhookAlarms();
    const [refused] = await deliveries(hook.id);
    expect(refused.log[0]).toMatchObject({ status_code: null, error: "URL refused: host 127.0.0.1 is loopback (allowed only in development)" });
    expect(receiver.requests).toHaveLength(1);
  });

  it("gives up on a receiver that does not answer within WEBHOOK_TIMEOUT_MS and retries later", async () => {
    const hook = await subscribe();
    receiver.secret = hook.secret;
    receiver.hang = true;
    await emitWebhookEvent(env, "maintenance.failed", { job: "x" });
    await runWebhookAlarms();
    // The alarm may already be running on its own, waiting on the receiver: wait for its attempt to end.
    await expect.poll(async () => (await deliveries(hook.id))[0].attempts, { timeout: 5_000 }).toBe(1);
    const [delivery] = await deliveries(hook.id);
    // The test configuration sets WEBHOOK_TIMEOUT_MS to 500.
    expect(delivery).toMatchObject({ status: "pending", attempts: 1, last_status_code: null, log: [{ status_code: null, error: "no answer within 500 ms" }] });
    expect(delivery.log[0].duration_ms).toBeGreaterThanOrEqual(500);
    receiver.hang = false;
    await skipRetryDelay(hook.id);
    await runWebhookAlarms();
    expect((await deliveries(hook.id))[0]).toMatchObject({ status: "delivered", attempts: 2 });
  });

  it("a deleted webhook receives nothing more and forgets its secret and outbox", async () => {
    const hook = await subscribe();
    receiver.secret = hook.secret;
    receiver.down = 503;
    await emitWebhookEvent(env, "maintenance.failed", { job: "x" });
    await runWebhookAlarms();
    expect((await callJson("DELETE", `/v1/webhooks/${hook.id}`)).status).toBe(200);
    const stub = env.WEBHOOK_DELIVERY.getByName(hook.id);
    expect(await stub.deliveries(10)).toEqual([]);
    expect(await emitWebhookEvent(env, "maintenance.failed", { job: "y" })).toMatchObject({ webhooks: 0 });
    await stub.enqueue([{ id: "msg_late", type: "maintenance.failed", body: "{}", createdAt: Date.now() }]);
    expect(await stub.deliveries(10)).toEqual([]);
    expect(receiver.requests).toHaveLength(1);
  });
});
