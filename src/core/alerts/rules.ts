// Alert rules, run by the 5-minute cron over recent raw events and the daily rollups (never on the ingest path).
import { dayOf } from "../analytics/periods";
import type { Config } from "../../lib/config";
import { BYTE_BUDGET_DENIAL } from "../ledger/pipeline";
import { acquireLease, raiseState, readState, releaseLease } from "../retention/maintenance";
import { eventsQueryOf, raiseAlert, type AlertInput } from "./alerts";

const HOUR_MS = 3_600_000;
const FAILURE_WINDOW_MS = 15 * 60_000;
const BASELINE_DAYS = 28;
/** Denied events received after this instant have been looked at by the download-limit rule. */
const DENIALS_WATERMARK = "alerts_denials_through";
const LEASE_MS = 4 * 60_000;
/** Top lists in evidence hold this many entries. */
const TOP = 5;
/** Groups a rule reads from one query at most; more would mean an attack so large that the first ones already tell. */
const MAX_GROUPS = 5_000;
/** Alerts one rule raises per run at most (the largest first), so a broad event (no baseline yet, a botnet) stays readable. */
const MAX_ALERTS_PER_RULE = 20;

interface Window {
  from: number;
  to: number;
}

const windowEvidence = ({ from, to }: Window) => ({ from: new Date(from).toISOString(), to: new Date(to).toISOString() });
const isoParam = (ms: number) => new Date(ms).toISOString();

/** `action IN (…)` over the download actions, bound as one JSON parameter. */
const downloadActionsJson = (config: Config) => JSON.stringify([...config.downloadActions]);

async function topOf(db: D1Database, column: "ip_prefix" | "user_key", where: string, binds: unknown[]): Promise<{ value: string; events: number }[]> {
  const { results } = await db
    .prepare(`SELECT ${column} AS value, count(*) AS events FROM events WHERE ${where} AND ${column} IS NOT NULL GROUP BY ${column} ORDER BY events DESC LIMIT ${TOP}`)
    .bind(...binds)
    .all<{ value: string; events: number }>();
  return results;
}

/** An IP prefix or user key refused by the download limit or a byte budget since the last evaluation. */
async function downloadLimitRule(db: D1Database, window: Window): Promise<AlertInput[]> {
  const { results } = await db
    .prepare(
      `SELECT ip_prefix, user_key, count(*) AS denied, sum(CASE WHEN message = ?3 THEN 1 ELSE 0 END) AS by_bytes
       FROM events WHERE received_at > ?1 AND received_at <= ?2 AND status = 'denied'
       GROUP BY ip_prefix, user_key ORDER BY denied DESC LIMIT ${MAX_GROUPS}`,
    )
    .bind(window.from, window.to, BYTE_BUDGET_DENIAL)
    .all<{ ip_prefix: string | null; user_key: string | null; denied: number; by_bytes: number }>();
  const byPrefix = new Map<string, { denied: number; byBytes: number; users: Map<string, number> }>();
  const byUser = new Map<string, { denied: number; prefixes: Map<string, number> }>();
  for (const row of results) {
    if (row.ip_prefix) {
      const entry = byPrefix.get(row.ip_prefix) ?? { denied: 0, byBytes: 0, users: new Map() };
      entry.denied += row.denied;
      entry.byBytes += row.by_bytes;
      if (row.user_key) entry.users.set(row.user_key, (entry.users.get(row.user_key) ?? 0) + row.denied);
      byPrefix.set(row.ip_prefix, entry);
    }
    // A user key alerts on its own only when its byte budget refused it (the count limit is per IP).
    if (row.user_key && row.by_bytes > 0) {
      const entry = byUser.get(row.user_key) ?? { denied: 0, prefixes: new Map() };
      entry.denied += row.by_bytes;
      if (row.ip_prefix) entry.prefixes.set(row.ip_prefix, (entry.prefixes.get(row.ip_prefix) ?? 0) + row.by_bytes);
      byUser.set(row.user_key, entry);
    }
  }
  const top = (counts: Map<string, number>, key: string) =>
    [...counts].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([value, events]) => ({ [key]: value, denied: events }));
  // Denials are selected by receipt; for downloads the service serves, occurrence is receipt, so the link's range matches.
  const range = { from: isoParam(window.from), to: isoParam(window.to + 1) };
  const largest = <T extends { denied: number }>(entries: Map<string, T>) =>
    [...entries].sort((a, b) => b[1].denied - a[1].denied).slice(0, MAX_ALERTS_PER_RULE);
  return [
    ...largest(byPrefix).map(([prefix, entry]) => ({
      rule: "download_limit" as const,
      subject: `ip:${prefix}`,
      severity: "warning" as const,
      title: `Download limit hit from ${prefix}`,
      evidence: { window: windowEvidence(window), denied: entry.denied, denied_by_bytes: entry.byBytes, ip_prefix: prefix, top_user_keys: top(entry.users, "user_key") },
      eventsQuery: eventsQueryOf({ status: "denied", ip_prefix: prefix, ...range }),
    })),
    ...largest(byUser).map(([userKey, entry]) => ({
      rule: "download_limit" as const,
      subject: `user:${userKey}`,
      severity: "warning" as const,
      title: `Byte budget hit by user ${userKey.slice(0, 12)}…`,
      evidence: { window: windowEvidence(window), denied_by_bytes: entry.denied, user_key: userKey, top_ip_prefixes: top(entry.prefixes, "ip_prefix") },
      eventsQuery: eventsQueryOf({ status: "denied", user_key: userKey, ...range }),
    })),
  ];
}

