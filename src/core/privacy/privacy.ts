// Data-subject requests (GDPR Art. 15/17, POPIA s23/s24): everything held about a person, and erasure of their personal
// data from every place it lives, keeping the pseudonymous keys so counts, COUNTER figures and seals stay as they were.
import { eq, inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { eventIdsOfActorsSql, storedActorKeySql } from "../../db/event-storage";
import { actors, events } from "../../db/ledger-schema";
import type { Config } from "../../lib/config";
import { uuidv7 } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import { openUser } from "../catalog/tokens";
import { recordAdminAction } from "../ledger/admin-audit";
import type { Event } from "../ledger/event-schema";
import { csvLines } from "../ledger/export";
import { actorKeyFor, normaliseEmail } from "../ledger/ingest";
import { allLedgerShards, ledgerStub } from "../ledger/pipeline";
import { eventSelection, toEvent } from "../ledger/query";

export type Subject = { email: string; actor_id?: undefined } | { actor_id: string; email?: undefined };

/** Subject access answers at most this many events; more is refused so that no answer is silently partial. */
export const MAX_SUBJECT_EVENTS = 10_000;

/**
 * The pseudonymous keys that stand for the person: the one their identifier hashes to, and for an e-mail those of actors
 * rows naming it (a person known by id and e-mail is keyed by the id). Every actors row naming an actor_id is keyed by
 * that id's hash, so an actor_id stands for that one key.
 */
async function subjectKeys(db: D1Database, piiKey: string, subject: Subject): Promise<string[]> {
  const computed = await actorKeyFor(piiKey, subject.email ? { email: subject.email } : { id: subject.actor_id });
  if (!subject.email) return [computed!];
  const { results } = await db.prepare("SELECT actor_key FROM actors WHERE email = ?1").bind(normaliseEmail(subject.email)).all<{ actor_key: string }>();
  return [...new Set([computed!, ...results.map((row) => row.actor_key)])];
}

export interface SubjectAccess {
  subject: { email: string | null; actor_id: string | null };
  actors: { actor_id: string | null; email: string | null; name: string | null; updated_at: string }[];
  events: Event[];
  erased_at: string | null;
}

export async function subjectAccess(db: D1Database, config: Config, subject: Subject): Promise<SubjectAccess> {
  const keys = await subjectKeys(db, config.piiKey, subject);
  const orm = drizzle(db);
  const actorRows = await orm.select().from(actors).where(inArray(actors.actorKey, keys));
  const total = await db
    .prepare(`SELECT count(*) AS n FROM events WHERE id IN ${eventIdsOfActorsSql("SELECT value AS actor_key FROM json_each(?1)")}`)
    .bind(JSON.stringify(keys))
    .first<{ n: number }>();
  if (total!.n > MAX_SUBJECT_EVENTS)
    throw new ApiError("payload_too_large", `${total!.n} events belong to this person; export them with GET /v1/events/export.csv?${subject.email ? "email" : "actor_id"}=…`);
  const rows = await orm
    .select(eventSelection)
    .from(events)
    .leftJoin(actors, eq(actors.actorKey, events.actorKey))
    .where(
      inArray(
        events.id,
        sql`(SELECT id FROM event_rows WHERE actor_key IS NOT NULL AND actor_key IN (SELECT ${sql.raw(storedActorKeySql("value"))} FROM json_each(${JSON.stringify(keys)})))`,
      ),
    )
    .orderBy(events.occurredAt, events.id);
  const erasure = await db
    .prepare("SELECT max(erased_at) AS at FROM privacy_erasures WHERE actor_key IN (SELECT value FROM json_each(?1))")
    .bind(JSON.stringify(keys))
    .first<{ at: number | null }>();
  return {
    subject: { email: subject.email ? normaliseEmail(subject.email) : null, actor_id: subject.actor_id ?? null },
    actors: actorRows.map((row) => ({ actor_id: row.actorId, email: row.email, name: row.name, updated_at: new Date(row.updatedAt).toISOString() })),
    events: rows.map(toEvent),
    erased_at: erasure?.at ? new Date(erasure.at).toISOString() : null,
  };
}

export const SUBJECT_CSV_COLUMNS = [
  "event_id", "occurred_at", "received_at", "action", "status", "resource_type", "resource_id", "doi", "title", "actor_id", "email", "name",
  "organisation", "ip_prefix", "user_agent", "bytes", "message", "meta",
] as const;

/** The subject-access answer as CSV: one line per event with the person's details. */
export function subjectAccessCsv(access: SubjectAccess): string {
  return csvLines([
    [...SUBJECT_CSV_COLUMNS],
    ...access.events.map((event) => [
      event.id, event.occurred_at, event.received_at, event.action, event.status, event.resource.type ?? "", event.resource.id ?? "",
      event.resource.doi ?? "", event.resource.title ?? "", event.actor.id ?? "", event.actor.email ?? "", event.actor.name ?? "",
      event.actor.organisation ?? "", event.client.ip ?? "", event.client.user_agent ?? "", event.bytes ?? "", event.message ?? "",
      event.meta ? JSON.stringify(event.meta) : "",
    ]),
  ]);
}

export interface ErasureResult {
  erasure_id: string;
  already_erased: boolean;
  /** What was removed, by place. */
  removed: { actors: number; bundle_links: number };
  event_id: string | null;
}

/** Bundles whose (AES-GCM sealed) requesting user is the person: their sealed user and signed link are withdrawn. */
async function bundlesOf(db: D1Database, secret: string | undefined, subject: Subject): Promise<{ id: string; job_id: string }[]> {
  if (!secret) return [];
  const { results } = await db.prepare("SELECT id, job_id, sealed_user FROM bundles WHERE sealed_user IS NOT NULL").all<{ id: string; job_id: string; sealed_user: string }>();
  const matches: { id: string; job_id: string }[] = [];
  for (const bundle of results) {
    const user = await openUser(secret, bundle.sealed_user);
    if (!user) continue;
    if (subject.email ? user.email && normaliseEmail(user.email) === normaliseEmail(subject.email) : user.id === subject.actor_id) matches.push(bundle);
  }
  return matches;
}

/**
 * Erases the person's id, email and name: the actors rows (after flushing every ledger shard, so no staged copy comes
 * back), and the sealed user and signed link of their bundles. Event rows keep their pseudonymous keys and are untouched.
 * Records `admin.privacy.erase` without the erased values. A repeat finds nothing left and answers the first erasure's id.
 */
export async function eraseSubject(env: Env, config: Config, subject: Subject, request: { reason: string; apiKeyId: string }): Promise<ErasureResult> {
  await Promise.all(allLedgerShards(config).map((shard) => ledgerStub(env, shard).flush()));
  const keys = await subjectKeys(env.DB, config.piiKey, subject);
  const bundles = await bundlesOf(env.DB, config.downloadTokenSecret, subject);
  const keysJson = JSON.stringify(keys);
  const present = await env.DB.prepare("SELECT count(*) AS n FROM actors WHERE actor_key IN (SELECT value FROM json_each(?1))").bind(keysJson).first<{ n: number }>();
  const earlier = await env.DB.prepare("SELECT id FROM privacy_erasures WHERE actor_key IN (SELECT value FROM json_each(?1)) ORDER BY erased_at LIMIT 1")
    .bind(keysJson)
    .first<{ id: string }>();
  if (present!.n === 0 && bundles.length === 0 && earlier) return { erasure_id: earlier.id, already_erased: true, removed: { actors: 0, bundle_links: 0 }, event_id: null };
  const erasureId = uuidv7();
  const now = Date.now();
  const bundleIds = JSON.stringify(bundles.map((bundle) => bundle.id));
  const jobIds = JSON.stringify(bundles.map((bundle) => bundle.job_id));
  const [removedActors] = await env.DB.batch([
    env.DB.prepare("DELETE FROM actors WHERE actor_key IN (SELECT value FROM json_each(?1))").bind(keysJson),
    env.DB.prepare("UPDATE bundles SET sealed_user = NULL WHERE id IN (SELECT value FROM json_each(?1))").bind(bundleIds),
    env.DB.prepare("UPDATE jobs SET result = NULL WHERE id IN (SELECT value FROM json_each(?1))").bind(jobIds),
    env.DB.prepare(
      `INSERT INTO privacy_erasures (actor_key, id, requested_by, reason, erased_at) SELECT value, ?2, ?3, ?4, ?5 FROM json_each(?1) WHERE true
       ON CONFLICT(actor_key) DO UPDATE SET id = excluded.id, requested_by = excluded.requested_by, reason = excluded.reason, erased_at = excluded.erased_at`,
    ).bind(keysJson, erasureId, request.apiKeyId, request.reason, now),
  ]);
  const removed = { actors: removedActors!.meta.changes ?? 0, bundle_links: bundles.length };
  const eventId = await recordAdminAction(env, config, {
    action: "privacy.erase",
    apiKeyId: request.apiKeyId,
    resource: { type: "erasure", id: erasureId },
    meta: { erasure_id: erasureId, reason: request.reason, by: subject.email ? "email" : "actor_id", removed },
  });
  return { erasure_id: erasureId, already_erased: false, removed, event_id: eventId };
}
