// Sealing: consecutive receipt-time windows of the ledger, each a signed RFC 9162 tree head chained to the previous seal,
// stored in D1 (integrity_seals) and R2 (seals/YYYY/MM/DD/<to>.json). Runs after the fact; ingest never waits for it.
import { jsonPage } from "../../db/json-pages";
import { preparedWithinLimits } from "../../db/limits";
import type { Config } from "../../lib/config";
import { ApiError } from "../../lib/errors";
import { acquireLease, raiseState, readState, releaseLease } from "../retention/maintenance";
import { canonicalBytes, ENCODING_VERSION, SEALED_COLUMNS, type SealedRow } from "./canonical";
import { prefixedLeafHash, toHex, TreeBuilder } from "./merkle";
import { GENESIS_SEAL_HASH, signingKeyOf, signStatement, type SignedSeal } from "./signing";

export const SEAL_PREFIX = "seals/";
/**
 * Receipt times below this are sealed or being sealed. The ledger's D1 insert lifts a later-arriving row's `received_at`
 * to at least this value (src/core/ledger/ingest.ts), so a flush delayed past the margin lands in the next window.
 */
export const SEALING_WATERMARK = "integrity.sealing_to";
const LEASE_MS = 10 * 60_000;
const PAGE_ROWS = 5_000;

/** R2 key of a seal: the UTC day of its `to`, then `to` in epoch milliseconds. */
export function sealKey(to: number): string {
  const day = new Date(to).toISOString().slice(0, 10).replace(/-/g, "/");
  return `${SEAL_PREFIX}${day}/${to}.json`;
}

interface SealRecord {
  seq: number;
  version: number;
  from_ms: number;
  to_ms: number;
  tree_size: number;
  root: string;
  previous_seal_hash: string;
  sealed_at: number;
  key_id: string;
  signature: string;
  seal_hash: string;
  chunk_roots: string;
}

export interface StoredSeal extends SignedSeal {
  seq: number;
  /** Hex roots of the window's complete 256-leaf chunks, concatenated. */
  chunkRoots: string;
}

const SEAL_COLUMNS = "seq, version, from_ms, to_ms, tree_size, root, previous_seal_hash, sealed_at, key_id, signature, seal_hash, chunk_roots";

function fromRecord(record: SealRecord): StoredSeal {
  return {
    seq: record.seq,
    version: record.version,
    from: record.from_ms,
    to: record.to_ms,
    tree_size: record.tree_size,
    root: record.root,
    previous_seal_hash: record.previous_seal_hash,
    sealed_at: record.sealed_at,
    key_id: record.key_id,
    signature: record.signature,
    seal_hash: record.seal_hash,
    chunkRoots: record.chunk_roots,
  };
}

/** The published form of a seal (API, R2 file): no storage details. */
export function publishedSeal(seal: StoredSeal): SignedSeal {
  const { version, from, to, tree_size, root, previous_seal_hash, sealed_at, key_id, signature, seal_hash } = seal;
  return { version, from, to, tree_size, root, previous_seal_hash, sealed_at, key_id, signature, seal_hash };
}

export async function latestSeal(db: D1Database): Promise<StoredSeal | null> {
  const record = await db.prepare(`SELECT ${SEAL_COLUMNS} FROM integrity_seals ORDER BY seq DESC LIMIT 1`).first<SealRecord>();
  return record ? fromRecord(record) : null;
}

/** Receipt times before this are sealed; null before the first seal. */
export async function sealedThrough(db: D1Database): Promise<number | null> {
  const row = await db.prepare("SELECT max(to_ms) AS sealed_to FROM integrity_seals").first<{ sealed_to: number | null }>();
  return row?.sealed_to ?? null;
}

