// Base64url without padding (RFC 4648 §5) of bytes and of UTF-8 text, decoded strictly: only the canonical form is accepted.

// The TC39 base64 methods of Uint8Array (ES2026; built into the Workers runtime) are not in TypeScript 5.9's libraries yet.
declare global {
  interface Uint8Array {
    toBase64(options?: { alphabet?: "base64" | "base64url"; omitPadding?: boolean }): string;
  }
  interface Uint8ArrayConstructor {
    fromBase64(text: string, options?: { alphabet?: "base64" | "base64url"; lastChunkHandling?: "loose" | "strict" | "stop-before-partial" }): Uint8Array;
  }
}

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function bytesToBase64Url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * The bytes of a base64url text, or null unless the text is exactly what `bytesToBase64Url` writes: no padding, no
 * whitespace, no standard-alphabet characters, no stray bits in the last character (so one value has one spelling).
 */
export function base64UrlToBytes(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(text, { alphabet: "base64url", lastChunkHandling: "loose" });
  } catch {
    return null;
  }
  return bytesToBase64Url(bytes) === text ? bytes : null;
}

/** Any string whose UTF-8 is well formed (every code point, no lone surrogates) as base64url. */
export function textToBase64Url(text: string): string {
  return bytesToBase64Url(encoder.encode(text));
}

/** The text `textToBase64Url` encoded, or null when the input is not canonical base64url of well-formed UTF-8. */
export function base64UrlToText(text: string): string | null {
  const bytes = base64UrlToBytes(text);
  if (!bytes) return null;
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}
