// Verification: recomputes sealed windows from D1 (and from R2 archives for retired rows) and checks counts, roots,
// signatures, the chain and the R2 copies of the seals. Runs inline for short ranges and as a resumable job otherwise.
import { ARCHIVE_PREFIX, archivedRows, dayOfArchiveKey } from "../retention/archive";
import { uuidv7 } from "../../lib/crypto";
import type { Config } from "../../lib/config";
import { ApiError } from "../../lib/errors";
import { canonicalBytes, compareSealOrder, sealedRowOf, type SealedRow } from "./canonical";
import { CHUNK_LEAVES, leafHash, toHex, TreeBuilder } from "./merkle";
import { leafOf, SEAL_PREFIX, sealBefore, sealKey, sealsBetween, windowRows, type StoredSeal } from "./seals";
import { GENESIS_SEAL_HASH, sealHashOf, signatureValid, trustedKeys, type TrustedKey } from "./signing";

export type ProblemKind =
  | "seal_missing"
  | "chain_broken"
  | "bad_signature"
  | "unknown_key"
  | "seal_copy_missing"
  | "seal_copy_differs"
  | "count_differs"
  | "root_differs"
  | "row_differs"
  | "archive_unreadable";

export interface Problem {
  kind: ProblemKind;
  /** The window concerned, in epoch milliseconds. */
  from: number | null;
  to: number | null;
  detail: string;
  /** Rows that differ when they can be named: single ids, or the first and last id of a 256-row chunk that differs. */
  rows?: string[];
}

const MAX_PROBLEMS = 200;
const SEALS_PER_BATCH = 100;

export interface VerificationProgress {
  windows: number;
  rows: number;
  problems: Problem[];
  /** Windows ending at or before this instant are done. */
  cursor: number;
  done: boolean;
}

interface ArchiveRef {
  key: string;
  receivedMin: number;
  receivedMax: number;
}

/** Archive objects with the receipt times they span (objects without that metadata may hold any). */
async function listArchiveRefs(bucket: R2Bucket): Promise<ArchiveRef[]> {
  const refs: ArchiveRef[] = [];
  let cursor: string | undefined;
  do {
    const listing = await bucket.list({ prefix: ARCHIVE_PREFIX, cursor, include: ["customMetadata"] });
    // The NDJSON archives are the record; their Parquet copies (archive/events/date=…) hold the same rows.
    for (const object of listing.objects.filter((entry) => dayOfArchiveKey(entry.key) !== undefined)) {
      const min = Number(object.customMetadata?.received_min ?? -Infinity);
      const max = Number(object.customMetadata?.received_max ?? Infinity);
      refs.push({ key: object.key, receivedMin: Number.isFinite(min) ? min : -Infinity, receivedMax: Number.isFinite(max) ? max : Infinity });
    }
    cursor = listing.truncated ? listing.cursor : undefined;
  } while (cursor);
  return refs;
}

interface Leaf {
  received_at: number;
  id: string;
  leaf: Uint8Array;
}

interface Recomputed {
  size: number;
  root: string;
  /** First and last id of the first complete chunk whose root differs from the seal's, if any. */
  differingChunk: string[] | null;
}

/** Builds the tree of an ordered leaf stream, comparing each complete chunk with the seal's stored chunk roots. */
async function recompute(leaves: AsyncIterable<Leaf> | Iterable<Leaf>, seal: StoredSeal): Promise<Recomputed> {
  const tree = new TreeBuilder();
  let differingChunk: string[] | null = null;
  let chunkFirst = "";
  let lastId = "";
  for await (const { id, leaf } of leaves) {
    if (tree.size % CHUNK_LEAVES === 0) chunkFirst = id;
    tree.push(leaf);
    lastId = id;
    if (differingChunk === null && tree.size % CHUNK_LEAVES === 0) {
      const index = tree.size / CHUNK_LEAVES - 1;
      if (toHex(tree.chunkRoots[index]!) !== seal.chunkRoots.slice(index * 64, index * 64 + 64)) differingChunk = [chunkFirst, id];
    }
  }
  if (differingChunk === null && tree.size % CHUNK_LEAVES !== 0 && tree.size > 0) differingChunk = [chunkFirst, lastId];
  return { size: tree.size, root: toHex(tree.root()), differingChunk };
}

async function* d1Leaves(db: D1Database, seal: StoredSeal): AsyncGenerator<Leaf> {
  for await (const rows of windowRows(db, seal.from, seal.to))
    for (const row of rows) yield { received_at: Number(row.received_at), id: String(row.id), leaf: leafOf(row, seal.version) };
}

