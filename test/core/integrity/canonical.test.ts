import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { canonicalBytes, compareIds, PERSONAL_DATA_COLUMNS, SEALED_COLUMNS, sealedRowOf } from "../../../src/core/integrity/canonical";
import { leafHash, toHex } from "../../../src/core/integrity/merkle";

const hex = (text: string) => [...new TextEncoder().encode(text)].map((byte) => byte.toString(16).padStart(2, "0")).join("");

describe("canonical encoding (version 1)", () => {
  it("every column of `events` is either sealed or explicitly excluded as personal data", async () => {
    const { results } = await env.DB.prepare("SELECT name FROM pragma_table_info('events')").all<{ name: string }>();
    const unclassified = results.map((row) => row.name).filter((name) => !(SEALED_COLUMNS as readonly string[]).includes(name) && !PERSONAL_DATA_COLUMNS.includes(name));
    // A new column must be added to SEALED_COLUMNS (with a new ENCODING_VERSION) or to PERSONAL_DATA_COLUMNS on purpose.
    expect(unclassified).toEqual([]);
    const stale = SEALED_COLUMNS.filter((column) => !results.some((row) => row.name === column));
    expect(stale).toEqual([]);
  });

  it("encodes a row byte for byte as documented", () => {
    const row = sealedRowOf({ id: "a", occurred_at: 1, received_at: 2, action: "download", status: "success", bytes: 5, title: "é" });
    const expected =
      "01" + // encoding version
      "02" + "00000001" + hex("a") + // id
      "01" + "0000000000000001" + // occurred_at
      "01" + "0000000000000002" + // received_at
      "02" + "00000008" + hex("download") +
      "02" + "00000007" + hex("success") +
      "00" + "00" + "00" + // resource_type, resource_id, doi
      "02" + "00000002" + "c3a9" + // title "é" in UTF-8
      "00".repeat(6) + // actor_key, user_key, organisation, ip_prefix, ip_hash, user_agent
      "01" + "0000000000000005" + // bytes
      "00" + "00" + "00"; // message, meta, duplicate_of
    expect(toHex(canonicalBytes(row, 0, 1))).toBe(expected);
    // Version 2 (the default): version byte 02, the same values, then key_id, client_id, content_hash, denied_count,
    // access_method, country, file and session_id, all NULL here (eight 00 tags).
    expect(toHex(canonicalBytes(row))).toBe(`02${expected.slice(2)}${"00".repeat(8)}`);
    expect(() => canonicalBytes(row, 0, 99)).toThrow("unknown encoding version 99");
  });

  it("distinguishes NULL from empty text, text from numbers, and negative integers", () => {
    const base = { id: "a", occurred_at: 1, received_at: 2, action: "x", status: "success" };
    const encodings = [
      canonicalBytes(sealedRowOf({ ...base, message: null })),
      canonicalBytes(sealedRowOf({ ...base, message: "" })),
      canonicalBytes(sealedRowOf({ ...base, bytes: 5 })),
      canonicalBytes(sealedRowOf({ ...base, bytes: "5" })),
    ].map(toHex);
    expect(new Set(encodings).size).toBe(4);
    expect(toHex(canonicalBytes(sealedRowOf({ ...base, occurred_at: -1 }))).slice(2 + 12, 2 + 12 + 18)).toBe("01ffffffffffffffff");
  });

  it("leaf hash is SHA-256 over 0x00 and the canonical bytes", async () => {
    const bytes = canonicalBytes(sealedRowOf({ id: "a", occurred_at: 1, received_at: 2, action: "x", status: "success" }));
    const input = new Uint8Array([0, ...bytes]);
    expect(toHex(leafHash(bytes))).toBe(toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", input))));
  });

  it("orders ids as SQLite's BINARY collation does (code points, not UTF-16 units)", () => {
    expect(compareIds("a", "b")).toBeLessThan(0);
    expect(compareIds("\u{ff61}", "\u{1f600}")).toBeLessThan(0);
    expect("\u{ff61}" < "\u{1f600}").toBe(false);
  });
});
