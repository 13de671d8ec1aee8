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
