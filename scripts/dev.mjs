// Starts `wrangler dev` for `npm run dev` on 127.0.0.1, port 8787 unless PORT=… or `npm run dev -- --port …` says otherwise
// (every other argument is passed on to wrangler), then fills an empty catalog and ledger with demo data (scripts/seed.mjs).
import { spawn } from "node:child_process";
import path from "node:path";
import { localAdminKey, seedDemo } from "./seed.mjs";

export const DEFAULT_PORT = "8787";

/**
 * The `wrangler dev` arguments for the launcher's own arguments and environment, and the port it will listen on.
 * An explicit `--port`/`--ip` wins over PORT and the defaults; wrangler would refuse a second `--port`.
 */
export function devArguments(args, env) {
  const valueOf = (flag) => {
    const index = args.findIndex((arg) => arg === flag || arg.startsWith(`${flag}=`));
    if (index < 0) return undefined;
    return args[index].includes("=") ? args[index].slice(flag.length + 1) : args[index + 1];
  };
  const port = valueOf("--port") ?? env.PORT ?? DEFAULT_PORT;
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65_535) throw new Error(`the port must be a TCP port number (1–65535), got "${port}"`);
  const defaults = [...(valueOf("--ip") === undefined ? ["--ip", "127.0.0.1"] : []), ...(valueOf("--port") === undefined ? ["--port", port] : [])];
  return { args: ["dev", ...defaults, ...args], port };
}

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

if (import.meta.filename === process.argv[1]) {
  let wranglerArguments;
  try {
    wranglerArguments = devArguments(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(`dev: ${error.message}`);
    process.exit(2);
  }
  const wrangler = path.join(import.meta.dirname, "..", "node_modules", "wrangler", "bin", "wrangler.js");
  const child = spawn(process.execPath, [wrangler, ...wranglerArguments.args], {
    stdio: "inherit",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

  if (process.env.DEV_SEED !== "false") {
    const origin = `http://127.0.0.1:${wranglerArguments.port}`;
    seedWhenReady(origin).then(
      () => console.log(`dev: ready — dashboard ${origin}/dashboard (sign in with ADMIN_API_KEY of .dev.vars), API reference ${origin}/docs`),
      (error) => console.error(`dev: seeding demo data failed: ${error.message}`),
    );
  }
}
