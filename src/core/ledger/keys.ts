// API keys: creation (secret shown once), listing, revocation and lookup by the secret's hash.
import { desc, eq, and, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { apiKeys } from "../../db/ledger-schema";
import { randomToken, sha256Hex, uuidv7 } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import { keyCache } from "./key-cache";

export const scopes = ["ingest", "read", "catalog", "admin"] as const;
export type Scope = (typeof scopes)[number];

export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function toInfo(row: typeof apiKeys.$inferSelect): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes as Scope[],
    created_at: new Date(row.createdAt).toISOString(),
    revoked_at: iso(row.revokedAt),
    last_used_at: iso(row.lastUsedAt),
  };
}

/** Secrets this service issues: `da_` and 24 random bytes in base64url. Anything else is refused without a lookup. */
const KEY_PATTERN = /^da_[A-Za-z0-9_-]{32}$/;

export function isWellFormedKey(secret: string): boolean {
  return KEY_PATTERN.test(secret);
}

export async function createKey(db: D1Database, name: string, keyScopes: Scope[]): Promise<ApiKeyInfo & { key: string }> {
  const key = `da_${randomToken(24)}`;
  const row = {
    id: uuidv7(),
    name,
    prefix: key.slice(0, 7),
    secretHash: await sha256Hex(key),
    scopes: [...new Set(keyScopes)],
    createdAt: Date.now(),
    revokedAt: null,
    lastUsedAt: null,
  };
  await drizzle(db).insert(apiKeys).values(row);
  return { ...toInfo(row), key };
}

export async function listKeys(db: D1Database): Promise<ApiKeyInfo[]> {
  const rows = await drizzle(db).select().from(apiKeys).orderBy(desc(apiKeys.createdAt));
  return rows.map(toInfo);
}

/** Revokes the key: at once in this isolate, and in every other within the key cache's time to live (KEY_CACHE_SECONDS). */
export async function revokeKey(db: D1Database, id: string): Promise<ApiKeyInfo> {
  keyCache.forgetKey(id);
  const [row] = await drizzle(db)
    .update(apiKeys)
    .set({ revokedAt: Date.now() })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    .returning();
  if (row) return toInfo(row);
  const [existing] = await drizzle(db).select().from(apiKeys).where(eq(apiKeys.id, id));
  if (!existing) throw new ApiError("not_found", `No API key with id ${id}`);
  return toInfo(existing);
}

/** How stale `last_used_at` may get: it is written at most once per interval, off the request's critical path. */
export const LAST_USED_RESOLUTION_MS = 60 * 60 * 1000;

/** The active key whose secret has this SHA-256, or null. Lookup is by hash, so no secret is ever compared. */
export async function findActiveKey(
  db: D1Database,
  secretHash: string,
): Promise<{ id: string; scopes: Scope[]; lastUsedAt: number | null } | null> {
  const [row] = await drizzle(db)
    .select({ id: apiKeys.id, scopes: apiKeys.scopes, lastUsedAt: apiKeys.lastUsedAt })
    .from(apiKeys)
    .where(and(eq(apiKeys.secretHash, secretHash), isNull(apiKeys.revokedAt)))
    .limit(1);
  return row ? { id: row.id, scopes: row.scopes as Scope[], lastUsedAt: row.lastUsedAt } : null;
}

/**
 * Records that a key was used now, unless it was already recorded within `LAST_USED_RESOLUTION_MS`. The principal is
 * updated too, so a cached key is not written again on its next requests.
 */
export async function touchKey(db: D1Database, key: { id: string; lastUsedAt: number | null }, now = Date.now()): Promise<void> {
  if (key.lastUsedAt !== null && now - key.lastUsedAt < LAST_USED_RESOLUTION_MS) return;
  key.lastUsedAt = now;
  await drizzle(db).update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, key.id));
}
