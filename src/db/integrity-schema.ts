// D1 tables of the integrity side: signed seals of the ledger, verification runs, and the record of privacy erasures.
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** One signed seal per receipt-time window [from_ms, to_ms); `seq` orders the chain. */
export const integritySeals = sqliteTable(
  "integrity_seals",
  {
    seq: integer("seq").primaryKey(),
    version: integer("version").notNull(),
    fromMs: integer("from_ms").notNull(),
    toMs: integer("to_ms").notNull(),
    treeSize: integer("tree_size").notNull(),
    root: text("root").notNull(),
    previousSealHash: text("previous_seal_hash").notNull(),
    sealedAt: integer("sealed_at").notNull(),
    keyId: text("key_id").notNull(),
    signature: text("signature").notNull(),
    sealHash: text("seal_hash").notNull(),
    /** Roots of the window's aligned 256-leaf subtrees (hex, concatenated): proofs read one chunk instead of the window. */
    chunkRoots: text("chunk_roots").notNull(),
  },
  (table) => [uniqueIndex("integrity_seals_from").on(table.fromMs), uniqueIndex("integrity_seals_to").on(table.toMs)],
);

/** Verification runs (API or daily cron): progress through the range and what was found wrong. */
export const integrityVerifications = sqliteTable(
  "integrity_verifications",
  {
    id: text("id").primaryKey(),
    fromMs: integer("from_ms").notNull(),
    toMs: integer("to_ms").notNull(),
    requestedBy: text("requested_by").notNull(),
    status: text("status", { enum: ["pending", "done"] }).notNull(),
    /** Windows ending at or before this instant have been checked. */
    cursorMs: integer("cursor_ms").notNull(),
    windows: integer("windows").notNull(),
    rows: integer("rows").notNull(),
    ok: integer("ok", { mode: "boolean" }),
    problems: text("problems").notNull(),
    createdAt: integer("created_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (table) => [
    index("integrity_verifications_created").on(table.createdAt),
    index("integrity_verifications_status").on(table.status, table.createdAt),
  ],
);

/** Erasures done, by the pseudonymous key of the person (never their email, name or id), so repeats are recognised. */
export const privacyErasures = sqliteTable("privacy_erasures", {
  actorKey: text("actor_key").primaryKey(),
  id: text("id").notNull(),
  requestedBy: text("requested_by").notNull(),
  reason: text("reason").notNull(),
  erasedAt: integer("erased_at").notNull(),
});
