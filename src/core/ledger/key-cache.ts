// Isolate-local cache of API-key lookups (verified keys and unknown secrets), so most requests authenticate without D1.
import type { Scope } from "./keys";

export interface Principal {
  id: string;
  scopes: Scope[];
  lastUsedAt: number | null;
}

interface Entry {
  principal: Principal | null;
  cachedAt: number;
}

/**
 * Maps the SHA-256 of a presented secret to the key it belongs to (or to null: no active key has it), trusted for a
 * time to live given at each read.
 * A revocation made in this isolate evicts the key at once; one made elsewhere is seen when the entry expires, so the
 * cache's time to live is the bound on how long a revoked key keeps working anywhere. Each map is bounded and drops its
 * oldest entry when full, so random secrets cannot grow the isolate's memory.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = 10_000) {}

  /** The cached answer: a principal, null for a secret known to be invalid, undefined when not cached or expired. */
  get(secretHash: string, now: number, ttlMs: number): Principal | null | undefined {
    const entry = this.entries.get(secretHash);
    if (!entry) return undefined;
    if (now - entry.cachedAt >= ttlMs) {
      this.entries.delete(secretHash);
      return undefined;
    }
    return entry.principal;
  }

  set(secretHash: string, principal: Principal | null, now: number): void {
    this.entries.delete(secretHash);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(secretHash, { principal, cachedAt: now });
  }

  /** Drops every entry of the key with this id (after its revocation in this isolate). */
  forgetKey(keyId: string): void {
    for (const [hash, entry] of this.entries) if (entry.principal?.id === keyId) this.entries.delete(hash);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The cache of this isolate, shared by every request it serves. */
export const keyCache = new KeyCache();
