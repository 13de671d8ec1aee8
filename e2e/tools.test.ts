// The dashboard's take-away tools in Chromium: the Excel export beside CSV on Events, the PDF report of the overview's range.
import { readFile } from "node:fs/promises";
import path from "node:path";
import ExcelJS from "exceljs";
import type { Browser, Page } from "playwright-core";
import { extractText, getDocumentProxy } from "unpdf";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { signedInDashboard } from "./browser";

const e2e = inject("e2e");

describe.skipIf(e2e === null)("dashboard tools in Chromium", () => {
  const { baseUrl = "", adminKey = "", artifacts = "" } = e2e ?? {};
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    ({ browser, page } = await signedInDashboard(baseUrl, adminKey));
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("downloads the overview's range as a PDF report whose totals match the page's /v1/stats answer", async () => {
    await page.getByText("7 days", { exact: true }).click();
    const statsAnswer = page.waitForResponse((response) => response.url().includes("/v1/stats?") && response.ok());
    await page.getByLabel("Per", { exact: true }).selectOption("week");
    const stats = (await (await statsAnswer).json()) as { from: string; to: string; totals: { events: number; successful: number } };
    await expect.poll(async () => Number((await page.locator("[data-card=downloads]").textContent())?.replace(/\D/g, ""))).toBe(stats.totals.events);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "PDF report" }).click()]);
    expect(download.suggestedFilename()).toBe(`download-audit_${stats.from.slice(0, 10)}_${stats.to.slice(0, 10)}.pdf`);
    const file = path.join(artifacts, "tools-overview-report.pdf");
    await download.saveAs(file);
    const { text } = await extractText(await getDocumentProxy(new Uint8Array(await readFile(file))), { mergePages: true });
    const flat = text.replace(/\s+/g, " ");
    expect(flat).toContain(`Period: ${stats.from} to ${stats.to}`);
    expect(flat).toContain(`Events ${stats.totals.events.toLocaleString("en-US")} Successful ${stats.totals.successful.toLocaleString("en-US")}`);
    expect(flat).toContain("Counted downloads per week");
    await expect.poll(() => page.getByRole("status").filter({ hasText: "Downloaded download-audit_" }).count()).toBe(1);
  });

  it("offers the Excel export beside CSV on the Events page, with the current filters", async () => {
    await page.getByRole("link", { name: "Events" }).click();
    await page.getByLabel("Status").selectOption("failure");
    await page.getByRole("button", { name: "Apply filters" }).click();
    const buttons = page.locator(".form-actions button");
    expect(await buttons.allTextContents()).toEqual(expect.arrayContaining(["Export CSV", "Export Excel"]));
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export Excel" }).click()]);
    expect(download.suggestedFilename()).toMatch(/^download-audit_.*\.xlsx$/);
    const file = path.join(artifacts, "tools-export.xlsx");
    await download.saveAs(file);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(file);
    const sheet = workbook.getWorksheet("Events")!;
    const failures = await fetch(`${baseUrl}/v1/events/export.csv?status=failure`, { headers: { authorization: `Bearer ${adminKey}` } });
    const csvRows = (await failures.text()).trim().split("\r\n").length;
    expect(sheet.rowCount).toBe(csvRows);
    const statusColumn = sheet.getRow(1).values as unknown[];
    const status = statusColumn.indexOf("status");
    for (let row = 2; row <= sheet.rowCount; row++) expect(sheet.getRow(row).getCell(status).value).toBe("failure");
    await expect.poll(() => page.getByRole("status").filter({ hasText: /Downloaded download-audit_.*\.xlsx/ }).count()).toBe(1);
  });
});
