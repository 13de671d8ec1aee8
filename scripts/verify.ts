// Offline verifier: checks seal files, exported rows and proofs against the seal public keys, with no network and no
// service. `npm run verify -- <dir> [--keys keys.json] [--partial]` or `npm run verify -- --proof proof.json [--keys keys.json]`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { checkChain, checkProof, checkWindows, type Finding, type ProofFile } from "../src/core/integrity/offline";
import type { PublicJwk, SignedSeal } from "../src/core/integrity/signing";

const usage = `usage: npm run verify -- <dir> [--keys keys.json] [--partial]
       npm run verify -- --proof proof.json [--keys keys.json]
  <dir>     seal files (seals/**/<to>.json) and rows: archives (*.ndjson.gz) or GET /v1/integrity/rows exports (*.ndjson)
  --keys    the answer of GET /v1/integrity/keys (default: keys.json in <dir> or next to the proof)
  --partial windows without any row in <dir> are reported as not checked instead of failing`;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** Keys from GET /v1/integrity/keys's answer, a JWK, or an array of JWKs. */
function loadKeys(path: string): Map<string, PublicJwk> {
  const parsed = JSON.parse(readFileSync(path, "utf8")) as { keys?: { key_id: string; jwk: PublicJwk }[] } | PublicJwk | PublicJwk[];
  const jwks: PublicJwk[] = Array.isArray(parsed) ? parsed : "keys" in parsed && parsed.keys ? parsed.keys.map((key) => ({ ...key.jwk, kid: key.key_id })) : [parsed as PublicJwk];
  return new Map(jwks.map((jwk) => [jwk.kid, jwk]));
}

const isSeal = (value: unknown): value is SignedSeal =>
  typeof value === "object" && value !== null && "root" in value && "signature" in value && "previous_seal_hash" in value;

function ndjson(path: string): Record<string, unknown>[] {
  const text = path.endsWith(".gz") ? gunzipSync(readFileSync(path)).toString("utf8") : readFileSync(path, "utf8");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function verifyDirectory(dir: string, keys: Map<string, PublicJwk>, partial: boolean): Promise<Finding[]> {
  const seals: SignedSeal[] = [];
  const rows = new Map<string, Record<string, unknown>>();
  const findings: Finding[] = [];
  for (const path of files(dir)) {
    if (path.endsWith(".ndjson") || path.endsWith(".ndjson.gz")) {
      for (const row of ndjson(path)) {
        const id = String(row.id);
        const known = rows.get(id);
        if (known && JSON.stringify(known) !== JSON.stringify(row)) findings.push({ ok: false, message: `row ${id} differs between two files (one is ${path})` });
        rows.set(id, row);
      }
    } else if (path.endsWith(".json")) {
      const value: unknown = JSON.parse(readFileSync(path, "utf8"));
      if (isSeal(value)) seals.push(value);
    }
  }
  if (seals.length === 0) return [{ ok: false, message: `no seal files under ${dir}` }];
  findings.push(...(await checkChain(seals, keys)));
  let checked = seals;
  if (partial) {
    const received = [...rows.values()].map((row) => Number(row.received_at));
    checked = seals.filter((seal) => seal.tree_size === 0 || received.some((at) => seal.from <= at && at < seal.to));
    if (checked.length < seals.length) findings.push({ ok: true, message: `${seals.length - checked.length} window(s) without rows here: not checked (--partial)` });
  }
  findings.push(...checkWindows(checked, [...rows.values()]));
  return findings;
}

async function main(args: string[]): Promise<number> {
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args.splice(at, 2)[1] : undefined;
  };
  const partial = args.includes("--partial");
  if (partial) args.splice(args.indexOf("--partial"), 1);
  const keysPath = option("--keys");
  const proofPath = option("--proof");
  const target = proofPath ?? args[0];
  if (!target || (!proofPath && args.length !== 1)) {
    console.error(usage);
    return 2;
  }
  const keys = loadKeys(keysPath ?? join(proofPath ? dirname(proofPath) : target, "keys.json"));
  const findings = proofPath
    ? await checkProof(JSON.parse(readFileSync(proofPath, "utf8")) as ProofFile, keys)
    : await verifyDirectory(target, keys, partial);
  for (const finding of findings) console.log(`${finding.ok ? "ok  " : "FAIL"} ${finding.message}`);
  const failed = findings.filter((finding) => !finding.ok).length;
  console.log(failed === 0 ? "verified" : `${failed} problem(s)`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
