// A local Standard Webhooks receiver for development: verifies each delivery's signature, stores messages once per
// webhook-id (retries are counted, not stored twice) and prints them. Also imported by the browser tests.
// Usage: npm run webhook-receiver -- [--port 8788] [--secret whsec_…]   (without --secret it reads .webhook-secret per request)
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";

export const SECRET_FILE = fileURLToPath(new URL("../.webhook-secret", import.meta.url));

function fileSecret() {
  try {
    return readFileSync(SECRET_FILE, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the receiver on 127.0.0.1:`port` (0 picks a free port). `secret()` gives the signing secret at each request.
 * `GET /received` lists the verified messages; `fail` (settable) makes it answer 503, to watch retries.
 */
export function startReceiver({ port = 8788, secret = fileSecret, log = false } = {}) {
  const messages = new Map();
  const state = { fail: false, requests: 0, rejected: 0 };
  const server = createServer((request, response) => {
    if (request.method === "GET" && request.url === "/received") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ ...state, messages: [...messages.values()] }));
      return;
    }
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      state.requests++;
      const body = Buffer.concat(chunks).toString("utf8");
      const id = request.headers["webhook-id"];
      if (state.fail) {
        response.writeHead(503).end("receiver told to fail");
        return;
      }
      const key = secret();
      let payload;
      try {
        if (!key) throw new Error("no secret known yet (write it to .webhook-secret or pass --secret)");
        payload = new Webhook(key).verify(body, request.headers);
      } catch (error) {
        state.rejected++;
        if (log) console.log(`✗ ${id ?? "(no id)"} rejected: ${error.message}`);
        response.writeHead(401).end("signature not valid");
        return;
      }
      const seen = messages.get(id);
      if (seen) seen.attempts++;
      else messages.set(id, { id, type: payload.type, timestamp: payload.timestamp, data: payload.data, attempts: 1, received_at: new Date().toISOString() });
      if (log) {
        const data = payload.data ?? {};
        console.log(`${seen ? "↻ repeat of" : "✓"} ${id} ${payload.type}${data.title ? `: ${data.title}` : ""}${data.count ? ` (fired ${data.count}×)` : ""}`);
      }
      response.writeHead(204).end();
    });
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolve({
        url: `http://127.0.0.1:${address.port}/hook`,
        port: address.port,
        messages,
        state,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8788" }, secret: { type: "string" } } });
  const receiver = await startReceiver({ port: Number(values.port), secret: values.secret ? () => values.secret : fileSecret, log: true });
  console.log(`webhook receiver listening on ${receiver.url} (messages: GET http://127.0.0.1:${receiver.port}/received)`);
}
