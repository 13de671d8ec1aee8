// Plays a scraper against a running service (`npm run dev`): one IP and one user fetching many records in a burst, so the
// download limit refuses the tail and the mirroring rule fires; registers the local webhook receiver and runs the rules.
// Usage: npm run simulate:scraper -- [--base http://127.0.0.1:8787] [--key dev-admin-key] [--receiver http://127.0.0.1:8788/hook] [--records 120]
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SECRET_FILE } from "./webhook-receiver.mjs";

const ALERT_SETTLE_MS = 6_000;

async function api(base, key, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Registers `receiverUrl` for every alert and maintenance event unless it already is; returns the new secret, if any. */
export async function registerReceiver({ base, key, receiverUrl }) {
  const { data } = await api(base, key, "GET", "/v1/webhooks");
  if (data.some((webhook) => webhook.url === receiverUrl)) return undefined;
  const created = await api(base, key, "POST", "/v1/webhooks", {
    url: receiverUrl,
    event_types: ["alert.opened", "alert.updated", "alert.acknowledged", "maintenance.failed"],
    description: "local development receiver",
  });
  return created.secret;
}

/** Sends `records` downloads of distinct records by one user from one IP, in batches, as a scraper would cause. */
export async function scrape({ base, key, records = 120, ip = "203.0.113.66", recordPrefix = "odp-" }) {
  let denied = 0;
  for (let start = 0; start < records; start += 50) {
    const events = Array.from({ length: Math.min(50, records - start) }, (_, offset) => ({
      action: "download",
      status: "success",
      resource: { type: "dataset", id: `${recordPrefix}${1000 + start + offset}` },
      actor: { id: "scraper-bot-7" },
      client: { ip, user_agent: "python-requests/2.32" },
      bytes: 5_000_000,
    }));
    denied += (await api(base, key, "POST", "/v1/events/batch", { events })).denied;
  }
  return { sent: records, denied };
}

/** Waits out ALERT_SETTLE_SECONDS (5 s in development) and runs the rules now instead of waiting for the cron. */
export async function evaluate({ base, key }) {
  await new Promise((resolve) => setTimeout(resolve, ALERT_SETTLE_MS));
  return api(base, key, "POST", "/v1/alerts/evaluate");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      base: { type: "string", default: "http://127.0.0.1:8787" },
      key: { type: "string", default: "dev-admin-key" },
      receiver: { type: "string", default: "http://127.0.0.1:8788/hook" },
      records: { type: "string", default: "120" },
    },
  });
  const options = { base: values.base, key: values.key };
  const secret = await registerReceiver({ ...options, receiverUrl: values.receiver });
  if (secret) {
    writeFileSync(SECRET_FILE, `${secret}\n`, { mode: 0o600 });
    console.log(`registered webhook → ${values.receiver}; its secret is in .webhook-secret`);
  }
  const result = await scrape({ ...options, records: Number(values.records) });
  console.log(`scraper sent ${result.sent} downloads, ${result.denied} refused by the download limit`);
  console.log("alert rules:", await evaluate(options));
  const { data } = await api(options.base, options.key, "GET", "/v1/alerts?status=open");
  for (const alert of data) console.log(`• [${alert.severity}] ${alert.title} (fired ${alert.count}×)`);
  console.log(`open the dashboard's Alerts page: ${options.base}/dashboard#/alerts`);
}
