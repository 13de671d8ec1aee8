// Gets local development ready before `wrangler dev`: .dev.vars and the local D1 migrations (scripts/dev.mjs seeds demo data).
import { spawnSync } from "node:child_process";
import { appendFileSync, copyFileSync, existsSync, readFileSync } from "node:fs";
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
} else {
  // Settings added to the example since .dev.vars was created (e.g. ENVIRONMENT) are appended, existing values kept.
  const namesOf = (text) => new Set(text.split("\n").map((line) => line.match(/^([A-Z0-9_]+)=/)?.[1]).filter(Boolean));
  const current = readFileSync(".dev.vars", "utf8");
  const have = namesOf(current);
  const missing = readFileSync(".dev.vars.example", "utf8").split("\n").filter((line) => /^([A-Z0-9_]+)=/.test(line) && !have.has(line.split("=")[0]));
  if (missing.length > 0) {
    appendFileSync(".dev.vars", `${current.endsWith("\n") ? "" : "\n"}${missing.join("\n")}\n`);
    console.log(`prepare-dev: added ${missing.map((line) => line.split("=")[0]).join(", ")} to .dev.vars from .dev.vars.example`);
  }
}
// CI=true makes wrangler apply the migrations without asking for confirmation.
run("wrangler", ["d1", "migrations", "apply", "DB", "--local"], { CI: "true" });
