// `npm run test:chaos`: loads the service (started as `npm run dev` does, state persisted in a temp dir) with client ids
// (single events and batches) and same-id retries, SIGKILLs the runtime several times and restarts it on the same state, then checks that every
// acknowledged event is stored exactly once with its content and every event answered 4xx is absent.
import { randomUUID } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { launchRuntime, prepareState, type LaunchedRuntime } from "./service";

const root = path.join(import.meta.dirname, "..");
const setting = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const KILLS = setting("CHAOS_KILLS", 4);
/** Seconds of load between two kills (and before the first). */
const PHASE_SECONDS = setting("CHAOS_PHASE_SECONDS", 8);
const CONCURRENCY = setting("CHAOS_CONCURRENCY", 6);
/** Upper bound on new events, so a fast machine does not make the run long. */
const MAX_EVENTS = setting("CHAOS_MAX_EVENTS", 4_000);
const REPORT = process.env.CHAOS_REPORT ?? path.join(root, "test-artifacts", "chaos.json");
const artifacts = path.join(root, "test-artifacts");

interface Sent {
  clientId: string;
  body: Record<string, unknown>;
  /** Final answer: 201/200 (acknowledged), 4xx (refused), or null while unknown (never answered). */
  answer: number | null;
}

const history = {
  started_at: new Date().toISOString(),
  settings: { kills: KILLS, phase_seconds: PHASE_SECONDS, concurrency: CONCURRENCY, max_events: MAX_EVENTS },
  sent: 0,
  requests: 0,
  transport_errors: 0,
  server_errors: 0,
  acked: 0,
  same_id_retries: 0,
  replays_answered: 0,
  conflicts_answered: 0,
  refused_4xx: 0,
  unanswered: 0,
  /** Bad signed-link attempts: sent, answered 403, and recorded (rows + counts) once the run is over. */
  bad_links_sent: 0,
  bad_links_answered: 0,
  bad_links_recorded: 0,
  bad_link_rows: 0,
  kills: 0,
  /** Per kill: acknowledged events not yet in D1 (so only in a shard's staging) just before the SIGKILL. */
  staged_at_kill: [] as number[],
  restarts: [] as { at: string; seconds: number }[],
  stored: 0,
  lost: 0,
  duplicated: 0,
  content_mismatch: 0,
  refused_but_stored: 0,
  anomalies: [] as string[],
  seconds: 0,
};

const runId = randomUUID().slice(0, 8);
const adminKey = `chaos-admin-${randomUUID()}`;
const events = new Map<string, Sent>();
let runtime: LaunchedRuntime | null = null;
let baseUrl = "";
let loading = true;
let counter = 0;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)]!;

function newEvent(): Sent {
  const clientId = `chaos-${runId}-${++counter}`;
  const body = {
    id: clientId,
    action: pick(["record.view", "download", "metadata.download"]),
    occurred_at: new Date(Date.now() - Math.floor(Math.random() * 3_600_000)).toISOString(),
    resource: { type: "dataset", id: `ds-${Math.floor(Math.random() * 50)}` },
    actor: { id: `user-${Math.floor(Math.random() * 500)}` },
    // A fresh IP per event keeps the per-IP download limit out of the way: a refusal is stored, so it is not a 4xx here.
    client: { ip: `10.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`, user_agent: "chaos" },
    bytes: Math.floor(Math.random() * 1_000_000),
  };
  return { clientId, body, answer: null };
}

