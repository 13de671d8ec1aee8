// The sealed form of a ledger row: which `events` columns are sealed, in which order, and their canonical bytes.
// Free of Workers APIs: the offline verifier (scripts/verify.ts) runs this very file under Node.

/** Version 1 of the sealed columns, in encoding order. Never edit a published version: add a new one. */
const VERSION_1 = [
  "id", "occurred_at", "received_at", "action", "status", "resource_type", "resource_id", "doi", "title", "actor_key",
  "user_key", "organisation", "ip_prefix", "ip_hash", "user_agent", "bytes", "message", "meta", "duplicate_of",
] as const;

/**
 * Version 2 adds who stored the row and how (key-scoped client ids, content fingerprints, refusal counts) and its COUNTER
 * classification (access method, country, file, pseudonymous session id).
 */
const VERSION_2 = [...VERSION_1, "key_id", "client_id", "content_hash", "denied_count", "access_method", "country", "file", "session_id"] as const;

/**
 * The sealed columns of `events` (the current version's list). Every column of the table must be either here or in
 * PERSONAL_DATA_COLUMNS (test/core/integrity/canonical.test.ts fails otherwise), so a new column is classified on purpose.
 * Sealing one: `const VERSION_2 = [...VERSION_1, "new_column"] as const`, point SEALED_COLUMNS at it, list it in
 * COLUMNS_BY_VERSION and raise ENCODING_VERSION; windows sealed under version 1 keep verifying with VERSION_1.
 */
export const SEALED_COLUMNS = VERSION_2;

/** Version of the column list and byte encoding new seals use; a seal names its version (its `version` field). */
export const ENCODING_VERSION = 2;

export type SealedColumn = (typeof SEALED_COLUMNS)[number];

/** The columns each encoding version seals; later versions only append, since rows are read with the current columns. */
const COLUMNS_BY_VERSION: Record<number, readonly SealedColumn[]> = { 1: VERSION_1, 2: VERSION_2 };

/**
 * Columns of `events` left out of the seal because they hold personal data that must stay erasable. Empty: personal
 * data lives in `actors`, which is never sealed; the ledger only holds pseudonymous keys (HMACs) and truncated IPs.
 */
export const PERSONAL_DATA_COLUMNS: readonly string[] = [];

export type SealedValue = string | number | null;
export type SealedRow = Record<SealedColumn, SealedValue>;

const TAG_NULL = 0x00;
const TAG_INTEGER = 0x01;
const TAG_TEXT = 0x02;
const TAG_REAL = 0x03;

const encoder = new TextEncoder();

/**
 * Canonical bytes of a row: the encoding version byte, then each sealed column in order as
 *   NULL    → 0x00
 *   integer → 0x01, 8 bytes signed big-endian
 *   text    → 0x02, 4 bytes big-endian length of the UTF-8 bytes, the UTF-8 bytes
 *   real    → 0x03, 8 bytes IEEE 754 big-endian (never written by the service; a tampered type still encodes)
 * Values are encoded by their stored type, so a number changed into text (or back) changes the bytes. `prefix` bytes
 * of zero are left in front (the leaf hash's 0x00), so hashing needs no copy.
 */
export function canonicalBytes(row: SealedRow, prefix = 0, version = ENCODING_VERSION): Uint8Array {
  const columns = COLUMNS_BY_VERSION[version];
  if (!columns) throw new RangeError(`unknown encoding version ${version}`);
  let capacity = prefix + 1;
  for (const column of columns) {
    const value = row[column];
    capacity += typeof value === "string" ? 5 + value.length * 3 : 9;
  }
  const out = new Uint8Array(capacity);
  const view = new DataView(out.buffer);
  let at = prefix;
  out[at++] = version;
  for (const column of columns) {
    const value = row[column];
    if (value === null || value === undefined) out[at++] = TAG_NULL;
    else if (typeof value === "string") {
      out[at] = TAG_TEXT;
      const { written } = encoder.encodeInto(value, out.subarray(at + 5));
      view.setUint32(at + 1, written);
      at += 5 + written;
    } else if (Number.isInteger(value)) {
      // Two 32-bit halves instead of BigInt: exact for every safe integer, negative ones in two's complement.
      const high = Math.floor(value / 2 ** 32);
      out[at] = TAG_INTEGER;
      view.setInt32(at + 1, high);
      view.setUint32(at + 5, value - high * 2 ** 32);
      at += 9;
    } else {
      out[at] = TAG_REAL;
      view.setFloat64(at + 1, value);
      at += 9;
    }
  }
  return out.subarray(0, at);
}

/** The sealed columns of a row-like object (archive line, D1 row); anything else it holds is ignored. */
export function sealedRowOf(source: Record<string, unknown>): SealedRow {
  return Object.fromEntries(SEALED_COLUMNS.map((column) => [column, (source[column] ?? null) as SealedValue])) as SealedRow;
}

/** SQLite's BINARY order of ids (UTF-8 bytes, i.e. code points), which JavaScript's `<` on UTF-16 does not match. */
export function compareIds(a: string, b: string): number {
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = left[i]!.codePointAt(0)! - right[i]!.codePointAt(0)!;
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

/** The order of leaves in a seal: (received_at, id). */
export const compareSealOrder = (a: { received_at: SealedValue; id: SealedValue }, b: { received_at: SealedValue; id: SealedValue }) =>
  Number(a.received_at) - Number(b.received_at) || compareIds(String(a.id), String(b.id));
