import { describe, expect, it } from "vitest";
import { mintToken, openUser, sealUser, verifyToken } from "../../../src/core/catalog/tokens";

const secret = "unit-test-secret-0123456789";

describe("download tokens", () => {
  it("round-trips claims, keeps the user sealed, and reports expiry after the signature check", async () => {
    const sealedUser = await sealUser(secret, { email: "ada@example.org", name: "Ada" });
    expect(sealedUser).not.toMatch(/ada/i);
    const token = await mintToken(secret, { target: { kind: "file", recordId: "r1", file: "a.csv" }, sealedUser, expiresAt: 2_000_000_000 });
    const verified = await verifyToken(secret, token, 1_000_000_000_000);
    expect(verified).toEqual({ status: "valid", claims: { target: { kind: "file", recordId: "r1", file: "a.csv" }, sealedUser, expiresAt: 2_000_000_000 } });
    expect(await openUser(secret, sealedUser)).toEqual({ email: "ada@example.org", name: "Ada" });
    expect((await verifyToken(secret, token, 2_000_000_000_000)).status).toBe("expired");
  });

  it("rejects other secrets, altered payloads or signatures, and garbage", async () => {
    const token = await mintToken(secret, { target: { kind: "metadata", recordId: "r1" }, sealedUser: null, expiresAt: 2_000_000_000 });
    const [payload, signature] = token.split(".");
    expect((await verifyToken("another-secret-0123456789", token)).status).toBe("invalid");
    expect((await verifyToken(secret, `${payload}A.${signature}`)).status).toBe("invalid");
    expect((await verifyToken(secret, `${payload}.${signature!.replace(/^./, (c) => (c === "A" ? "B" : "A"))}`)).status).toBe("invalid");
    for (const garbage of ["", ".", "a.b.c", "%%%.%%%", payload!]) expect((await verifyToken(secret, garbage)).status).toBe("invalid");
    expect(await openUser(secret, "not-sealed")).toBeNull();
    expect(await openUser("another-secret-0123456789", await sealUser(secret, { id: "u" }))).toBeNull();
    expect(await sealUser(secret, {})).toBeNull();
  });
});

describe("finding 9h: signed tokens decode base64url strictly", () => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

  it("finding 9h: of the 64 possible last characters of the signature, only the minted one verifies", async () => {
    const token = await mintToken(secret, { target: { kind: "file", recordId: "r1", file: "a.csv" }, sealedUser: null, expiresAt: 2_000_000_000 });
    const [payload, signature] = token.split(".") as [string, string];
    // 32 HMAC bytes take 43 characters, whose last carries 2 unused bits: 4 spellings decode to the same bytes.
    expect(signature).toHaveLength(43);
    const accepted: string[] = [];
    for (const last of alphabet) {
      const verified = await verifyToken(secret, `${payload}.${signature.slice(0, -1)}${last}`, 1_000_000_000_000);
      if (verified.status !== "invalid") accepted.push(last);
    }
    expect(accepted).toEqual([signature.at(-1)]);
  });

  it("finding 9h: rejects padding, a dangling sixth bit group and characters outside base64url", async () => {
    const token = await mintToken(secret, { target: { kind: "metadata", recordId: "r1" }, sealedUser: null, expiresAt: 2_000_000_000 });
    const [payload, signature] = token.split(".") as [string, string];
    for (const bad of [`${signature}=`, `${signature}A`, `${signature.slice(0, -1)}+`, `${signature.slice(0, -1)}/`, ` ${signature}`])
      expect((await verifyToken(secret, `${payload}.${bad}`, 1_000_000_000_000)).status, bad).toBe("invalid");
    expect((await verifyToken(secret, token, 1_000_000_000_000)).status).toBe("valid");
  });

  it("finding 9h: a sealed user with a changed last character does not open", async () => {
    const sealed = (await sealUser(secret, { email: "ada@example.org" }))!;
    const opened: (string | null)[] = [];
    for (const last of alphabet) if (await openUser(secret, `${sealed.slice(0, -1)}${last}`)) opened.push(last);
    expect(opened).toEqual([sealed.at(-1)]);
  });
});
