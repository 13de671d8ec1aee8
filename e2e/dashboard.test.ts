// The dashboard in a real browser against the running service: sign-in, overview, events, export, jobs, admin, phone width.
import { readFile } from "node:fs/promises";
import path from "node:path";
import Papa from "papaparse";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "./browser";
import { demoRecords, largeRecordId } from "./seed";

const e2e = inject("e2e");

const csvHeader = "id,occurred_at,action,status,resource_type,resource_id,doi,title,actor_id,email,name,organisation,ip,user_agent,bytes,message,link,file,session_id,country,access_method";

describe.skipIf(e2e === null)("dashboard in Chromium", () => {
  const { baseUrl = "", adminKey = "", artifacts = "" } = e2e ?? {};
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  const api = async <T>(pathAndQuery: string, key = adminKey): Promise<T> => {
    const response = await fetch(`${baseUrl}${pathAndQuery}`, { headers: { authorization: `Bearer ${key}` } });
    if (!response.ok) throw new Error(`${pathAndQuery} → ${response.status}`);
    return (await response.json()) as T;
  };
  const screenshot = (name: string, target: Page = page) => target.screenshot({ path: path.join(artifacts, `dashboard-${name}.png`), fullPage: true });
  const watch = (target: Page) => {
    target.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    target.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
    });
  };
  const signIn = async (key: string) => {
    await page.goto(`${baseUrl}/dashboard`);
    await page.getByLabel("API key").fill(key);
    await page.getByLabel("API key").press("Enter");
  };
  const signOut = () => page.getByRole("button", { name: "Sign out" }).click();
  const digits = (text: string | null) => Number((text ?? "").replace(/\D/g, ""));
  /** Today plus `offset` days, as the UTC calendar day the API and the dashboard count in. */
  const isoDay = (offset = 0) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

  beforeAll(async () => {
    browser = await launchChromium();
    context = await browser.newContext({ locale: "en-GB", viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    watch(page);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("rejects a wrong key with a clear message and keeps nothing", async () => {
    await signIn("da_this-is-not-a-valid-key");
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/not accepted: it is unknown or has been revoked/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await screenshot("sign-in-rejected");
  });

  it("signs in and shows non-zero cards, a drawn chart and the top tables", async () => {
    await signIn(adminKey);
    await page.getByRole("navigation", { name: "Dashboard pages" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("download-audit.api-key"))).toBe(adminKey);
    // Focus lands on the page's main heading, not on the body.
    await expect.poll(() => page.evaluate(() => [document.activeElement?.tagName, document.activeElement?.textContent])).toEqual(["H1", "Overview"]);
    const downloads = page.locator("[data-card=downloads]");
    await downloads.waitFor();
    expect(digits(await downloads.textContent())).toBeGreaterThan(0);
    expect(digits(await page.locator("[data-card=users]").textContent())).toBeGreaterThan(0);
    expect(await page.locator("[data-card=bytes]").textContent()).toMatch(/\d.*(kB|MB|GB|TB)/);
    expect(await page.locator("[data-card=success-rate]").textContent()).toMatch(/^\d+(\.\d)?%$/);

    expect(await page.locator(".chart canvas").count()).toBe(1);
    const painted = await page.locator(".chart canvas").evaluate((canvas: HTMLCanvasElement) => {
      const { data } = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height);
      let count = 0;
      for (let index = 3; index < data.length; index += 4) if (data[index]! > 0) count++;
      return count;
    });
    expect(painted).toBeGreaterThan(2000);

    // Before any hover the legend shows the range's totals (for everyone, screen readers included), not "–".
    const shown = await api<{ series: { successful: number; failed: number }[] }>(
      `/v1/stats?from=${isoDay(-29)}&to=${isoDay(1)}&interval=day`,
    );
    const legend = page.locator(".u-legend");
    await expect.poll(() => legend.textContent()).toContain("Total");
    const successfulTotal = shown.series.reduce((sum, entry) => sum + entry.successful, 0);
    const failedTotal = shown.series.reduce((sum, entry) => sum + entry.failed, 0);
    expect(digits(await legend.locator(".u-series").nth(1).locator(".u-value").textContent())).toBe(successfulTotal);
    expect(digits(await legend.locator(".u-series").nth(2).locator(".u-value").textContent())).toBe(failedTotal);

    const topRecords = page.getByRole("region", { name: "Top records", exact: true });
    const firstLink = topRecords.getByRole("link").first();
    expect(await firstLink.getAttribute("href")).toMatch(/^https:\/\/doi\.org\/10\.5072\/odp\.\d+$/);
    expect(await topRecords.textContent()).toMatch(/DOI 10\.5072\/odp\.\d+/);
    expect(await page.getByRole("region", { name: "Top organisations", exact: true }).locator("tbody tr").count()).toBeGreaterThan(1);
    await screenshot("overview");

    const thirty = digits(await downloads.textContent());
    const statsAnswer = page.waitForResponse((response) => response.url().includes("/v1/stats") && response.ok());
    await page.getByText("7 days", { exact: true }).click();
    await statsAnswer;
    await expect.poll(async () => digits(await downloads.textContent())).toBeLessThan(thirty);
    await page.getByLabel("Per", { exact: true }).selectOption("week");
    await expect.poll(() => page.locator("figcaption").textContent()).toContain("per week");

    // 30 days by week: the week holding today is not over, and the first week is cut unless the range starts on a Monday.
    await page.getByText("30 days", { exact: true }).click();
    await expect.poll(() => page.getByTestId("partial-note").textContent()).toMatch(/Partial week/);
    // The chart's data table sits in a closed <details>, so it is found by its label rather than by role.
    const rowsOfTable = page.locator('[aria-label="Downloads per week"] tbody tr');
    const labels = await rowsOfTable.locator("th").allTextContents();
    const firstDay = new Date(`${isoDay(-29)}T00:00:00Z`);
    expect(labels.at(-1)).toContain("(partial)");
    expect(labels[0]!.includes("(partial)")).toBe(firstDay.getUTCDay() !== 1);
    expect(labels.slice(1, -1).some((label) => label.includes("(partial)"))).toBe(false);
    await page.getByLabel("Per", { exact: true }).selectOption("day");
  });

  it("filters events, pages through them and opens a detail", async () => {
    await page.getByRole("link", { name: "Events" }).click();
    const rows = page.getByRole("region", { name: "Events" }).locator("tbody tr");
    await rows.first().waitFor();
    // At 1280 px the time stays on one line.
    const timeLines = await rows.first().locator("td").first().evaluate((cell) => {
      const range = document.createRange();
      range.selectNodeContents(cell);
      return new Set(Array.from(range.getClientRects()).map((rect) => Math.round(rect.top))).size;
    });
    expect(timeLines).toBe(1);

    await page.getByLabel("Status").selectOption("failure");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(async () => (await rows.locator(".badge").allTextContents()).every((text) => text === "Failed")).toBe(true);
    expect(await rows.count()).toBe(25);

    // The filters are in the address: a reload (or a shared link) keeps them.
    expect(new URL(page.url()).hash).toBe("#/events?status=failure");
    await page.reload();
    await rows.first().waitFor();
    expect(await page.getByLabel("Status").inputValue()).toBe("failure");
    await expect.poll(async () => (await rows.locator(".badge").allTextContents()).every((text) => text === "Failed")).toBe(true);

    // A reversed range is refused with a message instead of silently showing nothing.
    const before = await rows.first().textContent();
    await page.getByLabel("From").fill(isoDay(-1));
    await page.getByLabel("Until (inclusive)").fill(isoDay(-10));
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("must not be after the last day");
    expect(await rows.first().textContent()).toBe(before);
    expect(new URL(page.url()).hash).toBe("#/events?status=failure");
    await page.getByLabel("From").fill("");
    await page.getByLabel("Until (inclusive)").fill("");

    const firstOnPageOne = await rows.first().textContent();
    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => page.getByRole("navigation", { name: "Event pages" }).textContent()).toContain("Page 2");
    await expect.poll(() => rows.first().textContent()).not.toBe(firstOnPageOne);
    await page.getByRole("button", { name: "Previous page" }).click();
    await expect.poll(() => rows.first().textContent()).toBe(firstOnPageOne);

    await rows.first().getByRole("button", { name: /Details of event/ }).click();
    const dialog = page.getByRole("dialog", { name: "Event details" });
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/Failed/);
    await screenshot("event-detail");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
  });

  it("shows duplicate repeats, with duplicate_of, when asked for", async () => {
    const all = await api<{ data: { id: string; duplicate_of: string | null; actor: { email: string }; resource: { id: string } }[] }>(
      "/v1/events?include_duplicates=true&limit=1000",
    );
    const repeat = all.data.find((item) => item.duplicate_of);
    expect(repeat, "the seed makes duplicate repeats").toBeDefined();
    await page.getByRole("button", { name: "Clear" }).click();
    await page.getByLabel("Email").fill(repeat!.actor.email);
    await page.getByLabel("Record id").fill(repeat!.resource.id);
    await page.getByLabel("Include duplicate repeats").check();
    await page.getByRole("button", { name: "Apply filters" }).click();
    const row = page.getByRole("region", { name: "Events" }).locator("tbody tr", { hasText: "duplicate" }).first();
    await row.getByRole("button", { name: /Details of event/ }).click();
    const dialog = page.getByRole("dialog", { name: "Event details" });
    await expect.poll(() => dialog.getByTestId("duplicate-of").textContent()).toMatch(/Duplicate of \S+/);
    await screenshot("event-duplicate");
    await dialog.getByRole("button", { name: "Close" }).click();
  });

  it("exports the current filters as CSV", async () => {
    await page.getByRole("button", { name: "Clear" }).click();
    await page.getByLabel("Status").selectOption("failure");
    await page.getByRole("button", { name: "Apply filters" }).click();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    expect(download.suggestedFilename()).toMatch(/^download-audit_.*\.csv$/);
    const file = path.join(artifacts, "dashboard-export.csv");
    await download.saveAs(file);
    const text = await readFile(file, "utf8");
    expect(text.split(/\r?\n/, 1)[0]).toBe(csvHeader);
    const parsed = Papa.parse<Record<string, string>>(text.trim(), { header: true });
    expect(parsed.errors).toEqual([]);
    expect(parsed.data.length).toBeGreaterThan(25);
    expect(new Set(parsed.data.map((row) => row.status))).toEqual(new Set(["failure"]));
    expect(parsed.data.every((row) => row.id && row.occurred_at && row.action)).toBe(true);
    await expect.poll(() => page.getByRole("status").first().textContent()).toMatch(/Downloaded download-audit_.*\.csv/);

    // The banner belongs to that export: a new search or Clear removes it.
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(() => page.getByText(/Downloaded download-audit_/).count()).toBe(0);
    await page.getByRole("button", { name: "Export CSV" }).click();
    await expect.poll(() => page.getByText(/Downloaded download-audit_/).count()).toBe(1);
    await page.getByRole("button", { name: "Clear" }).click();
    await expect.poll(() => page.getByText(/Downloaded download-audit_/).count()).toBe(0);
    expect(new URL(page.url()).hash).toBe("#/events");
  });

  it("creates a bundle job and follows it to completion", async () => {
    await page.getByRole("link", { name: "Jobs" }).click();
    for (const record of demoRecords.slice(0, 2)) await page.getByRole("checkbox", { name: new RegExp(record.title) }).check();
    await page.getByRole("group", { name: /For whom/ }).getByLabel("Email").fill("bundle.user@example.org");
    await page.getByRole("button", { name: "Create bundle" }).click();
    const started = await page.getByRole("status").filter({ hasText: "Bundle job" }).textContent({ timeout: 15_000 });
    const jobId = /Bundle job (\S+) started/.exec(started ?? "")?.[1];
    expect(jobId).toBeTruthy();
    const row = page.locator(`tr[data-job-id="${jobId}"]`);
    await row.waitFor();
    await page.locator(`tr[data-job-id="${jobId}"][data-status="completed"]`).waitFor({ timeout: 60_000 });
    expect(await row.locator("progress").getAttribute("value")).toBe("100");
    // The size in readable units, not a raw byte count.
    const message = await row.locator("td").nth(3).textContent();
    expect(message).toMatch(/^Bundle ready: \d+ files?, [\d.,]+ (kB|MB)$/);
    const href = await row.getByRole("link", { name: /Download the bundle/ }).getAttribute("href");
    expect(href).toMatch(/\/d\//);
    const zip = await fetch(new URL(href!, baseUrl));
    expect(zip.status).toBe(200);
    expect(Buffer.from(await zip.arrayBuffer()).subarray(0, 2).toString()).toBe("PK");
    await screenshot("jobs");
  });

  it("cancels a running bundle job", async () => {
    await page.getByLabel("Other record ids (comma-separated)").fill(largeRecordId);
    await page.getByLabel(/Include data files/).check();
    await page.getByRole("button", { name: "Create bundle" }).click();
    const started = await page.getByRole("status").filter({ hasText: "for 1 record" }).textContent({ timeout: 15_000 });
    const jobId = /Bundle job (\S+) started/.exec(started ?? "")?.[1];
    const cancel = page.getByRole("button", { name: `Cancel job ${jobId}` });
    await cancel.click({ timeout: 30_000 });
    const cancelled = page.locator(`tr[data-job-id="${jobId}"][data-status="cancelled"]`);
    await cancelled.waitFor({ timeout: 60_000 });
    // No progress bar or percentage for a stopped job: it never got to 99 %.
    expect(await cancelled.locator(".progress-cell").textContent()).toBe("Cancelled");
    expect(await cancelled.locator("progress").count()).toBe(0);
    await screenshot("jobs-cancelled");
  });

  it("runs the admin tools and manages API keys; a read-only key sees no admin page; a revoked key is refused", async () => {
    await page.getByRole("link", { name: "Admin" }).click();
    const retention = page.getByRole("form", { name: "Retention" });
    await retention.getByLabel("Older than (days)").fill("-3");
    await retention.getByRole("button", { name: "Dry run" }).click();
    await expect.poll(() => retention.getByRole("alert").textContent()).toBe("Enter a whole number of days from 1 to 36,500, or leave the field empty for the configured default.");
    await retention.getByLabel("Older than (days)").fill("30");
    await retention.getByRole("button", { name: "Dry run" }).click();
    await expect.poll(() => page.getByTestId("retention-result").textContent()).toMatch(/Dry run:.*would be archived/);
    expect(await retention.getByRole("alert").count()).toBe(0);
    // A real run asks first, naming the cutoff day and how many events go (the dry run's figures); dismissed here.
    const preview = await (
      await fetch(`${baseUrl}/v1/maintenance/retention`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ dry_run: true, older_than_days: 30 }),
      })
    ).json() as { cutoff: string; events: number };
    const asked = new Promise<string>((resolve) => page.once("dialog", (dialog) => (resolve(dialog.message()), void dialog.dismiss())));
    await retention.getByRole("button", { name: "Run retention…" }).click();
    const question = await asked;
    expect(question).toContain(`${new Intl.NumberFormat("en-GB").format(preview.events)} raw event(s)`);
    expect(question).toContain(new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeZone: "UTC" }).format(new Date(preview.cutoff)));
    expect(preview.events).toBeGreaterThan(0);
    await page.getByRole("button", { name: "Rebuild rollups" }).click();
    await expect.poll(() => page.getByRole("status").filter({ hasText: "Rollups rebuilt" }).count()).toBe(1);

    await page.getByLabel("Name").fill("e2e reader");
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = await page.getByTestId("new-key").locator(".secret").textContent();
    expect(secret).toMatch(/^da_/);
    await screenshot("admin");
    await page.getByRole("button", { name: "I have stored it" }).click();
    expect(await page.getByText(secret!).count()).toBe(0);

    await signOut();
    await signIn(secret!);
    await page.locator("[data-card=downloads]").waitFor();
    // A read-only key is offered neither the admin page nor the jobs page (jobs need the ingest scope).
    expect(await page.getByRole("link", { name: "Admin" }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "Jobs" }).count()).toBe(0);
    await page.goto(`${baseUrl}/dashboard#/jobs`);
    await expect.poll(() => page.locator("h1").textContent()).toBe("Overview");
    await signOut();

    await signIn(adminKey);
    await page.getByRole("link", { name: "Admin" }).click();
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Revoke key e2e reader" }).click();
    await page.getByRole("button", { name: "Revoke key e2e reader" }).waitFor({ state: "detached" });
    await signOut();
    await signIn(secret!);
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/not accepted/);
  });

  it("shows a key with ingest but no catalog scope the jobs page without scope errors", async () => {
    const created = await (
      await fetch(`${baseUrl}/v1/keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "e2e portal", scopes: ["read", "ingest"] }),
      })
    ).json() as { key: string };
    // The previous test ends on the sign-in page (its revoked key was refused).
    await signIn(created.key);
    await page.getByRole("link", { name: "Jobs" }).click();
    await page.getByTestId("no-catalog-scope").waitFor();
    await expect.poll(() => page.locator("p[aria-live=polite]").textContent()).toMatch(/running; refreshed every/);
    expect(await page.getByRole("alert").count()).toBe(0);
    expect(await page.getByText("Loading jobs…").count()).toBe(0);
    await signOut();
    await signIn(adminKey);
    await page.locator("[data-card=downloads]").waitFor();
  });

  it("fits a phone-width screen and formats numbers for the user's locale", async () => {
    const phone = await browser.newContext({ locale: "de-DE", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const mobile = await phone.newPage();
    watch(mobile);
    await mobile.goto(`${baseUrl}/dashboard`);
    await mobile.evaluate((key) => {
      sessionStorage.setItem("download-audit.api-key", key);
      sessionStorage.setItem("download-audit.is-admin", "true");
    }, adminKey);
    await mobile.reload();
    const downloads = mobile.locator("[data-card=downloads]");
    await downloads.waitFor();
    await mobile.locator(".chart canvas").first().waitFor();
    await mobile.waitForLoadState("networkidle");
    expect(await mobile.locator(".chart canvas").count()).toBe(1);
    const stats = await mobile.evaluate(async () => {
      const response = await fetch(new URL(performance.getEntriesByType("resource").map((entry) => entry.name).find((url) => url.includes("/v1/stats"))!), {
        headers: { authorization: `Bearer ${sessionStorage.getItem("download-audit.api-key")}` },
      });
      return (await response.json()) as { totals: { events: number } };
    });
    expect(await downloads.textContent()).toBe(new Intl.NumberFormat("de-DE").format(stats.totals.events));
    expect(await mobile.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot("phone-overview", mobile);
    await mobile.getByRole("link", { name: "Events" }).click();
    await mobile.getByRole("region", { name: "Events" }).locator("tbody tr").first().waitFor();
    expect(await mobile.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot("phone-events", mobile);
    await phone.close();
  });

  it("loaded everything without CSP violations or script errors", () => {
    expect(problems).toEqual([]);
  });
});