/** The seal whose window holds receipt time `at`. */
export async function sealCovering(db: D1Database, at: number): Promise<StoredSeal | null> {
  const record = await db
    .prepare(`SELECT ${SEAL_COLUMNS} FROM integrity_seals WHERE from_ms <= ?1 ORDER BY from_ms DESC LIMIT 1`)
    .bind(at)
    .first<SealRecord>();
  return record && record.to_ms > at ? fromRecord(record) : null;
}

/** Seals whose windows end after `from` and start before `to`, in chain order, at most `limit`. */
export async function sealsBetween(db: D1Database, from: number, to: number, limit: number): Promise<StoredSeal[]> {
  const { results } = await db
    .prepare(`SELECT ${SEAL_COLUMNS} FROM integrity_seals WHERE to_ms > ?1 AND from_ms < ?2 ORDER BY to_ms LIMIT ?3`)
    .bind(from, to, limit)
    .all<SealRecord>();
  return results.map(fromRecord);
}

/** The seal right before the window starting at `from` (by position in time), or null for the first one. */
export async function sealBefore(db: D1Database, from: number): Promise<StoredSeal | null> {
  const record = await db
    .prepare(`SELECT ${SEAL_COLUMNS} FROM integrity_seals WHERE to_ms <= ?1 ORDER BY to_ms DESC LIMIT 1`)
    .bind(from)
    .first<SealRecord>();
  return record ? fromRecord(record) : null;
}

/**
 * The window's ledger rows (sealed columns) in (received_at, id) order, a keyset page (one JSON cell) at a time. The
 * row-value bound is the index's start, so each page seeks instead of rescanning the window (ids are never empty).
 */
export async function* windowRows(db: D1Database, from: number, to: number): AsyncGenerator<SealedRow[]> {
  let after: [number, string] = [from, ""];
  for (;;) {
    const page = await jsonPage(
      db,
      `SELECT ${SEALED_COLUMNS.join(", ")} FROM events
       WHERE (received_at, id) > (?, ?) AND received_at < ? ORDER BY received_at, id LIMIT ?`,
      [after[0], after[1], to, PAGE_ROWS],
      SEALED_COLUMNS,
      ["received_at", "id"],
    );
    if (page.length === 0) return;
    const rows = page.map((values) => Object.fromEntries(SEALED_COLUMNS.map((column, index) => [column, values[index] ?? null])) as SealedRow);
    yield rows;
    const last = rows.at(-1)!;
    after = [Number(last.received_at), String(last.id)];
  }
}

/** Rows an NDJSON export of sealed rows may hold: it is built in memory. */
const MAX_EXPORT_ROWS = 100_000;

/** The complete sealed rows received in [from, to), one JSON object per line, in seal order (for the offline verifier). */
export async function sealedRowsNdjson(db: D1Database, from: number, to: number): Promise<string> {
  const count = await db.prepare("SELECT count(*) AS n FROM events WHERE received_at >= ?1 AND received_at < ?2").bind(from, to).first<{ n: number }>();
  if (count!.n > MAX_EXPORT_ROWS) throw new ApiError("payload_too_large", `${count!.n} rows; ask for at most ${MAX_EXPORT_ROWS} (fewer windows)`);
  const lines: string[] = [];
  for await (const rows of windowRows(db, from, to)) for (const row of rows) lines.push(`${JSON.stringify(row)}\n`);
  return lines.join("");
}

/** The leaf hash of a row under an encoding version: SHA-256(0x00 ‖ canonical bytes), encoded after the prefix byte. */
export const leafOf = (row: SealedRow, version = ENCODING_VERSION) => prefixedLeafHash(canonicalBytes(row, 1, version));

/** The end of the next window: `target`, or earlier when more than `maxRows` rows were received in [from, target). */
async function windowEnd(db: D1Database, from: number, target: number, maxRows: number): Promise<number> {
  const cut = await db
    .prepare("SELECT received_at FROM events WHERE received_at >= ?1 AND received_at < ?2 ORDER BY received_at LIMIT 1 OFFSET ?3")
    .bind(from, target, maxRows)
    .first<{ received_at: number }>();
  if (!cut) return target;
  return Math.max(cut.received_at, from + 1);
}

