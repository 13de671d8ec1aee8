// Abuse detection end to end: a simulated scraper against the running service raises alerts that the Alerts page shows
// with their evidence and can acknowledge, and a local receiver gets the signed webhook deliveries.
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { evaluate, registerReceiver, scrape } from "../scripts/simulate-scraper.mjs";
import { startReceiver, type RunningReceiver } from "../scripts/webhook-receiver.mjs";
import { launchChromium } from "./browser";

const e2e = inject("e2e");

describe.skipIf(e2e === null)("alerts in Chromium", () => {
  const { baseUrl = "", adminKey = "", artifacts = "" } = e2e ?? {};
  let browser: Browser;
  let page: Page;
  let receiver: RunningReceiver;
  let secret: string | undefined;
  const problems: string[] = [];

  beforeAll(async () => {
    receiver = await startReceiver({ port: 0, secret: () => secret });
    browser = await launchChromium();
    page = await (await browser.newContext({ locale: "en-GB", viewport: { width: 1280, height: 900 } })).newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await receiver?.close();
  });

  it("a scraper burst is refused past the download limit and raises mirroring and download-limit alerts", async () => {
    secret = await registerReceiver({ base: baseUrl, key: adminKey, receiverUrl: receiver.url });
    expect(secret).toMatch(/^whsec_/);
    // 120 distinct records from one IP: the 100-per-hour limit refuses the last 20.
    expect(await scrape({ base: baseUrl, key: adminKey, records: 120, recordPrefix: "scraped-" })).toEqual({ sent: 120, denied: 20 });
    const result = await evaluate({ base: baseUrl, key: adminKey });
    expect(result.opened).toBeGreaterThanOrEqual(2);
  });

  it("the Alerts page shows the alerts with evidence; an admin acknowledges one", async () => {
    await page.goto(`${baseUrl}/dashboard`);
    await page.getByLabel("API key").fill(adminKey);
    await page.getByLabel("API key").press("Enter");
    await page.getByRole("link", { name: "Alerts" }).click();
    const mirroring = page.getByRole("row").filter({ hasText: "Possible mirroring" });
    await mirroring.waitFor();
    expect(await mirroring.textContent()).toContain("fetched 100 records in an hour");
    const limit = page.getByRole("row").filter({ hasText: "Download limit hit from 203.0.113.0" });
    await limit.waitFor();

    await mirroring.getByText("Evidence").click();
    const evidence = mirroring.locator("dl.evidence");
    await expect.poll(() => evidence.textContent()).toContain("distinct records100");
    expect(await evidence.textContent()).toContain("203.0.113.0 (100)");
    expect(await evidence.textContent()).not.toContain("scraper-bot-7");
    await mirroring.getByRole("button", { name: "Count matching events" }).click();
    await expect.poll(() => mirroring.locator("output").textContent()).toBe("100 events");
    await page.screenshot({ path: path.join(artifacts, "alerts-open.png"), fullPage: true });

    await mirroring.getByRole("button", { name: /^Acknowledge/ }).click();
    await expect.poll(() => page.getByRole("status").filter({ hasText: "Acknowledged: Possible mirroring" }).count()).toBe(1);
    await expect.poll(() => page.getByRole("row").filter({ hasText: "Possible mirroring" }).count()).toBe(0);
    await page.getByLabel("Alert status").selectOption("acknowledged");
    await page.getByRole("row").filter({ hasText: "Possible mirroring" }).filter({ hasText: "Acknowledged" }).waitFor();
    await page.screenshot({ path: path.join(artifacts, "alerts-acknowledged.png"), fullPage: true });
    expect(problems).toEqual([]);
  });

  it("the local receiver got signed deliveries (verified with the reference implementation), once per webhook-id", async () => {
    await expect
      .poll(() => [...receiver.messages.values()].filter((message) => message.type === "alert.opened").length, { timeout: 20_000 })
      .toBeGreaterThanOrEqual(2);
    await expect.poll(() => [...receiver.messages.values()].some((message) => message.type === "alert.acknowledged"), { timeout: 20_000 }).toBe(true);
    const opened = [...receiver.messages.values()].filter((message) => message.type === "alert.opened").map((message) => message.data.rule);
    expect(opened).toEqual(expect.arrayContaining(["mirroring", "download_limit"]));
    expect(receiver.state.rejected).toBe(0);
    const webhooks = (await (await fetch(`${baseUrl}/v1/webhooks`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as { data: { id: string; url: string }[] };
    const hook = webhooks.data.find((webhook) => webhook.url === receiver.url)!;
    const log = (await (await fetch(`${baseUrl}/v1/webhooks/${hook.id}/deliveries`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as {
      data: { status: string; last_status_code: number }[];
    };
    expect(log.data.length).toBeGreaterThanOrEqual(3);
    expect(log.data.every((delivery) => delivery.status === "delivered" && delivery.last_status_code === 204)).toBe(true);
  });
});
