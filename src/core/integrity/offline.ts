// Checks that need nothing but files and public keys: a proof file, a chain of seal files, and windows rebuilt from
// exported rows. Shared by the service's tests and the offline verifier (scripts/verify.ts), which runs under Node.
import { canonicalBytes, compareSealOrder, sealedRowOf, type SealedRow } from "./canonical";
import { bytesEqual, fromHex, leafHash, rootFromInclusionProof, toHex, TreeBuilder } from "./merkle";
import { GENESIS_SEAL_HASH, sealHashOf, signatureValid, type PublicJwk, type SignedSeal } from "./signing";

export interface Finding {
  ok: boolean;
  /** What was checked, or what is wrong with it. */
  message: string;
}

/** Signature (by a key in `keys`) and stated hash of one seal. */
async function sealFindings(seal: SignedSeal, keys: Map<string, PublicJwk>): Promise<Finding[]> {
  const key = keys.get(seal.key_id);
  if (!key) return [{ ok: false, message: `seal ending ${seal.to}: key ${seal.key_id} is not among the trusted keys` }];
  if (!(await signatureValid(seal, key))) return [{ ok: false, message: `seal ending ${seal.to}: bad signature` }];
  if ((await sealHashOf(seal)) !== seal.seal_hash) return [{ ok: false, message: `seal ending ${seal.to}: seal_hash does not match its contents` }];
  return [];
}

/**
 * The chain of seals, sorted by window: signatures, each `previous_seal_hash` against the seal before it, and windows
 * that neither overlap nor leave gaps. The first seal is trusted to start the chain unless it is the genesis seal.
 */
export async function checkChain(seals: SignedSeal[], keys: Map<string, PublicJwk>): Promise<Finding[]> {
  const findings: Finding[] = [];
  const sorted = [...seals].sort((a, b) => a.from - b.from);
  for (let i = 0; i < sorted.length; i++) {
    const seal = sorted[i]!;
    findings.push(...(await sealFindings(seal, keys)));
    const previous = sorted[i - 1];
    if (!previous) {
      if (seal.from === 0 && seal.previous_seal_hash !== GENESIS_SEAL_HASH)
        findings.push({ ok: false, message: `seal ending ${seal.to}: starts at 0 but does not name the genesis hash` });
      continue;
    }
    if (seal.from !== previous.to)
      findings.push({ ok: false, message: `no seal covers [${previous.to}, ${seal.from}): a seal is missing between ${previous.to} and ${seal.to}` });
    if (seal.previous_seal_hash !== (await sealHashOf(previous)))
      findings.push({ ok: false, message: `seal ending ${seal.to}: previous_seal_hash does not match the seal ending ${previous.to} (chain broken)` });
  }
  if (findings.length === 0) findings.push({ ok: true, message: `${sorted.length} seal(s): signatures and chain ok` });
  return findings;
}

/** Rebuilds every sealed window from `rows` (complete ledger rows, each id once) and compares count and root. */
export function checkWindows(seals: SignedSeal[], rows: Record<string, unknown>[]): Finding[] {
  const sorted = [...seals].sort((a, b) => a.from - b.from);
  const buckets = new Map<SignedSeal, SealedRow[]>(sorted.map((seal) => [seal, []]));
  const findings: Finding[] = [];
  for (const source of rows) {
    const row = sealedRowOf(source);
    const at = Number(row.received_at);
    let low = 0;
    let high = sorted.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (sorted[middle]!.from <= at) low = middle;
      else high = middle - 1;
    }
    const seal = sorted[low];
    if (seal && seal.from <= at && at < seal.to) buckets.get(seal)!.push(row);
  }
  for (const [seal, windowRows] of buckets) {
    windowRows.sort(compareSealOrder);
    const tree = new TreeBuilder();
    for (const row of windowRows) tree.push(leafHash(canonicalBytes(row, 0, seal.version)));
    const root = toHex(tree.root());
    if (tree.size !== seal.tree_size) findings.push({ ok: false, message: `window [${seal.from}, ${seal.to}): sealed ${seal.tree_size} rows, found ${tree.size}` });
    else if (root !== seal.root) findings.push({ ok: false, message: `window [${seal.from}, ${seal.to}): root differs (sealed ${seal.root}, found ${root})` });
  }
  const bad = findings.length;
  findings.push({ ok: bad === 0, message: `${sorted.length - bad} of ${sorted.length} window(s) match their seals` });
  return findings;
}

export interface ProofFile {
  event_id: string;
  sealed_row: SealedRow;
  canonical: string;
  leaf_hash: string;
  leaf_index: number;
  tree_size: number;
  audit_path: string[];
  seal: SignedSeal;
}

/** A proof from GET /v1/integrity/proof/{id}: the row's bytes, the leaf, the path to the seal's root, the signature. */
export async function checkProof(proof: ProofFile, keys: Map<string, PublicJwk>): Promise<Finding[]> {
  const findings: Finding[] = [];
  const bytes = canonicalBytes(sealedRowOf(proof.sealed_row as unknown as Record<string, unknown>), 0, proof.seal.version);
  if (toHex(bytes) !== proof.canonical) findings.push({ ok: false, message: "sealed_row does not encode to the canonical bytes given" });
  const leaf = leafHash(bytes);
  if (toHex(leaf) !== proof.leaf_hash) findings.push({ ok: false, message: "leaf_hash is not SHA-256(0x00 ‖ canonical)" });
  const at = Number(proof.sealed_row.received_at);
  if (!(proof.seal.from <= at && at < proof.seal.to)) findings.push({ ok: false, message: "the event's received_at is outside the seal's window" });
  if (proof.tree_size !== proof.seal.tree_size) findings.push({ ok: false, message: "tree_size differs from the seal's" });
  const root = rootFromInclusionProof(proof.leaf_index, proof.seal.tree_size, leaf, proof.audit_path.map(fromHex));
  if (!root || !bytesEqual(root, fromHex(proof.seal.root))) findings.push({ ok: false, message: "the audit path does not lead to the seal's root" });
  findings.push(...(await sealFindings(proof.seal, keys)));
  if (findings.length === 0) findings.push({ ok: true, message: `event ${proof.event_id} is leaf ${proof.leaf_index} of ${proof.tree_size} in the seal ending ${proof.seal.to}, signed by ${proof.seal.key_id}` });
  return findings;
}