export interface SealRunResult {
  sealed: SignedSeal[];
  /** Receipt times before this are sealed. */
  sealed_to: number | null;
}

/**
 * Seals every window from the last seal's `to` up to now − margin (each at most SEAL_MAX_WINDOW_ROWS rows), until
 * `budgetMs` is spent. The first window starts at 0. Refuses with 409 while another run holds the lease.
 */
export async function sealPending(env: Env, config: Config, options: { now?: number; budgetMs?: number } = {}): Promise<SealRunResult> {
  const key = await signingKeyOf(config.sealSigningKey);
  const started = Date.now();
  const now = options.now ?? started;
  const lease = await acquireLease(env.DB, "integrity-seal", LEASE_MS, started);
  if (!lease) throw new ApiError("conflict", "Another sealing run is in progress");
  const sealed: SignedSeal[] = [];
  let last = await latestSeal(env.DB);
  try {
    if (last) await ensureR2Copy(env.BUCKET, last);
    // A run that died after claiming a window left the watermark ahead of the last seal: seal at least up to it.
    const target = Math.max(now - config.sealMarginMs, (await readState(env.DB, SEALING_WATERMARK)) ?? 0);
    while ((last?.to ?? 0) < target && Date.now() - started < (options.budgetMs ?? 10 * 60_000)) {
      const from = last?.to ?? 0;
      const to = await windowEnd(env.DB, from, target, config.sealMaxWindowRows);
      // Claim before reading: from here on a row reaching D1 gets received_at >= to, so none can slip in behind the read.
      await raiseState(env.DB, SEALING_WATERMARK, to);
      const tree = new TreeBuilder();
      for await (const rows of windowRows(env.DB, from, to)) for (const row of rows) tree.push(leafOf(row));
      const seal = await signStatement(key, {
        version: ENCODING_VERSION,
        from,
        to,
        tree_size: tree.size,
        root: toHex(tree.root()),
        previous_seal_hash: last?.seal_hash ?? GENESIS_SEAL_HASH,
        sealed_at: Date.now(),
        key_id: key.keyId,
      });
      const stored: StoredSeal = { ...seal, seq: (last?.seq ?? 0) + 1, chunkRoots: tree.chunkRoots.map(toHex).join("") };
      await insertSeal(env.DB, stored);
      await putSealFile(env.BUCKET, stored);
      sealed.push(seal);
      last = stored;
    }
  } finally {
    await releaseLease(env.DB, lease);
  }
  return { sealed, sealed_to: last?.to ?? null };
}

async function insertSeal(db: D1Database, seal: StoredSeal): Promise<void> {
  await preparedWithinLimits(
    db,
    `INSERT INTO integrity_seals (${SEAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)`,
    [seal.seq, seal.version, seal.from, seal.to, seal.tree_size, seal.root, seal.previous_seal_hash, seal.sealed_at, seal.key_id, seal.signature, seal.seal_hash, seal.chunkRoots],
  ).run();
}

/** The seal file in R2; its hash and signature also go into custom metadata, so a listing can compare without reading. */
async function putSealFile(bucket: R2Bucket, seal: StoredSeal): Promise<void> {
  await bucket.put(sealKey(seal.to), `${JSON.stringify(publishedSeal(seal), null, 2)}\n`, {
    httpMetadata: { contentType: "application/json" },
    customMetadata: { seal_hash: seal.seal_hash, signature: seal.signature, from: String(seal.from) },
  });
}

/** Writes the R2 copy of a seal whose run died between the D1 insert and the R2 put. */
async function ensureR2Copy(bucket: R2Bucket, seal: StoredSeal): Promise<void> {
  if (!(await bucket.head(sealKey(seal.to)))) await putSealFile(bucket, seal);
}
