// Starts `wrangler dev` for `npm run dev` on 127.0.0.1, port 8787 unless PORT=… or `npm run dev -- --port …` says otherwise
// (every other argument is passed on to wrangler), then fills an empty catalog and ledger with demo data (scripts/seed.mjs).
import { spawn } from "node:child_process";
import path from "node:path";
import { localAdminKey, seedDemo } from "./seed.mjs";

const DEFAULT_PORT = "8787";
const args = process.argv.slice(2);
const given = (flag) => args.some((arg) => arg === flag || arg.startsWith(`${flag}=`));

const port = process.env.PORT || DEFAULT_PORT;
if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65_535) {
  console.error(`dev: PORT must be a TCP port number (1–65535), got "${port}"`);
  process.exit(2);
}
const portArgument = args.findIndex((arg) => arg === "--port" || arg.startsWith("--port="));
const listenPort = portArgument < 0 ? port : args[portArgument].includes("=") ? args[portArgument].split("=")[1] : args[portArgument + 1];
const defaults = [...(given("--ip") ? [] : ["--ip", "127.0.0.1"]), ...(given("--port") ? [] : ["--port", port])];

const wrangler = path.join(import.meta.dirname, "..", "node_modules", "wrangler", "bin", "wrangler.js");
const child = spawn(process.execPath, [wrangler, "dev", ...defaults, ...args], {
  stdio: "inherit",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

/** Waits for the service to answer /health, then seeds demo data if the catalog or the ledger is empty. */
async function seedWhenReady(baseUrl) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const healthy = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) }).then((response) => response.ok, () => false);
    if (healthy) {
      const adminKey = localAdminKey(path.join(import.meta.dirname, ".."));
      if (!adminKey) return console.log("dev: no ADMIN_API_KEY in .dev.vars; demo data not seeded");
      return seedDemo({ baseUrl, adminKey, ifEmpty: true });
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  console.log(`dev: ${baseUrl}/health did not answer within 2 minutes; demo data not seeded (run \`npm run seed\` later)`);
}

if (process.env.DEV_SEED !== "false") {
  seedWhenReady(`http://127.0.0.1:${listenPort}`).then(
    () => console.log(`dev: ready — dashboard http://127.0.0.1:${listenPort}/dashboard (sign in with ADMIN_API_KEY of .dev.vars), API reference http://127.0.0.1:${listenPort}/docs`),
    (error) => console.error(`dev: seeding demo data failed: ${error.message}`),
  );
}
