import { describe, expect, it } from "vitest";
import {
  CHUNK_LEAVES,
  EMPTY_ROOT,
  fromHex,
  leafHash,
  pathFromChunks,
  pathOfNodes,
  rootFromInclusionProof,
  rootOfNodes,
  toHex,
  TreeBuilder,
} from "../../../src/core/integrity/merkle";

// The RFC 6962 / RFC 9162 reference leaves and tree heads used by Certificate Transparency implementations
// (transparency-dev/merkle testonly constants), used as data only.
const INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(fromHex);
const ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
// Inclusion proofs from the same vectors: 0-based leaf index, tree size, audit path.
const INCLUSION: [number, number, string[]][] = [
  [0, 1, []],
  [0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]],
  [5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
  [2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]],
  [1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]],
];
const LEAVES = INPUTS.map(leafHash);

describe("RFC 9162 tree hash", () => {
  it("matches the reference roots for every size 0..8, built incrementally and recursively", () => {
    expect(toHex(EMPTY_ROOT)).toBe(ROOTS[0]);
    const tree = new TreeBuilder();
    expect(toHex(tree.root())).toBe(ROOTS[0]);
    LEAVES.forEach((leaf, index) => {
      tree.push(leaf);
      expect(toHex(tree.root()), `size ${index + 1}`).toBe(ROOTS[index + 1]);
      expect(toHex(rootOfNodes(LEAVES.slice(0, index + 1))), `size ${index + 1}`).toBe(ROOTS[index + 1]);
    });
  });

  it("produces the reference audit paths, and they lead to the reference roots", () => {
    for (const [index, size, path] of INCLUSION) {
      expect(pathOfNodes(index, LEAVES.slice(0, size)).map(toHex)).toEqual(path);
      const root = rootFromInclusionProof(index, size, LEAVES[index]!, path.map(fromHex));
      expect(root && toHex(root)).toBe(ROOTS[size]);
    }
  });

  it("rejects a proof with a wrong index, size, leaf, or a changed, shortened or lengthened path", () => {
    const [index, size, hexPath] = INCLUSION[2]!;
    const path = hexPath.map(fromHex);
    const leads = (i: number, n: number, leaf: Uint8Array, p: Uint8Array[]) => {
      const root = rootFromInclusionProof(i, n, leaf, p);
      return root !== null && toHex(root) === ROOTS[size];
    };
    expect(leads(index, size, LEAVES[index]!, path)).toBe(true);
    expect(leads(index - 1, size, LEAVES[index]!, path)).toBe(false);
    expect(leads(index + 1, size, LEAVES[index]!, path)).toBe(false);
    expect(leads(index, size * 2, LEAVES[index]!, path)).toBe(false);
    expect(leads(index, size / 2, LEAVES[index]!, path)).toBe(false);
    expect(leads(index, size, LEAVES[index - 1]!, path)).toBe(false);
    const flipped = path.map((hash) => hash.slice());
    flipped[1]![0]! ^= 8;
    expect(leads(index, size, LEAVES[index]!, flipped)).toBe(false);
    expect(leads(index, size, LEAVES[index]!, path.slice(0, -1))).toBe(false);
    expect(leads(index, size, LEAVES[index]!, [...path, fromHex(ROOTS[size]!)])).toBe(false);
    expect(rootFromInclusionProof(size, size, LEAVES[0]!, path)).toBeNull();
  });

  it("keeps the roots of aligned 256-leaf chunks, and proofs from chunks equal proofs from all leaves", () => {
    const leaves = Array.from({ length: 3 * CHUNK_LEAVES + 41 }, (_, i) => leafHash(new Uint8Array([i & 0xff, i >> 8, 7])));
    const tree = new TreeBuilder();
    for (const leaf of leaves) tree.push(leaf);
    expect(tree.chunkRoots.map(toHex)).toEqual([0, 1, 2].map((c) => toHex(rootOfNodes(leaves.slice(c * CHUNK_LEAVES, (c + 1) * CHUNK_LEAVES)))));
    expect(toHex(tree.root())).toBe(toHex(rootOfNodes(leaves)));
    const chunkRoots = [...tree.chunkRoots, rootOfNodes(leaves.slice(3 * CHUNK_LEAVES))];
    for (const index of [0, 1, 255, 256, 300, 511, 512, 767, 768, 790, leaves.length - 1]) {
      const chunk = Math.floor(index / CHUNK_LEAVES);
      const fromChunks = pathFromChunks(index, leaves.slice(chunk * CHUNK_LEAVES, (chunk + 1) * CHUNK_LEAVES), chunkRoots);
      expect(fromChunks.map(toHex), `leaf ${index}`).toEqual(pathOfNodes(index, leaves).map(toHex));
      expect(toHex(rootFromInclusionProof(index, leaves.length, leaves[index]!, fromChunks)!)).toBe(toHex(tree.root()));
    }
  });

  it("agrees with the recursive definition for every size up to 300", () => {
    const leaves = Array.from({ length: 300 }, (_, i) => leafHash(new Uint8Array([i & 0xff, i >> 8])));
    const tree = new TreeBuilder();
    leaves.forEach((leaf, index) => {
      tree.push(leaf);
      expect(toHex(tree.root())).toBe(toHex(rootOfNodes(leaves.slice(0, index + 1))));
    });
  });
});
