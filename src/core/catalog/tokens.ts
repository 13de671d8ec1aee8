// Signed download tokens: HMAC-SHA256 over the target, expiry and the (AES-GCM sealed) user who asked for the link.
import { z } from "@hono/zod-openapi";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export type DownloadTarget =
  | { kind: "file"; recordId: string; file: string }
  | { kind: "metadata"; recordId: string }
  /** A bundle link names the API key that owns the bundle; it is refused for a bundle of another owner. */
  | { kind: "bundle"; bundleId: string; ownerKeyId: string | null };

/** The person a portal asks a link for; recorded as the download event's actor (its PII goes to the actors table only). */
export const DownloadUserSchema = z
  .strictObject({
    id: z.string().min(1).max(256).optional(),
    email: z.email().max(320).optional(),
    name: z.string().max(256).optional(),
    organisation: z.string().max(256).optional(),
  })
  .openapi("DownloadUser");

export type DownloadUser = z.infer<typeof DownloadUserSchema>;

export interface TokenClaims {
  target: DownloadTarget;
  /** The user sealed with `sealUser`, so a link never shows an email or name in plain text (URLs end up in logs). */
  sealedUser: string | null;
  /** Epoch seconds. */
  expiresAt: number;
}

export type VerifiedToken = { status: "valid"; claims: TokenClaims } | { status: "expired"; claims: TokenClaims } | { status: "invalid" };

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Strict base64url (RFC 4648 §5, unpadded): only the canonical spelling of some bytes is accepted. `atob` ignores the
 * unused low bits of the last character, so without the round-trip check four spellings of a signature would verify.
 */
function fromBase64Url(value: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(value) || value.length % 4 === 1) return null;
  let bytes: Uint8Array;
  try {
    const binary = atob(value.replace(/-/g, "+").replace(/_/g, "/"));
    bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
  return toBase64Url(bytes) === value ? bytes : null;
}

interface TokenKeys {
  sign: CryptoKey;
  seal: CryptoKey;
}

const keyCache = new Map<string, Promise<TokenKeys>>();

/** Two independent keys derived from the one secret: one signs tokens, the other seals users. */
function keysFor(secret: string): Promise<TokenKeys> {
  let keys = keyCache.get(secret);
  if (!keys) {
    keys = (async () => {
      const master = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const derive = (label: string) => crypto.subtle.sign("HMAC", master, encoder.encode(label));
      const [signBytes, sealBytes] = await Promise.all([derive("download-token:sign"), derive("download-token:seal")]);
      return {
        sign: await crypto.subtle.importKey("raw", signBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]),
        seal: await crypto.subtle.importKey("raw", sealBytes, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]),
      };
    })();
    keyCache.set(secret, keys);
  }
  return keys;
}

/** Encrypts the user's details (AES-256-GCM, random IV); null when there is nothing to seal. */
export async function sealUser(secret: string, user: DownloadUser | undefined): Promise<string | null> {
  const fields = Object.fromEntries(Object.entries(user ?? {}).filter(([, value]) => value !== undefined && value !== ""));
  if (Object.keys(fields).length === 0) return null;
  const { seal } = await keysFor(secret);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, seal, encoder.encode(JSON.stringify(fields))));
  const out = new Uint8Array(iv.length + sealed.length);
  out.set(iv);
  out.set(sealed, iv.length);
  return toBase64Url(out);
}

/** Decrypts a sealed user; null when it was tampered with or sealed under another secret. */
export async function openUser(secret: string, sealed: string | null): Promise<DownloadUser | null> {
  const bytes = sealed ? fromBase64Url(sealed) : null;
  if (!bytes || bytes.length < 13) return null;
  const { seal } = await keysFor(secret);
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.slice(0, 12) }, seal, bytes.slice(12));
    return JSON.parse(decoder.decode(plain)) as DownloadUser;
  } catch {
    return null;
  }
}

type Payload = { t: "f"; r: string; f: string; u?: string; e: number } | { t: "m"; r: string; u?: string; e: number } | { t: "b"; b: string; k?: string; u?: string; e: number };

function payloadOf(claims: TokenClaims): Payload {
  const base = { e: claims.expiresAt, ...(claims.sealedUser ? { u: claims.sealedUser } : {}) };
  const { target } = claims;
  if (target.kind === "file") return { t: "f", r: target.recordId, f: target.file, ...base };
  if (target.kind === "metadata") return { t: "m", r: target.recordId, ...base };
  return { t: "b", b: target.bundleId, ...(target.ownerKeyId ? { k: target.ownerKeyId } : {}), ...base };
}

function claimsOf(payload: unknown): TokenClaims | null {
  if (typeof payload !== "object" || payload === null) return null;
  const p = payload as Record<string, unknown>;
  if (typeof p.e !== "number" || (p.u !== undefined && typeof p.u !== "string")) return null;
  const common = { sealedUser: (p.u as string | undefined) ?? null, expiresAt: p.e };
  if (p.t === "f" && typeof p.r === "string" && typeof p.f === "string") return { target: { kind: "file", recordId: p.r, file: p.f }, ...common };
  if (p.t === "m" && typeof p.r === "string") return { target: { kind: "metadata", recordId: p.r }, ...common };
  if (p.t === "b" && typeof p.b === "string" && (p.k === undefined || typeof p.k === "string"))
    return { target: { kind: "bundle", bundleId: p.b, ownerKeyId: (p.k as string | undefined) ?? null }, ...common };
  return null;
}

/** `<payload>.<signature>`, both base64url: the payload is readable, the signature makes it unforgeable. */
export async function mintToken(secret: string, claims: TokenClaims): Promise<string> {
  const { sign } = await keysFor(secret);
  const payload = toBase64Url(encoder.encode(JSON.stringify(payloadOf(claims))));
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", sign, encoder.encode(payload)));
  return `${payload}.${toBase64Url(signature)}`;
}

/** Checks the signature (constant time, by WebCrypto) before looking at anything in the payload, then the expiry. */
export async function verifyToken(secret: string, token: string, nowMs = Date.now()): Promise<VerifiedToken> {
  const [payload, signature, ...rest] = token.split(".");
  if (!payload || !signature || rest.length > 0) return { status: "invalid" };
  const signatureBytes = fromBase64Url(signature);
  if (!signatureBytes) return { status: "invalid" };
  const { sign } = await keysFor(secret);
  if (!(await crypto.subtle.verify("HMAC", sign, signatureBytes, encoder.encode(payload)))) return { status: "invalid" };
  let claims: TokenClaims | null = null;
  try {
    claims = claimsOf(JSON.parse(decoder.decode(fromBase64Url(payload) ?? new Uint8Array())));
  } catch {
    claims = null;
  }
  if (!claims) return { status: "invalid" };
  return claims.expiresAt * 1000 <= nowMs ? { status: "expired", claims } : { status: "valid", claims };
}
