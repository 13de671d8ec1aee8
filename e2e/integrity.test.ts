// The admin page's seal-chain card in Chromium against the running service: seal now, then verify the last 7 days.
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "./browser";

const e2e = inject("e2e");

describe.skipIf(e2e === null)("seal chain card in Chromium", () => {
  const { baseUrl = "", adminKey = "", artifacts = "" } = e2e ?? {};
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    const context = await browser.newContext({ locale: "en-GB", viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("seals the ledger, verifies the last 7 days and shows the outcome", async () => {
    await page.goto(`${baseUrl}/dashboard`);
    await page.getByLabel("API key").fill(adminKey);
    await page.getByLabel("API key").press("Enter");
    await page.getByRole("link", { name: "Admin" }).click();
    const card = page.getByTestId("seal-chain-status");
    await card.waitFor();

    await card.getByRole("button", { name: "Seal now" }).click();
    await expect.poll(() => card.getByRole("status").textContent(), { timeout: 30_000 }).toMatch(/Sealed \d+ window\(s\)\.|Nothing new to seal yet\./);
    await expect.poll(() => card.getByTestId("last-seal").textContent()).toMatch(/up to .*row\(s\), key dev-2026-11/);

    await card.getByRole("button", { name: "Verify last 7 days" }).click();
    await expect.poll(() => card.getByRole("status").textContent(), { timeout: 60_000 }).toMatch(/Verification passed: [\d,]+ window\(s\), [\d,]+ row\(s\)\./);
    await expect.poll(() => card.getByTestId("last-verification").textContent()).toMatch(/Passed/);
    await page.screenshot({ path: path.join(artifacts, "integrity-card.png"), fullPage: true });

    const status = (await (await fetch(`${baseUrl}/v1/integrity/status`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as {
      last_seal: { to: number; key_id: string };
    };
    expect(status.last_seal.key_id).toBe("dev-2026-11");
    expect(problems).toEqual([]);
  });
});