/**
 * The window's leaves from D1 and from the archives that may hold retired rows of it, each id once, in seal order. A row
 * present in both with different contents is reported (it was edited in one of the two places).
 */
async function mergedLeaves(env: Env, seal: StoredSeal, archives: ArchiveRef[], problems: Problem[]): Promise<Leaf[]> {
  const byId = new Map<string, Leaf>();
  for await (const leaf of d1Leaves(env.DB, seal)) byId.set(leaf.id, leaf);
  for (const ref of archives) {
    if (ref.receivedMax < seal.from || ref.receivedMin >= seal.to) continue;
    const object = await env.BUCKET.get(ref.key);
    if (!object) continue;
    try {
      for await (const row of archivedRows(object.body)) {
        if (row.received_at < seal.from || row.received_at >= seal.to) continue;
        const sealed: SealedRow = sealedRowOf(row as unknown as Record<string, unknown>);
        const leaf = leafHash(canonicalBytes(sealed, 0, seal.version));
        const known = byId.get(row.id);
        if (known && toHex(known.leaf) !== toHex(leaf))
          problems.push({ kind: "row_differs", from: seal.from, to: seal.to, detail: `${row.id} differs between D1 and ${ref.key}`, rows: [row.id] });
        if (!known) byId.set(row.id, { received_at: row.received_at, id: row.id, leaf });
      }
    } catch (error) {
      problems.push({ kind: "archive_unreadable", from: seal.from, to: seal.to, detail: `${ref.key}: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  return [...byId.values()].sort(compareSealOrder);
}

/** Checks one window's rows against its seal; returns how many rows were read. */
async function verifyWindow(env: Env, seal: StoredSeal, archives: ArchiveRef[] | null, problems: Problem[]): Promise<number> {
  let result = await recompute(d1Leaves(env.DB, seal), seal);
  if (result.size === seal.tree_size && result.root === seal.root) return result.size;
  // Not all of the window is in D1 (retired rows live in archives), or something was changed: look at both.
  if (archives && archives.length > 0) {
    const merged = await mergedLeaves(env, seal, archives, problems);
    result = await recompute(merged, seal);
    if (result.size === seal.tree_size && result.root === seal.root) return result.size;
  }
  const rows = result.differingChunk ?? undefined;
  if (result.size !== seal.tree_size)
    problems.push({ kind: "count_differs", from: seal.from, to: seal.to, detail: `sealed ${seal.tree_size} rows, found ${result.size}`, rows });
  else problems.push({ kind: "root_differs", from: seal.from, to: seal.to, detail: `sealed root ${seal.root}, recomputed ${result.root}`, rows });
  return result.size;
}

/** Signature, key and hash of a seal, and its link to the seal before it. */
async function verifySeal(seal: StoredSeal, previous: StoredSeal | null, keys: Map<string, TrustedKey>, problems: Problem[]): Promise<void> {
  const at = { from: seal.from, to: seal.to };
  const expectedFrom = previous?.to ?? 0;
  if (seal.from > expectedFrom)
    problems.push({ kind: "seal_missing", ...at, detail: `no seal covers [${expectedFrom}, ${seal.from}): the chain skips it` });
  const previousHash = previous ? await sealHashOf(previous) : GENESIS_SEAL_HASH;
  if (seal.previous_seal_hash !== previousHash || seal.from !== expectedFrom)
    problems.push({ kind: "chain_broken", ...at, detail: `previous_seal_hash ${seal.previous_seal_hash} does not match the seal before it (${previousHash})` });
  const key = keys.get(seal.key_id);
  if (!key) problems.push({ kind: "unknown_key", ...at, detail: `signed with key ${seal.key_id}, which is not a trusted seal key` });
  else if (!(await signatureValid(seal, key.jwk)) || (await sealHashOf(seal)) !== seal.seal_hash)
    problems.push({ kind: "bad_signature", ...at, detail: `the signature by ${seal.key_id} does not match the seal's contents` });
}

/**
 * Compares the D1 seals with their R2 copies whose `to` lies in (from, to], and finds R2 seals missing from D1. Keys sort
 * by day, then by `to` (13 digits until the year 2286), so one listing from `from` on covers the range in order.
 */
async function verifyCopies(bucket: R2Bucket, seals: StoredSeal[], from: number, to: number, problems: Problem[]): Promise<void> {
  const byKey = new Map(seals.map((seal) => [sealKey(seal.to), seal]));
  const seen = new Set<string>();
  const last = sealKey(to);
  let cursor: string | undefined;
  listing: do {
    const listing = await bucket.list({ prefix: SEAL_PREFIX, include: ["customMetadata"], ...(cursor ? { cursor } : { startAfter: sealKey(from) }) });
    for (const object of listing.objects) {
      if (object.key > last) break listing;
      const sealTo = Number(/\/(\d+)\.json$/.exec(object.key)?.[1]);
      if (!(sealTo > from && sealTo <= to)) continue;
      seen.add(object.key);
      const seal = byKey.get(object.key);
      if (!seal) problems.push({ kind: "seal_missing", from: Number(object.customMetadata?.from ?? NaN), to: sealTo, detail: `${object.key} exists in R2 but not in D1` });
      else if (object.customMetadata?.seal_hash !== (await sealHashOf(seal)) || object.customMetadata?.signature !== seal.signature)
        problems.push({ kind: "seal_copy_differs", from: seal.from, to: seal.to, detail: `${object.key} differs from the seal in D1` });
    }
    cursor = listing.truncated ? listing.cursor : undefined;
  } while (cursor);
  for (const [key, seal] of byKey) if (!seen.has(key)) problems.push({ kind: "seal_copy_missing", from: seal.from, to: seal.to, detail: `${key} is missing from R2` });
}

/**
 * Verifies the windows that end in (cursor, to] and start before `to`, batch by batch, until done or `budgetMs` is spent.
 * Each batch checks seals (signatures, chain), their R2 copies and every window's rows.
 */
export async function verifyRange(
  env: Env,
  config: Config,
  range: { from: number; to: number; cursor?: number },
  options: { budgetMs?: number; now?: number } = {},
): Promise<VerificationProgress> {
  const started = Date.now();
  const keys = new Map((await trustedKeys(config.sealSigningKey, config.sealRetiredPublicKeys)).map((key) => [key.key_id, key]));
  const progress: VerificationProgress = { windows: 0, rows: 0, problems: [], cursor: range.cursor ?? range.from, done: false };
  let archives: ArchiveRef[] | null = null;
  for (;;) {
    const seals = await sealsBetween(env.DB, progress.cursor, range.to, SEALS_PER_BATCH);
    const last = seals.length < SEALS_PER_BATCH;
    const copiesTo = last ? Math.min(range.to, options.now ?? Date.now()) : seals.at(-1)!.to;
    let previous = seals.length > 0 ? await sealBefore(env.DB, seals[0]!.from) : null;
    const copiesFrom = Math.max(progress.cursor, previous ? previous.to : seals.length > 0 ? seals[0]!.to - 1 : progress.cursor);
    if (seals.length > 0 || last) await verifyCopies(env.BUCKET, seals, copiesFrom, copiesTo, progress.problems);
    let stopped = false;
    for (const seal of seals) {
      await verifySeal(seal, previous, keys, progress.problems);
      archives ??= await listArchiveRefs(env.BUCKET);
      progress.rows += await verifyWindow(env, seal, archives, progress.problems);
      progress.windows++;
      progress.cursor = seal.to;
      previous = seal;
      if (Date.now() - started > (options.budgetMs ?? 20_000)) {
        stopped = true;
        break;
      }
    }
    if (stopped) return progress;
    if (last) {
      progress.cursor = Math.max(progress.cursor, range.to);
      progress.done = true;
    }
    if (progress.problems.length > MAX_PROBLEMS) progress.problems.length = MAX_PROBLEMS;
    if (progress.done || Date.now() - started > (options.budgetMs ?? 20_000)) return progress;
  }
}

export interface Verification {
  id: string;
  from: string;
  to: string;
  requested_by: string;
  status: "pending" | "done";
  windows: number;
  rows: number;
  ok: boolean | null;
  problems: Problem[];
  created_at: string;
  finished_at: string | null;
}

interface VerificationRecord {
  id: string;
  from_ms: number;
  to_ms: number;
  requested_by: string;
  status: "pending" | "done";
  cursor_ms: number;
  windows: number;
  rows: number;
  ok: number | null;
  problems: string;
  created_at: number;
  finished_at: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

function toVerification(record: VerificationRecord): Verification {
  return {
    id: record.id,
    from: iso(record.from_ms),
    to: iso(record.to_ms),
    requested_by: record.requested_by,
    status: record.status,
    windows: record.windows,
    rows: record.rows,
    ok: record.ok === null ? null : record.ok === 1,
    problems: JSON.parse(record.problems) as Problem[],
    created_at: iso(record.created_at),
    finished_at: record.finished_at === null ? null : iso(record.finished_at),
  };
}

export async function getVerification(db: D1Database, id: string): Promise<Verification> {
  const record = await db.prepare("SELECT * FROM integrity_verifications WHERE id = ?1").bind(id).first<VerificationRecord>();
  if (!record) throw new ApiError("not_found", `No verification ${id}`);
  return toVerification(record);
}

export async function latestVerification(db: D1Database): Promise<Verification | null> {
  const record = await db.prepare("SELECT * FROM integrity_verifications ORDER BY created_at DESC, id DESC LIMIT 1").first<VerificationRecord>();
  return record ? toVerification(record) : null;
}

/** Sealed rows in windows overlapping [from, to): decides whether a verification runs inline or as a job. */
async function sealedRowsBetween(db: D1Database, from: number, to: number): Promise<number> {
  const row = await db.prepare("SELECT coalesce(sum(tree_size), 0) AS n FROM integrity_seals WHERE to_ms > ?1 AND from_ms < ?2").bind(from, to).first<{ n: number }>();
  return row?.n ?? 0;
}

/**
 * Records a verification of [from, to) and runs it to the end now when it is small. A larger one is left pending for
 * `continueVerification` (the caller's waitUntil, then the quarter-hour cron, a budget at a time).
 */
export async function startVerification(env: Env, config: Config, range: { from: number; to: number; requestedBy: string }): Promise<Verification> {
  const id = uuidv7();
  const now = Date.now();
  await env.DB.prepare(
    `INSERT INTO integrity_verifications (id, from_ms, to_ms, requested_by, status, cursor_ms, windows, rows, ok, problems, created_at, finished_at)
     VALUES (?1, ?2, ?3, ?4, 'pending', ?2, 0, 0, NULL, '[]', ?5, NULL)`,
  )
    .bind(id, range.from, range.to, range.requestedBy, now)
    .run();
  if ((await sealedRowsBetween(env.DB, range.from, range.to)) <= config.verifyInlineRows) await continueVerification(env, config, id, Infinity);
  return getVerification(env.DB, id);
}

/** Carries a pending verification on for about `budgetMs` (whole windows) and records its progress. */
export async function continueVerification(env: Env, config: Config, id: string, budgetMs = 20_000): Promise<void> {
  const record = await env.DB.prepare("SELECT * FROM integrity_verifications WHERE id = ?1").bind(id).first<VerificationRecord>();
  if (!record || record.status === "done") return;
  const progress = await verifyRange(env, config, { from: record.from_ms, to: record.to_ms, cursor: record.cursor_ms }, { budgetMs });
  const problems = [...(JSON.parse(record.problems) as Problem[]), ...progress.problems].slice(0, MAX_PROBLEMS);
  await env.DB.prepare(
    `UPDATE integrity_verifications SET status = ?2, cursor_ms = ?3, windows = windows + ?4, rows = rows + ?5, problems = ?6, ok = ?7, finished_at = ?8
     WHERE id = ?1 AND cursor_ms = ?9`,
  )
    .bind(
      id,
      progress.done ? "done" : "pending",
      progress.cursor,
      progress.windows,
      progress.rows,
      JSON.stringify(problems),
      progress.done ? (problems.length === 0 ? 1 : 0) : null,
      progress.done ? Date.now() : null,
      record.cursor_ms,
    )
    .run();
}

/** The quarter-hour cron's share: carries on every pending verification, oldest first. */
export async function continuePendingVerifications(env: Env, config: Config): Promise<number> {
  const { results } = await env.DB.prepare("SELECT id FROM integrity_verifications WHERE status = 'pending' ORDER BY created_at LIMIT 10").all<{ id: string }>();
  for (const { id } of results) await continueVerification(env, config, id);
  return results.length;
}

/** The daily cron's check of the last 7 days; its outcome is the latest verification shown on the dashboard. */
export async function verifyRecentDays(env: Env, config: Config, now = Date.now()): Promise<Verification> {
  const result = await startVerification(env, config, { from: now - 7 * 86_400_000, to: now, requestedBy: "cron" });
  if (result.status === "pending") await continueVerification(env, config, result.id, 10 * 60_000);
  return getVerification(env.DB, result.id);
}