async function post(path: string, body: unknown): Promise<{ status: number; json: any } | null> {
  history.requests++;
  try {
    const response = await fetch(`${baseUrl}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const json = await response.json().catch(() => null);
    if (response.status >= 500) history.server_errors++;
    return { status: response.status, json };
  } catch {
    history.transport_errors++;
    return null;
  }
}

/** Sends one event until the service gives a final answer (2xx or 4xx); a dropped connection or a 5xx means: retry. */
async function deliver(event: Sent, deadline: number): Promise<void> {
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    if (attempt > 0) history.same_id_retries++;
    const answer = await post("/v1/events", event.body);
    if (answer && answer.status < 500) {
      event.answer = answer.status;
      if (answer.status === 201 || answer.status === 200) {
        history.acked++;
        // (A kill may cut the body after the status line: the status alone acknowledges.)
        if (answer.json !== null && answer.json.client_id !== event.clientId) history.anomalies.push(`${event.clientId}: answer without its client id`);
      } else history.refused_4xx++;
      return;
    }
    await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 4)));
  }
}

/**
 * Sends a batch of new events until the service answers it: a 200 acknowledges every event it does not list as rejected,
 * a 503 acknowledges those in `details.stored` and the rest are sent again; a dropped connection or other 5xx: all again.
 */
async function deliverBatch(batch: Sent[], deadline: number): Promise<void> {
  let pending = batch;
  for (let attempt = 0; pending.length > 0 && Date.now() < deadline; attempt++) {
    if (attempt > 0) history.same_id_retries += pending.length;
    const answer = await post("/v1/events/batch", { events: pending.map((event) => event.body) });
    // A 200 whose body a kill cut off says nothing per event: sending the batch again is safe (client ids).
    if (answer?.status === 200 && answer.json !== null) {
      const rejected = new Set<number>((answer.json.rejected as { index: number }[]).map((item) => item.index));
      pending.forEach((event, index) => {
        event.answer = rejected.has(index) ? 400 : 201;
        if (rejected.has(index)) history.refused_4xx++;
        else history.acked++;
      });
      return;
    }
    if (answer?.status === 503 && answer.json?.error?.details?.stored) {
      const stored = new Set<number>(answer.json.error.details.stored as number[]);
      pending.forEach((event, index) => {
        if (stored.has(index)) {
          event.answer = 201;
          history.acked++;
        }
      });
      pending = pending.filter((_, index) => !stored.has(index));
    } else if (answer && answer.status < 500 && answer.status !== 200) {
      history.anomalies.push(`a batch was answered ${answer.status}`);
      return;
    }
    await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 4)));
  }
}

/** One client: new events (single and in batches), same-id retries of acknowledged ones, conflicting reuses, invalid events. */
async function client(): Promise<void> {
  while (loading && counter < MAX_EVENTS) {
    const roll = Math.random();
    if (roll < 0.06) {
      // Invalid (action not allowed): must be answered 400 and leave nothing behind.
      const event = newEvent();
      event.body.action = "NOT AN ACTION";
      events.set(event.clientId, event);
      history.sent++;
      await deliver(event, Date.now() + 60_000);
      continue;
    }
    if (roll < 0.1) {
      // A tampered download link: answered 403 and recorded, after the first in a window as a count on one row.
      history.bad_links_sent++;
      history.requests++;
      const answer = await fetch(`${baseUrl}/d/chaos-${runId}-not-a-token-${counter}`, { signal: AbortSignal.timeout(10_000) }).catch(() => null);
      if (answer?.status === 403) history.bad_links_answered++;
      else if (answer === null) history.transport_errors++;
      else if (answer.status < 500) history.anomalies.push(`a bad link was answered ${answer.status}`);
      await answer?.body?.cancel();
      continue;
    }
    const acked = [...events.values()].filter((candidate) => candidate.answer === 201);
    if (roll < 0.24 && acked.length > 0) {
      // Same id, same content: a replay (200) that stores nothing new.
      const original = pick(acked);
      history.same_id_retries++;
      const answer = await post("/v1/events", original.body);
      if (answer?.status === 200) history.replays_answered++;
      else if (answer && answer.status < 500) history.anomalies.push(`${original.clientId}: a retry of an acknowledged event answered ${answer.status}`);
      continue;
    }
    if (roll < 0.29 && acked.length > 0) {
      // Same id, other content: must be 409 and change nothing.
      const original = pick(acked);
      const answer = await post("/v1/events", { ...original.body, bytes: (original.body.bytes as number) + 1 });
      if (answer?.status === 409) history.conflicts_answered++;
      else if (answer && answer.status < 500) history.anomalies.push(`${original.clientId}: a conflicting reuse answered ${answer.status}`);
      continue;
    }
    if (roll < 0.39) {
      const batch = Array.from({ length: 10 }, newEvent);
      for (const event of batch) events.set(event.clientId, event);
      history.sent += batch.length;
      await deliverBatch(batch, Date.now() + 60_000);
      continue;
    }
    const event = newEvent();
    events.set(event.clientId, event);
    history.sent++;
    await deliver(event, Date.now() + 60_000);
  }
}

async function launch(label: string): Promise<void> {
  const started = Date.now();
  runtime = await launchRuntime({
    stateDir,
    logFile: path.join(artifacts, `chaos-${label}.log`),
    adminKey,
    port,
    // A 3 s flush delay (250 ms in dev) keeps more acknowledged events in staging when a kill lands, and a 5 s refusal
    // window (300 s) lets counted refusal rows reach D1 before the run ends. The per-key limit (API_KEY_LIMITER, 6,000 a
    // minute) stays above the load, so only the kills disturb it. Every tampered link comes from the runner's one IP, and
    // 4 % of the senders' turns can pass the default 100 downloads an hour: the download limit is raised so they stay 403s.
    settings: { LEDGER_FLUSH_DELAY_MS: "3000", DENIAL_WINDOW_SECONDS: "5", DOWNLOAD_RATE_LIMIT: "1000" },
  });
  baseUrl = runtime.baseUrl;
  history.restarts.push({ at: new Date().toISOString(), seconds: (Date.now() - started) / 1000 });
}

/** Bad-link attempts the ledger records: its anonymous "not valid" failures, a row each plus the counts on counted rows. */
async function recordedBadLinks(): Promise<{ rows: number; recorded: number }> {
  let rows = 0;
  let recorded = 0;
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: "1000", status: "failure", action: "download", q: "This download link is not valid", ...(cursor ? { cursor } : {}) });
    const response = await fetch(`${baseUrl}/v1/events?${query}`, { headers: { authorization: `Bearer ${adminKey}` } });
    if (!response.ok) throw new Error(`listing refusals answered ${response.status}`);
    const page = (await response.json()) as { data: { key_id: string; denied_count: number | null }[]; next_cursor: string | null };
    for (const event of page.data)
      if (event.key_id === "anonymous") {
        rows++;
        recorded += event.denied_count ?? 1;
      }
    cursor = page.next_cursor;
  } while (cursor);
  return { rows, recorded };
}

/** Every event of this run as the service returns it (GET /v1/events pages), by client id. */
async function storedEvents(): Promise<Map<string, any[]>> {
  const found = new Map<string, any[]>();
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: "1000", include_duplicates: "true", ...(cursor ? { cursor } : {}) });
    const response = await fetch(`${baseUrl}/v1/events?${query}`, { headers: { authorization: `Bearer ${adminKey}` } });
    if (!response.ok) throw new Error(`listing events answered ${response.status}`);
    const page = (await response.json()) as { data: any[]; next_cursor: string | null };
    for (const event of page.data)
      if (typeof event.client_id === "string" && event.client_id.startsWith(`chaos-${runId}-`))
        found.set(event.client_id, [...(found.get(event.client_id) ?? []), event]);
    cursor = page.next_cursor;
  } while (cursor);
  return found;
}

function verify(stored: Map<string, any[]>): void {
  history.stored = [...stored.values()].reduce((sum, rows) => sum + rows.length, 0);
  history.lost = 0;
  history.duplicated = 0;
  history.content_mismatch = 0;
  history.refused_but_stored = 0;
  history.unanswered = 0;
  for (const event of events.values()) {
    const rows = stored.get(event.clientId) ?? [];
    if (event.answer === null) {
      history.unanswered++;
      if (rows.length > 1) history.duplicated += rows.length - 1;
      continue;
    }
    if (event.answer >= 400) {
      if (rows.length > 0) history.refused_but_stored++;
      continue;
    }
    if (rows.length === 0) history.lost++;
    if (rows.length > 1) history.duplicated += rows.length - 1;
    const row = rows[0];
    if (
      row &&
      (row.action !== event.body.action ||
        row.bytes !== event.body.bytes ||
        row.occurred_at !== event.body.occurred_at ||
        row.resource.id !== (event.body.resource as { id: string }).id ||
        row.actor.id !== (event.body.actor as { id: string }).id)
    )
      history.content_mismatch++;
  }
}

const stateDir = await prepareState();
const port = 20_000 + Math.floor(Math.random() * 20_000);
const started = Date.now();
await mkdir(artifacts, { recursive: true });
let failed = false;
try {
  await launch("start");
  const clients = Array.from({ length: CONCURRENCY }, () => client());
  for (let kill = 1; kill <= KILLS; kill++) {
    await sleep(PHASE_SECONDS * 1000);
    const ackedBefore = [...events.values()].filter((event) => event.answer === 201 || event.answer === 200).map((event) => event.clientId);
    const visible = await storedEvents();
    await runtime!.kill();
    history.kills++;
    history.staged_at_kill.push(ackedBefore.filter((clientId) => !visible.has(clientId)).length);
    console.log(
      `chaos: kill ${kill}/${KILLS} after ${history.sent} events sent, ${ackedBefore.length} acknowledged, ` +
        `${history.staged_at_kill.at(-1)} of them only in staging`,
    );
    await sleep(500);
    await launch(`restart-${kill}`);
  }
  await sleep(PHASE_SECONDS * 1000);
  loading = false;
  await Promise.all(clients);
  // Acknowledged events reach D1 within a flush delay after their shard's alarm; wait until all are visible.
  let stored = await storedEvents();
  for (let wait = 0; wait < 30 && [...events.values()].some((event) => (event.answer === 201 || event.answer === 200) && !stored.has(event.clientId)); wait++) {
    await sleep(1_000);
    stored = await storedEvents();
  }
  verify(stored);
  // Counted refusal rows reach D1 when their window (DENIAL_WINDOW_SECONDS, 5 s here) ends.
  let badLinks = await recordedBadLinks();
  for (let wait = 0; wait < 30 && badLinks.recorded < history.bad_links_answered; wait++) {
    await sleep(1_000);
    badLinks = await recordedBadLinks();
  }
  history.bad_links_recorded = badLinks.recorded;
  history.bad_link_rows = badLinks.rows;
  // Every 403 is recorded; an attempt whose answer a kill cut off may be recorded too, nothing beyond what was sent.
  if (history.bad_links_recorded < history.bad_links_answered || history.bad_links_recorded > history.bad_links_sent)
    history.anomalies.push(`bad links: ${history.bad_links_answered} answered 403, ${history.bad_links_sent} sent, ${history.bad_links_recorded} recorded`);
} catch (error) {
  failed = true;
  history.anomalies.push(`run failed: ${(error as Error).message.split("\n")[0]}`);
  console.error(error);
} finally {
  loading = false;
  await (runtime as LaunchedRuntime | null)?.terminate();
  await rm(stateDir, { recursive: true, force: true });
}
history.seconds = Math.round((Date.now() - started) / 100) / 10;
await writeFile(REPORT, `${JSON.stringify(history, null, 2)}\n`);
const ok =
  !failed &&
  history.kills === KILLS &&
  history.lost === 0 &&
  history.duplicated === 0 &&
  history.content_mismatch === 0 &&
  history.refused_but_stored === 0 &&
  history.anomalies.length === 0;
console.log(
  `chaos: sent ${history.sent}, acked ${history.acked}, refused (4xx) ${history.refused_4xx}, same-id retries ${history.same_id_retries} ` +
    `(replays ${history.replays_answered}, conflicts ${history.conflicts_answered}), kills ${history.kills}, ` +
    `staged at kills ${history.staged_at_kill.join("/")}, lost ${history.lost}, duplicated ${history.duplicated}, content mismatches ${history.content_mismatch}, ` +
    `4xx stored ${history.refused_but_stored}, bad links ${history.bad_links_answered} answered 403 / ${history.bad_links_recorded} recorded in ${history.bad_link_rows} rows, unanswered ${history.unanswered}; ${history.seconds} s; report ${path.relative(root, REPORT)}`,
);
for (const anomaly of history.anomalies.slice(0, 20)) console.log(`chaos: anomaly: ${anomaly}`);
process.exit(ok ? 0 : 1);
