// The API reference and the OpenAPI document against the running service: the document is valid OpenAPI 3.1, and /docs
// renders every operation in Chromium with every request to anywhere but the service blocked.
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium } from "./browser";

const e2e = inject("e2e");

type OpenApiDocument = { openapi: string; paths: Record<string, Record<string, { operationId?: string; summary?: string }>> };

describe.skipIf(e2e === null)("API reference", () => {
  const { baseUrl = "", artifacts = "" } = e2e ?? {};
  let browser: Browser;
  let doc: OpenApiDocument;

  beforeAll(async () => {
    browser = await launchChromium();
    doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as OpenApiDocument;
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("serves /openapi.json as a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("renders every operation at /docs offline: no request leaves the service, no CSP violation", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const origin = new URL(baseUrl).origin;
    const blocked: string[] = [];
    await context.route(
      (url) => url.origin !== origin,
      (route) => {
        blocked.push(route.request().url());
        return route.abort("internetdisconnected");
      },
    );
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error" || /Content Security Policy|Refused to/i.test(message.text())) problems.push(`console ${message.type()}: ${message.text()}`);
    });

    await page.goto(`${baseUrl}/docs`);
    const operations = Object.entries(doc.paths).flatMap(([route, methods]) => Object.entries(methods).map(([method, operation]) => ({ route, method, ...operation })));
    expect(operations.length).toBeGreaterThan(30);
    const rendered = page.locator(".opblock");
    await expect.poll(() => rendered.count(), { timeout: 30_000 }).toBe(operations.length);
    // Each operation shows its path and, since displayOperationId is on, its operationId.
    const texts = await rendered.evaluateAll((blocks) => blocks.map((block) => block.querySelector(".opblock-summary")?.textContent ?? ""));
    for (const operation of operations) {
      expect(
        texts.some((text) => text.toLowerCase().startsWith(operation.method) && text.includes(operation.route.replaceAll("{", "").replaceAll("}", "").split("/").at(-1)!) && text.includes(operation.operationId!)),
        `${operation.method} ${operation.route}`,
      ).toBe(true);
    }
    await expect.poll(() => page.locator(".info .title").textContent()).toContain("download-audit");
    await page.screenshot({ path: path.join(artifacts, "docs.png"), fullPage: false });
    expect(blocked).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("answers GET / in a browser with links to the dashboard, the docs, the document and the health check", async () => {
    const page = await browser.newPage();
    await page.goto(baseUrl);
    for (const href of ["/dashboard", "/docs", "/openapi.json", "/health"]) expect(await page.locator(`a[href="${href}"]`).count(), href).toBe(1);
    await page.getByRole("link", { name: "/docs" }).click();
    await page.waitForURL(`${baseUrl}/docs`);
    await page.close();
  });
});
