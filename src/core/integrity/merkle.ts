// RFC 9162 §2.1 Merkle tree hash and inclusion proofs over SHA-256. Written here because no maintained package builds the
// root incrementally in O(log n) memory (a million-leaf window must not be held) or proves a leaf from stored subtree roots.
// SHA-256 is node:crypto's (native in Workers with nodejs_compat, and in Node for the offline verifier): synchronous, so
// two million hashes per million rows cost no promise each.
import { createHash } from "node:crypto";

const sha256 = (data: Uint8Array) => new Uint8Array(createHash("sha256").update(data).digest());

/** Leaves per stored chunk root: proofs read one chunk of rows instead of the whole window. A power of two. */
export const CHUNK_LEAVES = 256;

/** MTH({}) = SHA-256 of the empty string. */
export const EMPTY_ROOT = sha256(new Uint8Array(0));

/** MTH({d}) = SHA-256(0x00 ‖ d). */
export function leafHash(data: Uint8Array): Uint8Array {
  const input = new Uint8Array(data.length + 1);
  input.set(data, 1);
  return sha256(input);
}

/** SHA-256 of bytes that already start with the 0x00 leaf prefix (see canonicalBytes' `prefix`). */
export const prefixedLeafHash = (prefixed: Uint8Array) => sha256(prefixed);

/** An interior node: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(65);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 33);
  return sha256(input);
}

/** Largest power of two strictly less than n (n ≥ 2): RFC 9162's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Builds MTH(D[n]) leaf by leaf with a stack of complete subtrees (at most log2 n + 1 hashes). The root of every complete
 * aligned chunk of CHUNK_LEAVES leaves is kept in `chunkRoots` (n / 256 hashes: the proof index stored with the seal).
 */
export class TreeBuilder {
  private readonly stack: { hash: Uint8Array; size: number }[] = [];
  readonly chunkRoots: Uint8Array[] = [];
  size = 0;

  push(leaf: Uint8Array): void {
    let node = { hash: leaf, size: 1 };
    while (this.stack.length > 0 && this.stack.at(-1)!.size === node.size) {
      const left = this.stack.pop()!;
      node = { hash: nodeHash(left.hash, node.hash), size: left.size * 2 };
      // Each aligned chunk is completed by exactly one merge; larger merges only combine finished chunks.
      if (node.size === CHUNK_LEAVES) this.chunkRoots.push(node.hash);
    }
    this.stack.push(node);
    this.size++;
  }

  /** The root of the leaves pushed so far: the complete subtrees folded from the right, as the RFC's recursion splits. */
  root(): Uint8Array {
    if (this.stack.length === 0) return EMPTY_ROOT;
    let hash = this.stack.at(-1)!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) hash = nodeHash(this.stack[i]!.hash, hash);
    return hash;
  }
}

/** MTH over nodes that are already hashes (leaf hashes, or roots of equal aligned subtrees), split as RFC 9162 splits. */
export function rootOfNodes(nodes: Uint8Array[]): Uint8Array {
  if (nodes.length === 0) return EMPTY_ROOT;
  if (nodes.length === 1) return nodes[0]!;
  const k = splitPoint(nodes.length);
  return nodeHash(rootOfNodes(nodes.slice(0, k)), rootOfNodes(nodes.slice(k)));
}

/** PATH(m, D[n]) of RFC 9162 §2.1.3.1 over node hashes: the sibling hashes from the leaf up to the root. */
export function pathOfNodes(index: number, nodes: Uint8Array[]): Uint8Array[] {
  if (index < 0 || index >= nodes.length) throw new RangeError(`leaf ${index} is outside a tree of ${nodes.length}`);
  if (nodes.length === 1) return [];
  const k = splitPoint(nodes.length);
  return index < k
    ? [...pathOfNodes(index, nodes.slice(0, k)), rootOfNodes(nodes.slice(k))]
    : [...pathOfNodes(index - k, nodes.slice(k)), rootOfNodes(nodes.slice(0, k))];
}

/**
 * The audit path of leaf `index` in a tree of `size` leaves, from the leaves of its chunk and the roots of all chunks
 * (the last one possibly partial). Valid because every aligned chunk is a subtree of the RFC tree and the tree above the
 * chunks splits the chunk roots exactly as RFC 9162 splits leaves.
 */
export function pathFromChunks(index: number, chunkLeaves: Uint8Array[], chunkRootsOfTree: Uint8Array[]): Uint8Array[] {
  const chunk = Math.floor(index / CHUNK_LEAVES);
  return [...pathOfNodes(index % CHUNK_LEAVES, chunkLeaves), ...pathOfNodes(chunk, chunkRootsOfTree)];
}

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or null when the path has the wrong length for (index, size). */
export function rootFromInclusionProof(index: number, size: number, leaf: Uint8Array, path: Uint8Array[]): Uint8Array | null {
  if (index < 0 || index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (p.length !== 32 || sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export const toHex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");

export function fromHex(hex: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new Error("not lowercase hex");
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
