// Shared state of maintenance jobs: named values (the rollup watermark) and leases that keep runs of a job from overlapping.
import { uuidv7 } from "../../lib/crypto";

export async function readState(db: D1Database, name: string): Promise<number | null> {
  const row = await db.prepare("SELECT value FROM maintenance_state WHERE name = ?1").bind(name).first<{ value: number }>();
  return row?.value ?? null;
}

/** Raises a state value; a smaller value (from a slower, older run) never lowers it. */
export async function raiseState(db: D1Database, name: string, value: number): Promise<void> {
  await db
    .prepare(
      `INSERT INTO maintenance_state (name, value) VALUES (?1, ?2)
       ON CONFLICT(name) DO UPDATE SET value = max(maintenance_state.value, excluded.value)`,
    )
    .bind(name, value)
    .run();
}

export interface Lease {
  job: string;
  holder: string;
}

/**
 * Takes the job's lease for `ttlMs` unless another holder has an unexpired one. Leases only save duplicate work: every
 * job stays correct when two runs overlap anyway (a lease can expire under a run that is still going).
 */
export async function acquireLease(db: D1Database, job: string, ttlMs: number, now = Date.now()): Promise<Lease | null> {
  const holder = uuidv7(now);
  const row = await db
    .prepare(
      `INSERT INTO maintenance_leases (job, holder, expires_at) VALUES (?1, ?2, ?3)
       ON CONFLICT(job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE maintenance_leases.expires_at <= ?4
       RETURNING holder`,
    )
    .bind(job, holder, now + ttlMs, now)
    .first<{ holder: string }>();
  return row?.holder === holder ? { job, holder } : null;
}

export async function renewLease(db: D1Database, lease: Lease, ttlMs: number, now = Date.now()): Promise<void> {
  await db.prepare("UPDATE maintenance_leases SET expires_at = ?3 WHERE job = ?1 AND holder = ?2").bind(lease.job, lease.holder, now + ttlMs).run();
}

export async function releaseLease(db: D1Database, lease: Lease): Promise<void> {
  await db.prepare("DELETE FROM maintenance_leases WHERE job = ?1 AND holder = ?2").bind(lease.job, lease.holder).run();
}
