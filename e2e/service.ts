// Starts the service as `npm run dev` does (wrangler dev, migrations applied, .dev.vars.example settings) on a free port
// with a fresh temporary state directory, and stops it again.
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const root = path.join(import.meta.dirname, "..");
const wrangler = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const quietEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" };

export interface RunningService {
  baseUrl: string;
  adminKey: string;
  logFile: string;
  stop: () => Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** The development settings `npm run dev` starts from (.dev.vars.example) plus `settings`, as `--var` flags; the admin key is our own. */
async function devVars(adminKey: string, settings: Record<string, string>): Promise<string[]> {
  const example = await readFile(path.join(root, ".dev.vars.example"), "utf8");
  const vars = new Map<string, string>();
  for (const line of example.split("\n")) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match) vars.set(match[1]!, match[2]!.replace(/^"(.*)"$/, "$1"));
  }
  vars.set("ADMIN_API_KEY", adminKey);
  for (const [name, value] of Object.entries(settings)) vars.set(name, value);
  return [...vars].flatMap(([name, value]) => ["--var", `${name}:${value}`]);
}

async function waitForHealth(baseUrl: string, logFile: string, exited: () => string | null, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const exit = exited();
    if (exit !== null) throw new Error(`wrangler dev exited early (${exit})`);
    if (/\[ERROR\]/.test((await readFile(logFile, "utf8")).replace(/\x1b\[[0-9;]*m/g, ""))) throw new Error("wrangler dev reported an error");
    const healthy = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) })
      .then((response) => response.ok)
      .catch(() => false);
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`the service did not become healthy within ${timeoutMs / 1000} s`);
}

export async function startService(logFile: string, settings: Record<string, string> = {}): Promise<RunningService> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), "download-audit-e2e-"));
  await promisify(execFile)(process.execPath, [wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir], {
    cwd: root,
    env: quietEnv,
  });
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const adminKey = `e2e-admin-${randomUUID()}`;
  const log = createWriteStream(logFile);
  await new Promise((resolve) => log.once("open", resolve));
  const child = spawn(
    process.execPath,
    [wrangler, "dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", stateDir, "--show-interactive-dev-session=false", ...(await devVars(adminKey, settings))],
    { cwd: root, env: quietEnv, detached: true, stdio: ["ignore", log, log] },
  );
  let exit: string | null = null;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exit = `code ${code}, signal ${signal}`;
      resolve();
    }),
  );
  const stop = async () => {
    if (exit === null && child.pid !== undefined) {
      process.kill(-child.pid, "SIGTERM");
      const killTimer = setTimeout(() => exit === null && process.kill(-child.pid!, "SIGKILL"), 10_000);
      await exitedPromise;
      clearTimeout(killTimer);
    }
    log.end();
    await rm(stateDir, { recursive: true, force: true });
  };
  try {
    await waitForHealth(baseUrl, logFile, () => exit, 90_000);
  } catch (error) {
    await stop();
    const tail = (await readFile(logFile, "utf8").catch(() => "")).split("\n").slice(-40).join("\n");
    throw new Error(`${(error as Error).message}\n--- wrangler dev log (${logFile}) ---\n${tail}`);
  }
  return { baseUrl, adminKey, logFile, stop };
}
