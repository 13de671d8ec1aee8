// Standard Webhooks signatures: `whsec_` secrets and `v1,<base64 HMAC-SHA256(id.timestamp.body)>`.

/**
 * Signed with WebCrypto rather than the `standardwebhooks` package: it is four lines natively, the package pulls a
 * pure-JS SHA-256 into the Worker, and tests verify these signatures with that reference implementation independently.
 */
const encoder = new TextEncoder();

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** A new secret: `whsec_` and 32 random bytes in base64 (the spec asks for 24 to 64 bytes). */
export function newWebhookSecret(): string {
  return `whsec_${base64(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/** The `webhook-signature` header value for one attempt of a message. */
export async function signWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const keyBytes = Uint8Array.from(atob(secret.replace(/^whsec_/, "")), (char) => char.charCodeAt(0));
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signature = await crypto.subtle.sign("HMAC", key, encoder.encode(`${id}.${timestamp}.${body}`));
  return `v1,${base64(new Uint8Array(signature))}`;
}
