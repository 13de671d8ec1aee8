// Starts `wrangler dev` for `npm run dev` on 127.0.0.1, port 8787 unless PORT=… or `npm run dev -- --port …` says otherwise;
// every other argument is passed on to wrangler.
import { spawn } from "node:child_process";
import path from "node:path";

const DEFAULT_PORT = "8787";
const args = process.argv.slice(2);
const given = (flag) => args.some((arg) => arg === flag || arg.startsWith(`${flag}=`));

const port = process.env.PORT || DEFAULT_PORT;
if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65_535) {
  console.error(`dev: PORT must be a TCP port number (1–65535), got "${port}"`);
  process.exit(2);
}
const defaults = [...(given("--ip") ? [] : ["--ip", "127.0.0.1"]), ...(given("--port") ? [] : ["--port", port])];

const wrangler = path.join(import.meta.dirname, "..", "node_modules", "wrangler", "bin", "wrangler.js");
const child = spawn(process.execPath, [wrangler, "dev", ...defaults, ...args], {
  stdio: "inherit",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
