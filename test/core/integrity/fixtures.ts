// Shared setup of the integrity tests: a clean ledger and R2, rows at chosen receipt times, sealing and verifying.
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { sealPending } from "../../../src/core/integrity/seals";
import { verifyRange } from "../../../src/core/integrity/verify";
import { getConfig } from "../../../src/lib/config";
import { seedRows, type SeedRow } from "../../stats-fixtures";

/** A second Ed25519 key (not trusted by the service), to forge signatures with. */
export const OTHER_KEY = '{"crv":"Ed25519","d":"u5HH3-50vsKfL16-Z8QsmLYHho7ImufOE_sULO0SEHA","x":"TcsP-OnwBkbocMADNax4SQwZy4gxW_s0rr-1sQuxMfU","kty":"OKP","kid":"test-other"}';

export const config = () => getConfig(env);
export const MARGIN = () => config().sealMarginMs;

export async function clearAll(): Promise<void> {
  await env.DB.batch(
    ["events", "actors", "event_rollups", "rollup_days", "maintenance_state", "maintenance_leases", "integrity_seals", "integrity_verifications", "privacy_erasures", "bundles", "jobs"].map((table) =>
      env.DB.prepare(`DELETE FROM ${table}`),
    ),
  );
  for (const prefix of ["seals/", "archive/"]) {
    const listing = await env.BUCKET.list({ prefix });
    if (listing.objects.length > 0) await env.BUCKET.delete(listing.objects.map((object) => object.key));
  }
}

/** Rows with ids `<prefix>-<n>`, received at the given instants (occurred at the same instant unless `occurredAt` says). */
export async function rowsAt(prefix: string, receivedAts: number[], occurredAt?: number): Promise<void> {
  const rows: SeedRow[] = receivedAts.map((receivedAt, index) => ({
    input: {
      id: `${prefix}-${index}`,
      action: "download",
      occurred_at: new Date(occurredAt ?? receivedAt).toISOString(),
      resource: { type: "dataset", id: `ds-${index % 3}`, doi: "10.1234/ds", title: "Ocean temperatures" },
      actor: { id: `user-${index % 2}`, email: `user${index % 2}@example.org`, name: `User ${index % 2}`, organisation: "Lab" },
      client: { ip: "203.0.113.9", user_agent: "test" },
      bytes: 100 + index,
    },
    receivedAt,
  }));
  await seedRows(rows);
}

/** Seals everything received before `until` (the run's now is `until` plus the margin). */
export const sealUntil = (until: number) => sealPending(env, config(), { now: until + MARGIN() });

export async function problems(from = 0, to = Date.now() + 86_400_000): Promise<string[]> {
  const progress = await verifyRange(env, config(), { from, to });
  expect(progress.done).toBe(true);
  return progress.problems.map((problem) => problem.kind);
}

export async function verification(from = 0, to = Date.now() + 86_400_000) {
  return verifyRange(env, config(), { from, to });
}

