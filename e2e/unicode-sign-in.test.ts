// Regression 10.2 in the browser: an event whose id is outside Latin-1 and sorts first must not stop the dashboard signing in.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "./browser";

const e2e = inject("e2e");

describe.skipIf(e2e === null)("finding 2: 10.2: dashboard sign-in with a non-Latin-1 event first", () => {
  const { baseUrl = "", adminKey = "" } = e2e ?? {};
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const id = `下载-lock-${crypto.randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    browser = await launchChromium();
    page = await (await browser.newContext({ locale: "en-GB", viewport: { width: 1280, height: 900 } })).newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("signs in and lists the event first, with its id and title intact", async () => {
    // The probe's event: a CJK id, occurred_at a few minutes ahead so that it is the newest event of all.
    const response = await fetch(`${baseUrl}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        id,
        action: "record.view",
        occurred_at: new Date(Date.now() + 4 * 60_000).toISOString(),
        resource: { type: "dataset", id: "数据集-1", title: "下载 👩‍🔬 Cafe\u0301" },
      }),
    });
    expect(response.status).toBe(201);
    // The ledger flushes to D1 within a second; sign-in reads D1.
    await expect
      .poll(async () => (await fetch(`${baseUrl}/v1/events/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${adminKey}` } })).status, { timeout: 10_000 })
      .toBe(200);
    await page.goto(`${baseUrl}/dashboard`);
    await page.getByLabel("API key").fill(adminKey);
    await page.getByLabel("API key").press("Enter");
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    expect(await page.getByRole("alert").count()).toBe(0);

    await page.getByRole("link", { name: "Events" }).click();
    const rows = page.getByRole("region", { name: "Events" }).locator("tbody tr");
    await rows.first().waitFor();
    await rows.first().getByRole("button", { name: /Details of event/ }).click();
    const dialog = page.getByRole("dialog", { name: "Event details" });
    await dialog.waitFor();
    const details = (await dialog.textContent()) ?? "";
    expect(details).toContain(id);
    expect(details).toContain("下载 👩‍🔬 Cafe\u0301");
    await page.keyboard.press("Escape");

    // The next page's cursor encodes the CJK id of the last row only when a page ends on it; paging must work either way.
    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => page.getByRole("navigation", { name: "Event pages" }).textContent()).toContain("Page 2");
    expect(problems).toEqual([]);
  });
});
