// The dashboard's COUNTER pieces in a real browser: the humans / machines / robots split, the countries table, and the
// monthly COUNTER metrics with the DSR download, against the seeded demo data (counterDemoEvents adds robots and machines).
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { signedInDashboard } from "./browser";

const e2e = inject("e2e");

describe.skipIf(e2e === null)("COUNTER on the dashboard", () => {
  const { baseUrl = "", adminKey = "", artifacts = "" } = e2e ?? {};
  let browser: Browser;
  let page: Page;
  const digits = (text: string | null) => Number((text ?? "").replace(/\D/g, ""));

  beforeAll(async () => {
    ({ browser, page } = await signedInDashboard(baseUrl, adminKey));
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("shows humans, machines and robots, says robots are excluded, and lists countries", async () => {
    const split = page.getByTestId("access-split");
    await split.waitFor();
    expect(await split.textContent()).toMatch(/robots .* excluded by default/);
    for (const method of ["regular", "machine", "robot"]) expect(digits(await split.locator(`[data-split=${method}]`).textContent()), method).toBeGreaterThan(0);
    // The downloads card counts regular + machine only: the robots' downloads are not in it.
    const stats = (await (await fetch(`${baseUrl}/v1/stats?from=${new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10)}`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as any;
    expect(stats.access_split.robot.successful).toBeGreaterThan(0);
    const countries = page.getByRole("region", { name: "Countries table" });
    expect(await countries.textContent()).toMatch(/South Africa\s*ZA/);
    expect(await countries.locator("tbody tr").count()).toBeGreaterThan(3);
    await page.screenshot({ path: path.join(artifacts, "counter-split.png"), fullPage: true });
  });

  it("shows monthly COUNTER metrics per dataset and downloads the DSR", async () => {
    const panel = page.getByTestId("counter-panel");
    const rows = panel.getByRole("region", { name: "COUNTER metrics table" }).locator("tbody tr");
    await rows.first().waitFor();
    expect(await rows.count()).toBeGreaterThan(3);
    expect(await panel.textContent()).toMatch(/10\.5072\/odp\.\d+/);
    expect(await panel.textContent()).toMatch(/machine/);
    const [download] = await Promise.all([page.waitForEvent("download"), panel.getByRole("button", { name: "Download DSR (JSON)" }).click()]);
    expect(download.suggestedFilename()).toMatch(/^dsr_\d{4}-\d{2}_\d{4}-\d{2}\.json$/);
    const file = path.join(artifacts, download.suggestedFilename());
    await download.saveAs(file);
    const report = JSON.parse(await readFile(file, "utf8"));
    expect(report["report-header"]).toMatchObject({ "report-id": "dsr", release: "rd1" });
    expect(report["report-datasets"].length).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(artifacts, "counter-panel.png"), fullPage: true });
  });
});