/** A record downloaded in the last hour more than factor × its trailing 28-day hourly mean + floor (robots excluded). */
async function recordSpikeRule(db: D1Database, config: Config, window: Window): Promise<AlertInput[]> {
  const { results } = await db
    .prepare(
      `SELECT coalesce(resource_type, '') AS type, resource_id AS id, count(*) AS downloads FROM events
       WHERE occurred_at >= ?1 AND occurred_at < ?2 AND status = 'success' AND duplicate_of IS NULL AND resource_id IS NOT NULL
         AND action IN (SELECT value FROM json_each(?3)) AND coalesce(access_method, 'regular') <> 'robot'
       GROUP BY resource_type, resource_id LIMIT ${MAX_GROUPS}`,
    )
    .bind(window.from, window.to, downloadActionsJson(config))
    .all<{ type: string; id: string; downloads: number }>();
  const { spikeFactor, spikeFloor } = config.alerts;
  // Only records above the floor can alert, so the baseline is read for those alone.
  const candidates = results.filter((entry) => entry.downloads > spikeFloor);
  if (candidates.length === 0) return [];
  const today = dayOf(window.to);
  const { results: baselines } = await db
    .prepare(
      `SELECT resource_type, resource_id, sum(events) AS events FROM event_rollups
       WHERE grain = 'resource' AND status = 'success' AND day >= ?1 AND day < ?2 AND action IN (SELECT value FROM json_each(?3))
         AND access_method <> 'robot' AND resource_id IN (SELECT value FROM json_each(?4))
       GROUP BY resource_type, resource_id`,
    )
    .bind(today - BASELINE_DAYS, today, downloadActionsJson(config), JSON.stringify(candidates.map((entry) => entry.id)))
    .all<{ resource_type: string; resource_id: string; events: number }>();
  const baselineOf = new Map(baselines.map((row) => [`${row.resource_type}:${row.resource_id}`, row.events]));
  const spikes = candidates
    .map((entry) => {
      const hourlyMean = (baselineOf.get(`${entry.type}:${entry.id}`) ?? 0) / (BASELINE_DAYS * 24);
      return { ...entry, hourlyMean, threshold: spikeFactor * hourlyMean + spikeFloor };
    })
    .filter((entry) => entry.downloads > entry.threshold)
    .sort((a, b) => b.downloads - a.downloads)
    .slice(0, MAX_ALERTS_PER_RULE);
  const alerts: AlertInput[] = [];
  for (const { hourlyMean, threshold, ...entry } of spikes) {
    const where =
      "occurred_at >= ?1 AND occurred_at < ?2 AND status = 'success' AND duplicate_of IS NULL AND resource_id = ?3 AND coalesce(resource_type, '') = ?4 AND coalesce(access_method, 'regular') <> 'robot'";
    const binds = [window.from, window.to, entry.id, entry.type];
    const [prefixes, users] = await Promise.all([topOf(db, "ip_prefix", where, binds), topOf(db, "user_key", where, binds)]);
    alerts.push({
      rule: "record_spike",
      subject: `record:${entry.type}:${entry.id}`,
      severity: "warning",
      title: `Unusual downloads of ${entry.type} ${entry.id}: ${entry.downloads} in the last hour`,
      evidence: {
        window: windowEvidence(window),
        downloads: entry.downloads,
        baseline_hourly_mean: Math.round(hourlyMean * 1000) / 1000,
        baseline_days: BASELINE_DAYS,
        threshold: Math.round(threshold * 1000) / 1000,
        factor: spikeFactor,
        floor: spikeFloor,
        top_ip_prefixes: prefixes.map(({ value, events }) => ({ ip_prefix: value, downloads: events })),
        top_user_keys: users.map(({ value, events }) => ({ user_key: value, downloads: events })),
      },
      eventsQuery: eventsQueryOf({ resource_type: entry.type || undefined, resource_id: entry.id, status: "success", from: isoParam(window.from), to: isoParam(window.to) }),
    });
  }
  return alerts;
}

