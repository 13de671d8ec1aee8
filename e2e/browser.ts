// Finds Debian's Chromium and launches it headless for playwright-core.
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

export const chromiumPath = process.env.E2E_CHROMIUM_PATH ?? "/usr/bin/chromium";

export const chromiumInstalled = () => existsSync(chromiumPath);

const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}

/** Chromium with the dashboard open and signed in with `key` (en-GB, 1280 × 900), once the overview's cards show. */
export async function signedInDashboard(baseUrl: string, key: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await launchChromium();
  const context = await browser.newContext({ locale: "en-GB", viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${baseUrl}/dashboard`);
  await page.getByLabel("API key").fill(key);
  await page.getByLabel("API key").press("Enter");
  await page.locator("[data-card=downloads]").waitFor();
  return { browser, page };
}
