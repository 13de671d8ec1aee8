// Gets local development ready before `wrangler dev`: .dev.vars and the local D1 migrations (scripts/dev.mjs seeds demo data).
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

process.chdir(fileURLToPath(new URL("..", import.meta.url)));
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

function run(command, args, extraEnv = {}) {
  const result = spawnSync(command, args, { stdio: "inherit", env: { ...env, ...extraEnv } });
  if (result.status !== 0) {
    console.error(`prepare-dev: \`${command} ${args.join(" ")}\` failed`);
    process.exit(result.status ?? 1);
  }
}

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("prepare-dev: created .dev.vars from .dev.vars.example (local secrets only)");
}
// CI=true makes wrangler apply the migrations without asking for confirmation.
run("wrangler", ["d1", "migrations", "apply", "DB", "--local"], { CI: "true" });
