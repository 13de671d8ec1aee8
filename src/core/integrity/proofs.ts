// Inclusion proofs: an event's sealed form, its leaf index and RFC 9162 audit path, and the signed seal of its window.
import { jsonPage } from "../../db/json-pages";
import { ApiError } from "../../lib/errors";
import { canonicalBytes, SEALED_COLUMNS, type SealedRow } from "./canonical";
import { CHUNK_LEAVES, fromHex, pathFromChunks, rootOfNodes, toHex } from "./merkle";
import { leafOf, publishedSeal, sealCovering } from "./seals";
import type { SignedSeal } from "./signing";

export interface InclusionProof {
  event_id: string;
  /** The sealed columns of the event, as stored. */
  sealed_row: SealedRow;
  encoding_version: number;
  /** Hex of the canonical bytes; SHA-256(0x00 ‖ these) is the leaf hash. */
  canonical: string;
  leaf_hash: string;
  leaf_index: number;
  tree_size: number;
  /** Sibling hashes from the leaf to the root (RFC 9162 §2.1.3). */
  audit_path: string[];
  seal: SignedSeal;
}

const toRows = (page: unknown[][]) =>
  page.map((values) => Object.fromEntries(SEALED_COLUMNS.map((column, index) => [column, values[index] ?? null])) as SealedRow);

/** The `limit` rows of the window nearest to the key, from it on (or strictly before it), returned in seal order. */
async function rowsBeside(db: D1Database, window: { from: number; to: number }, key: [number, string], direction: "after" | "before", limit: number): Promise<SealedRow[]> {
  if (limit <= 0) return [];
  // The row-value bound comes first so that the (received_at, id) index seeks to the key.
  const [where, bound, order] =
    direction === "after" ? ["(received_at, id) >= (?, ?) AND received_at < ?", window.to, "ASC"] : ["(received_at, id) < (?, ?) AND received_at >= ?", window.from, "DESC"];
  const page = await jsonPage(
    db,
    `SELECT ${SEALED_COLUMNS.join(", ")} FROM events WHERE ${where} ORDER BY received_at ${order}, id ${order} LIMIT ?`,
    [key[0], key[1], bound, limit],
    SEALED_COLUMNS,
    ["received_at", "id"],
  );
  return toRows(page);
}

/** The proof that event `id` is in its sealed window. 404 for an unknown (or retired) event, 409 while it is not sealed. */
export async function inclusionProof(db: D1Database, id: string): Promise<InclusionProof> {
  const [event] = toRows(
    await jsonPage(db, `SELECT ${SEALED_COLUMNS.join(", ")} FROM events WHERE id = ?`, [id], SEALED_COLUMNS, ["received_at", "id"]),
  );
  if (!event) throw new ApiError("not_found", `No event ${id} in the ledger (a retired event is proven from its archive after a restore)`);
  const receivedAt = Number(event.received_at);
  const seal = await sealCovering(db, receivedAt);
  if (!seal) throw new ApiError("conflict", `Event ${id} is not sealed yet; seals are made every 15 minutes`);
  // Both counts read only the (received_at, id) index.
  const counts = await db
    .prepare(
      `SELECT (SELECT count(*) FROM events WHERE received_at >= ?1 AND received_at < ?2) AS n,
              (SELECT count(*) FROM events WHERE received_at >= ?1 AND (received_at, id) < (?3, ?4)) AS before`,
    )
    .bind(seal.from, seal.to, receivedAt, id)
    .first<{ n: number; before: number }>();
  if (counts!.n !== seal.tree_size)
    throw new ApiError("conflict", `The window of ${id} holds ${counts!.n} rows in D1 but ${seal.tree_size} were sealed; run a verification`);
  const index = counts!.before;
  const chunk = Math.floor(index / CHUNK_LEAVES);
  const chunkStart = chunk * CHUNK_LEAVES;
  const chunkSize = Math.min(CHUNK_LEAVES, seal.tree_size - chunkStart);
  const key: [number, string] = [receivedAt, id];
  const chunkRows = [...(await rowsBeside(db, seal, key, "before", index - chunkStart)), ...(await rowsBeside(db, seal, key, "after", chunkStart + chunkSize - index))];
  const leafOfRow = (row: SealedRow) => leafOf(row, seal.version);
  const chunkLeaves = chunkRows.map(leafOfRow);
  const fullChunks = Math.floor(seal.tree_size / CHUNK_LEAVES);
  const chunkRoots = Array.from({ length: fullChunks }, (_, i) => fromHex(seal.chunkRoots.slice(i * 64, i * 64 + 64)));
  if (fullChunks * CHUNK_LEAVES < seal.tree_size) {
    // The last, partial chunk: its root comes from its rows (the chunk itself, or read from the window's end).
    const tail = seal.tree_size - fullChunks * CHUNK_LEAVES;
    const tailLeaves =
      chunk === fullChunks
        ? chunkLeaves
        : (await rowsBeside(db, seal, [seal.to, ""], "before", tail)).map(leafOfRow);
    chunkRoots.push(rootOfNodes(tailLeaves));
  }
  const bytes = canonicalBytes(event, 0, seal.version);
  return {
    event_id: id,
    sealed_row: event,
    encoding_version: seal.version,
    canonical: toHex(bytes),
    leaf_hash: toHex(leafOfRow(event)),
    leaf_index: index,
    tree_size: seal.tree_size,
    audit_path: pathFromChunks(index, chunkLeaves, chunkRoots).map(toHex),
    seal: publishedSeal(seal),
  };
}
