// Runs the offline verifier (scripts/verify.ts) as a user would, on files written here, and tampers with them.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { canonicalBytes, ENCODING_VERSION, sealedRowOf } from "../src/core/integrity/canonical";
import { leafHash, pathOfNodes, toHex, TreeBuilder } from "../src/core/integrity/merkle";
import { GENESIS_SEAL_HASH, signStatement, type PublicJwk, type SignedSeal, type SigningKey } from "../src/core/integrity/signing";

const repo = join(import.meta.dirname, "..");

function verify(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, ["--import", "tsx", "scripts/verify.ts", ...args], { cwd: repo, encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

async function newKey(kid: string): Promise<SigningKey> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as { x: string };
  return { keyId: kid, privateKey: pair.privateKey, publicJwk: { kty: "OKP", crv: "Ed25519", x: jwk.x, kid } };
}

const row = (id: string, receivedAt: number, bytes: number) => ({
  id, occurred_at: receivedAt - 500, received_at: receivedAt, action: "download", status: "success", resource_type: "dataset",
  resource_id: "ds-1", doi: "10.1234/x", title: "Ocean", actor_key: "ak", user_key: "uk", organisation: "Lab", ip_prefix: "203.0.113.0",
  ip_hash: "ih", user_agent: "ua", bytes, message: null, meta: null, duplicate_of: null,
});

let dir: string;
let key: SigningKey;
let seals: SignedSeal[];
const [r1, r2, r3] = [row("e-1", 1000, 10), row("e-2", 2000, 20), row("e-3", 3000, 30)];
const windowOne = [r1, r2, r3];
const windowTwo = [row("e-4", 11_000, 40)];

async function seal(rows: ReturnType<typeof row>[], from: number, to: number, previous: string, signer: SigningKey): Promise<SignedSeal> {
  const tree = new TreeBuilder();
  for (const item of rows) tree.push(leafHash(canonicalBytes(sealedRowOf(item))));
  return signStatement(signer, { version: ENCODING_VERSION, from, to, tree_size: tree.size, root: toHex(tree.root()), previous_seal_hash: previous, sealed_at: to + 1, key_id: signer.keyId });
}

const writeSeal = (value: SignedSeal) => writeFileSync(join(dir, "seals", `${value.to}.json`), JSON.stringify(value));
const writeArchive = (rows: object[]) => writeFileSync(join(dir, "archive.ndjson.gz"), gzipSync(rows.map((item) => `${JSON.stringify(item)}\n`).join("")));

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "verify-"));
  mkdirSync(join(dir, "seals"));
  key = await newKey("k1");
  const first = await seal(windowOne, 0, 10_000, GENESIS_SEAL_HASH, key);
  const second = await seal(windowTwo, 10_000, 20_000, first.seal_hash, key);
  const empty = await seal([], 20_000, 30_000, second.seal_hash, key);
  seals = [first, second, empty];
  seals.forEach(writeSeal);
  writeArchive(windowOne);
  writeFileSync(join(dir, "window-2.ndjson"), windowTwo.map((item) => `${JSON.stringify(item)}\n`).join(""));
  writeFileSync(join(dir, "keys.json"), JSON.stringify({ keys: [{ key_id: "k1", algorithm: "Ed25519", status: "current", jwk: key.publicJwk }] }));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("npm run verify -- <dir>", () => {
  it("verifies seal files and rows against the public key", () => {
    const { status, output } = verify(dir);
    expect(output).toContain("3 seal(s): signatures and chain ok");
    expect(output).toContain("3 of 3 window(s) match their seals");
    expect(status).toBe(0);
  });

  it("fails on an edited row in an archive", () => {
    writeArchive([r1, { ...r2, bytes: 21 }, r3]);
    const { status, output } = verify(dir);
    expect(output).toContain(`FAIL window [0, 10000): root differs`);
    expect(status).toBe(1);
  });

  it("fails on a deleted row and on a forged one", () => {
    writeArchive([r1, r3]);
    expect(verify(dir).output).toContain("sealed 3 rows, found 2");
    writeArchive([...windowOne, row("forged", 4000, 1)]);
    expect(verify(dir).output).toContain("sealed 3 rows, found 4");
  });

  it("fails on a deleted seal file and on an altered root", () => {
    rmSync(join(dir, "seals", "20000.json"));
    const missing = verify(dir);
    expect(missing.output).toContain("a seal is missing between 10000 and 30000");
    expect(missing.status).toBe(1);
    writeSeal(seals[1]!);
    writeSeal({ ...seals[0]!, root: "00".repeat(32) });
    expect(verify(dir).output).toContain("seal ending 10000: bad signature");
  });

  it("fails on seals signed with a key that is not trusted", async () => {
    const other = await newKey("k1");
    writeSeal(await seal(windowTwo, 10_000, 20_000, seals[0]!.seal_hash, other));
    expect(verify(dir).output).toContain("seal ending 20000: bad signature");
  });

  it("checks only windows with rows under --partial, and needs a directory", () => {
    rmSync(join(dir, "window-2.ndjson"));
    expect(verify(dir).status).toBe(1);
    const partial = verify(dir, "--partial");
    expect(partial.output).toContain("1 window(s) without rows here: not checked (--partial)");
    expect(partial.status).toBe(0);
    expect(verify().status).toBe(2);
  });
});

describe("npm run verify -- --proof file.json", () => {
  async function proofOf(index: number): Promise<Record<string, unknown>> {
    const leaves = windowOne.map((item) => leafHash(canonicalBytes(sealedRowOf(item))));
    const sealed = sealedRowOf(windowOne[index]!);
    return {
      event_id: windowOne[index]!.id,
      sealed_row: sealed,
      encoding_version: ENCODING_VERSION,
      canonical: toHex(canonicalBytes(sealed)),
      leaf_hash: toHex(leaves[index]!),
      leaf_index: index,
      tree_size: 3,
      audit_path: pathOfNodes(index, leaves).map(toHex),
      seal: seals[0],
    };
  }

  it("verifies a proof with nothing but the public key, and rejects a tampered one", async () => {
    const path = join(dir, "proof.json");
    writeFileSync(path, JSON.stringify(await proofOf(1)));
    const good = verify("--proof", path);
    expect(good.output).toContain("event e-2 is leaf 1 of 3 in the seal ending 10000, signed by k1");
    expect(good.status).toBe(0);
    const proof = JSON.parse(readFileSync(path, "utf8"));
    writeFileSync(path, JSON.stringify({ ...proof, sealed_row: { ...proof.sealed_row, bytes: 99 } }));
    expect(verify("--proof", path).status).toBe(1);
    writeFileSync(path, JSON.stringify({ ...proof, leaf_index: 2 }));
    expect(verify("--proof", path).output).toContain("the audit path does not lead to the seal's root");
    const untrusted: PublicJwk = { ...key.publicJwk, x: (await newKey("k1")).publicJwk.x };
    writeFileSync(join(dir, "other-keys.json"), JSON.stringify([untrusted]));
    writeFileSync(path, JSON.stringify(proof));
    expect(verify("--proof", path, "--keys", join(dir, "other-keys.json")).output).toContain("bad signature");
  });
});
