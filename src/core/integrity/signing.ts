// Ed25519 seal keys (WebCrypto): the signing key from SEAL_SIGNING_KEY, the trusted public keys, and the signed statement.
import { z } from "@hono/zod-openapi";
import { ApiError } from "../../lib/errors";
import { toHex } from "./merkle";

const keyIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

const PublicJwkSchema = z.object({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  x: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "must be the base64url of 32 bytes"),
  kid: z.string().regex(keyIdPattern, "must match ^[A-Za-z0-9._:-]{1,64}$"),
});
const PrivateJwkSchema = PublicJwkSchema.extend({ d: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "must be the base64url of 32 bytes") });

export type PublicJwk = z.infer<typeof PublicJwkSchema>;

/** The fields of a seal that are signed, in the order they are serialised (docs/integrity.md). */
export interface SealStatement {
  version: number;
  from: number;
  to: number;
  tree_size: number;
  root: string;
  previous_seal_hash: string;
  sealed_at: number;
  key_id: string;
}

/** A seal as published (D1, R2 `seals/…json`, the API): the statement, its signature and its hash. */
export interface SignedSeal extends SealStatement {
  signature: string;
  seal_hash: string;
}

export const GENESIS_SEAL_HASH = "0".repeat(64);

const encoder = new TextEncoder();

/** The exact bytes that are signed and hashed: compact JSON of the statement's fields in their fixed order. */
export function statementBytes(seal: SealStatement): Uint8Array<ArrayBuffer> {
  const { version, from, to, tree_size, root, previous_seal_hash, sealed_at, key_id } = seal;
  return new Uint8Array(encoder.encode(JSON.stringify({ version, from, to, tree_size, root, previous_seal_hash, sealed_at, key_id })));
}

export async function sealHashOf(seal: SealStatement): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", statementBytes(seal))));
}

const base64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded + "=".repeat((4 - (padded.length % 4)) % 4)), (char) => char.charCodeAt(0));
}

export interface SigningKey {
  keyId: string;
  publicJwk: PublicJwk;
  privateKey: CryptoKey;
}

function parseJwk<T extends z.ZodType>(schema: T, text: string, name: string): z.infer<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    console.error(JSON.stringify({ level: "error", message: `${name} is not a valid Ed25519 JWK`, problems: parsed.error?.issues.map((issue) => issue.message) }));
    throw new ApiError("internal", "The service's seal keys are misconfigured");
  }
  return parsed.data;
}

const signingKeys = new Map<string, Promise<SigningKey>>();

/** The key seals are signed with: SEAL_SIGNING_KEY, an Ed25519 private JWK with `kid`. Seals answer 503 while it is unset. */
export function signingKeyOf(secret: string | undefined): Promise<SigningKey> {
  if (!secret) throw new ApiError("unavailable", "Sealing is not configured (SEAL_SIGNING_KEY is unset)");
  let key = signingKeys.get(secret);
  if (!key) {
    const jwk = parseJwk(PrivateJwkSchema, secret, "SEAL_SIGNING_KEY");
    key = crypto.subtle.importKey("jwk", { ...jwk, ext: false }, { name: "Ed25519" }, false, ["sign"]).then((privateKey) => ({
      keyId: jwk.kid,
      publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: jwk.kid },
      privateKey,
    }));
    signingKeys.set(secret, key);
  }
  return key;
}

export interface TrustedKey {
  key_id: string;
  algorithm: "Ed25519";
  status: "current" | "retired";
  jwk: PublicJwk;
}

/** Keys a seal may be signed with: the current one and the retired ones listed in SEAL_RETIRED_PUBLIC_KEYS (never D1). */
export async function trustedKeys(signingSecret: string | undefined, retiredPublicKeys: string | undefined): Promise<TrustedKey[]> {
  const keys: TrustedKey[] = [];
  if (signingSecret) {
    const current = await signingKeyOf(signingSecret);
    keys.push({ key_id: current.keyId, algorithm: "Ed25519", status: "current", jwk: current.publicJwk });
  }
  if (retiredPublicKeys) {
    const listed = parseJwk(z.array(PublicJwkSchema), retiredPublicKeys, "SEAL_RETIRED_PUBLIC_KEYS");
    for (const jwk of listed) if (!keys.some((key) => key.key_id === jwk.kid)) keys.push({ key_id: jwk.kid, algorithm: "Ed25519", status: "retired", jwk });
  }
  return keys;
}

export async function signStatement(key: SigningKey, statement: SealStatement): Promise<SignedSeal> {
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, statementBytes(statement)));
  return { ...statement, signature: base64url(signature), seal_hash: await sealHashOf(statement) };
}

/** True when `seal.signature` is a valid Ed25519 signature of its statement by the public key `jwk`. */
export async function signatureValid(seal: SignedSeal, jwk: PublicJwk): Promise<boolean> {
  try {
    const key = await crypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, fromBase64url(seal.signature), statementBytes(seal));
  } catch {
    return false;
  }
}

