import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { newWebhookSecret, signWebhook } from "../../../src/core/alerts/signing";

describe("Standard Webhooks signatures", () => {
  it("reproduces the specification's test vector", async () => {
    expect(await signWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}')).toBe(
      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    );
  });

  it("makes 32-byte whsec_ secrets whose signatures the reference implementation verifies, and a changed body fails", async () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(atob(secret.slice(6))).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
    const timestamp = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ type: "alert.opened", timestamp: new Date().toISOString(), data: { id: "a1" } });
    const headers = { "webhook-id": "msg_1", "webhook-timestamp": String(timestamp), "webhook-signature": await signWebhook(secret, "msg_1", timestamp, body) };
    expect(new Webhook(secret).verify(body, headers)).toMatchObject({ type: "alert.opened" });
    expect(() => new Webhook(secret).verify(body.replace("a1", "a2"), headers)).toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
  });
});
