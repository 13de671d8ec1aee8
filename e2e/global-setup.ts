// Global setup of the browser suite: insists on Chromium, builds the dashboard, starts the service and seeds demo data.
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { chromiumInstalled, chromiumPath } from "./browser";
import { seedDemoData, type SeedSummary } from "./seed";
import { startService } from "./service";

export interface E2eContext {
  baseUrl: string;
  adminKey: string;
  seeded: SeedSummary;
  artifacts: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    e2e: E2eContext | null;
  }
}

const root = path.join(import.meta.dirname, "..");
const inCi = ["true", "1"].includes(String(process.env.CI).toLowerCase());

/** Polls until the ledger shards have flushed every seeded event to D1. */
async function waitForLedger(baseUrl: string, adminKey: string, expected: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let stored = 0;
  while (Date.now() < deadline) {
    const response = await fetch(`${baseUrl}/v1/actions`, { headers: { authorization: `Bearer ${adminKey}` } });
    stored = ((await response.json()) as { events: number }[]).reduce((sum, action) => sum + action.events, 0);
    if (stored >= expected) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`only ${stored} of ${expected} seeded events reached D1 within 60 s`);
}

/** Folds the seeded (past) days into the rollups that stats read, as the cron would. */
async function rebuildRollups(baseUrl: string, adminKey: string): Promise<void> {
  const day = 86_400_000;
  const response = await fetch(`${baseUrl}/v1/maintenance/rollup`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ from: new Date(Date.now() - 95 * day).toISOString().slice(0, 10), to: new Date(Date.now() + day).toISOString().slice(0, 10) }),
  });
  if (!response.ok) throw new Error(`rollup rebuild failed: ${response.status} ${await response.text()}`);
}

export default async function setup(project: TestProject) {
  if (!chromiumInstalled()) {
    const banner = [
      "",
      "!".repeat(78),
      `!! Chromium is not installed at ${chromiumPath}: the dashboard's browser tests CANNOT run.`,
      "!! Install it with: sudo apt-get install -y chromium   (or set E2E_CHROMIUM_PATH)",
      inCi ? "!! CI=true: failing the run." : "!! Not in CI: the browser tests are reported as SKIPPED, not passed.",
      "!".repeat(78),
      "",
    ].join("\n");
    console.error(banner);
    if (inCi) throw new Error(`Chromium is missing at ${chromiumPath}; the e2e suite must run in CI`);
    project.provide("e2e", null);
    return;
  }

  const artifacts = path.join(root, "test-artifacts");
  await mkdir(artifacts, { recursive: true });
  await promisify(execFile)(process.execPath, [path.join(root, "scripts", "build-dashboard.mjs")], { cwd: root });
  // Small bundle slices: locally the job's Durable Object shares a thread with the API, which must keep answering the page.
  const service = await startService(path.join(artifacts, "e2e-wrangler-dev.log"), { BUNDLE_SLICE_BYTES: String(1024 * 1024) });
  try {
    const seeded = await seedDemoData(service.baseUrl, service.adminKey);
    await waitForLedger(service.baseUrl, service.adminKey, seeded.events);
    await rebuildRollups(service.baseUrl, service.adminKey);
    project.provide("e2e", { baseUrl: service.baseUrl, adminKey: service.adminKey, seeded, artifacts });
  } catch (error) {
    await service.stop();
    throw error;
  }
  return () => service.stop();
}