/** A user key that downloaded more than N distinct records in the last hour: someone mirroring the archive. */
async function mirroringRule(db: D1Database, config: Config, window: Window): Promise<AlertInput[]> {
  const { results } = await db
    .prepare(
      `SELECT user_key, count(DISTINCT coalesce(resource_type, '') || ':' || resource_id) AS records, count(*) AS downloads,
         sum(coalesce(bytes, 0)) AS bytes
       FROM events WHERE occurred_at >= ?1 AND occurred_at < ?2 AND status = 'success' AND user_key IS NOT NULL
         AND resource_id IS NOT NULL AND action IN (SELECT value FROM json_each(?3))
       GROUP BY user_key HAVING records > ?4 ORDER BY records DESC LIMIT ${MAX_ALERTS_PER_RULE}`,
    )
    .bind(window.from, window.to, downloadActionsJson(config), config.alerts.mirrorRecords)
    .all<{ user_key: string; records: number; downloads: number; bytes: number }>();
  return Promise.all(
    results.map(async (row) => {
      const prefixes = await topOf(db, "ip_prefix", "occurred_at >= ?1 AND occurred_at < ?2 AND status = 'success' AND user_key = ?3", [window.from, window.to, row.user_key]);
      return {
        rule: "mirroring" as const,
        subject: `user:${row.user_key}`,
        severity: "critical" as const,
        title: `Possible mirroring: user ${row.user_key.slice(0, 12)}… fetched ${row.records} records in an hour`,
        evidence: {
          window: windowEvidence(window),
          distinct_records: row.records,
          downloads: row.downloads,
          bytes: row.bytes,
          limit: config.alerts.mirrorRecords,
          user_key: row.user_key,
          top_ip_prefixes: prefixes.map(({ value, events }) => ({ ip_prefix: value, downloads: events })),
        },
        eventsQuery: eventsQueryOf({ user_key: row.user_key, status: "success", from: isoParam(window.from), to: isoParam(window.to) }),
      };
    }),
  );
}

/** A sudden share of failed downloads (broken storage): at least the configured share of enough attempts in 15 minutes. */
async function failureShareRule(db: D1Database, config: Config, window: Window): Promise<AlertInput[]> {
  const where = "occurred_at >= ?1 AND occurred_at < ?2 AND duplicate_of IS NULL AND action IN (SELECT value FROM json_each(?3))";
  const binds = [window.from, window.to, downloadActionsJson(config)];
  const totals = await db
    .prepare(`SELECT count(*) AS attempts, coalesce(sum(CASE WHEN status = 'failure' THEN 1 ELSE 0 END), 0) AS failures FROM events WHERE ${where} AND status IN ('success', 'failure')`)
    .bind(...binds)
    .first<{ attempts: number; failures: number }>();
  const { attempts, failures } = totals ?? { attempts: 0, failures: 0 };
  const { failureMinEvents, failureShare } = config.alerts;
  if (attempts < failureMinEvents || failures / attempts < failureShare) return [];
  const [messages, prefixes] = await Promise.all([
    db
      .prepare(`SELECT coalesce(message, '') AS message, count(*) AS events FROM events WHERE ${where} AND status = 'failure' GROUP BY message ORDER BY events DESC LIMIT ${TOP}`)
      .bind(...binds)
      .all<{ message: string; events: number }>(),
    topOf(db, "ip_prefix", `${where} AND status = 'failure'`, binds),
  ]);
  return [
    {
      rule: "failure_share",
      subject: "downloads",
      severity: "critical",
      title: `${Math.round((failures / attempts) * 100)}% of downloads failed in the last 15 minutes`,
      evidence: {
        window: windowEvidence(window),
        attempts,
        failures,
        share: Math.round((failures / attempts) * 1000) / 1000,
        threshold: failureShare,
        top_messages: messages.results,
        top_ip_prefixes: prefixes.map(({ value, events }) => ({ ip_prefix: value, failures: events })),
      },
      eventsQuery: eventsQueryOf({ status: "failure", from: isoParam(window.from), to: isoParam(window.to) }),
    },
  ];
}

export interface EvaluationResult {
  skipped: boolean;
  fired: number;
  opened: number;
}

/**
 * Runs every rule once. Windows end `ALERT_SETTLE_SECONDS` ago, so events still on their way from the ledger shards
 * to D1 are judged in the next run rather than missed. Runs do not overlap (lease).
 */
export async function evaluateAlerts(env: Env, config: Config, now = Date.now()): Promise<EvaluationResult> {
  const lease = await acquireLease(env.DB, "alerts", LEASE_MS, now);
  if (!lease) return { skipped: true, fired: 0, opened: 0 };
  try {
    const until = now - config.alerts.settleSeconds * 1000;
    const deniedSince = (await readState(env.DB, DENIALS_WATERMARK)) ?? until - HOUR_MS;
    const hour = { from: until - HOUR_MS, to: until };
    const inputs = (
      await Promise.all([
        deniedSince < until ? downloadLimitRule(env.DB, { from: deniedSince, to: until }) : [],
        recordSpikeRule(env.DB, config, hour),
        mirroringRule(env.DB, config, hour),
        failureShareRule(env.DB, config, { from: until - FAILURE_WINDOW_MS, to: until }),
      ])
    ).flat();
    let opened = 0;
    for (const input of inputs) if ((await raiseAlert(env, config, input, now)).opened) opened++;
    await raiseState(env.DB, DENIALS_WATERMARK, until);
    return { skipped: false, fired: inputs.length, opened };
  } finally {
    await releaseLease(env.DB, lease);
  }
}
