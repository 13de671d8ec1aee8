// Distinct-user counting: exact sets of 52-bit user hashes, and HyperLogLog sketches (mergeable registers) for days whose
// raw rows are gone. Hand-written because the npm HyperLogLog packages are unmaintained, Node-only or use 32-bit hashes;
// the estimator is Ertl's "improved raw estimator" (arXiv:1702.01284), unbiased over the whole range without the empirical
// bias tables of HLL++.

/** Hex digits of the user key (an HMAC-SHA256, uniformly distributed) that make the user hash: 52 bits, a safe JS integer. */
export const USER_HASH_HEX_DIGITS = 13;
const HASH_BITS = USER_HASH_HEX_DIGITS * 4;

/** 2^12 = 4,096 registers: standard error 1.04/√4096 ≈ 1.6 %, at most 4 KB per sketch. */
export const HLL_PRECISION = 12;
const REGISTERS = 1 << HLL_PRECISION;
const REMAINDER_BITS = HASH_BITS - HLL_PRECISION;
const REMAINDER_SPAN = 2 ** REMAINDER_BITS;
const SPARSE_FORMAT = 1;
const DENSE_FORMAT = 2;

/** The hashes of a rollup's `users` column (comma-separated 13-digit hex). */
export function parseUserHashes(users: string | null): number[] {
  if (!users) return [];
  const hashes: number[] = [];
  const step = USER_HASH_HEX_DIGITS + 1;
  for (let offset = 0; offset < users.length; offset += step) hashes.push(parseInt(users.slice(offset, offset + USER_HASH_HEX_DIGITS), 16));
  return hashes;
}

export function userHashOf(userKey: string): number {
  return parseInt(userKey.slice(0, USER_HASH_HEX_DIGITS), 16);
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let offset = 0; offset < bytes.length; offset += 8192) binary += String.fromCharCode(...bytes.subarray(offset, offset + 8192));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const previous = z;
    z += x * y;
    y += y;
    if (z === previous) return z;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const previous = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
    if (z === previous) return z / 3;
  }
}

const registerOf = (hash: number) => Math.floor(hash / REMAINDER_SPAN);

function rankOf(hash: number): number {
  const remainder = hash % REMAINDER_SPAN;
  const high = Math.floor(remainder / 2 ** 32);
  const highestBit = high > 0 ? 63 - Math.clz32(high) : remainder > 0 ? 31 - Math.clz32(remainder >>> 0) : -1;
  return REMAINDER_BITS - highestBit;
}

/** The sparse serialisation of a few hashes, without building the 4,096 registers (retention converts thousands of small sets). */
function sparseOf(hashes: number[]): string {
  const ranks = new Map<number, number>();
  for (const hash of hashes) {
    const index = registerOf(hash);
    ranks.set(index, Math.max(ranks.get(index) ?? 0, rankOf(hash)));
  }
  const indexes = [...ranks.keys()].sort((a, b) => a - b);
  const bytes = new Uint8Array(1 + indexes.length * 3);
  bytes[0] = SPARSE_FORMAT;
  indexes.forEach((index, i) => {
    bytes[1 + i * 3] = index >> 8;
    bytes[2 + i * 3] = index & 0xff;
    bytes[3 + i * 3] = ranks.get(index)!;
  });
  return toBase64(bytes);
}

/** Serialised sketch of a set of hashes, as `HyperLogLog.of(hashes).serialise()` would give. */
export function sketchOf(hashes: number[]): string {
  return hashes.length * 3 < REGISTERS ? sparseOf(hashes) : HyperLogLog.of(hashes).serialise();
}

export class HyperLogLog {
  readonly registers: Uint8Array;

  constructor(registers?: Uint8Array) {
    this.registers = registers ?? new Uint8Array(REGISTERS);
  }

  /** Adds a 52-bit user hash: its top bits choose the register, the rank of the rest is what the register keeps. */
  add(hash: number): void {
    const index = registerOf(hash);
    const rank = rankOf(hash);
    if (rank > this.registers[index]!) this.registers[index] = rank;
  }

  merge(other: HyperLogLog): void {
    for (let i = 0; i < REGISTERS; i++) if (other.registers[i]! > this.registers[i]!) this.registers[i] = other.registers[i]!;
  }

  estimate(): number {
    const histogram = new Array<number>(REMAINDER_BITS + 2).fill(0);
    for (const value of this.registers) histogram[value]!++;
    let z = REGISTERS * tau(1 - histogram[REMAINDER_BITS + 1]! / REGISTERS);
    for (let k = REMAINDER_BITS; k >= 1; k--) z = 0.5 * (z + histogram[k]!);
    z += REGISTERS * sigma(histogram[0]! / REGISTERS);
    return Math.round(REGISTERS * REGISTERS / (2 * Math.LN2) / z);
  }

  /** Base64 of the sparse form (3 bytes per used register) or the dense form (one byte per register), whichever is smaller. */
  serialise(): string {
    const used: number[] = [];
    this.registers.forEach((value, index) => {
      if (value > 0) used.push(index);
    });
    if (1 + used.length * 3 < 1 + REGISTERS) {
      const bytes = new Uint8Array(1 + used.length * 3);
      bytes[0] = SPARSE_FORMAT;
      used.forEach((index, i) => {
        bytes[1 + i * 3] = index >> 8;
        bytes[2 + i * 3] = index & 0xff;
        bytes[3 + i * 3] = this.registers[index]!;
      });
      return toBase64(bytes);
    }
    const bytes = new Uint8Array(1 + REGISTERS);
    bytes[0] = DENSE_FORMAT;
    bytes.set(this.registers, 1);
    return toBase64(bytes);
  }

  static deserialise(text: string): HyperLogLog {
    const bytes = fromBase64(text);
    if (bytes[0] === DENSE_FORMAT && bytes.length === 1 + REGISTERS) return new HyperLogLog(bytes.slice(1));
    if (bytes[0] !== SPARSE_FORMAT || (bytes.length - 1) % 3 !== 0) throw new Error("not a serialised HyperLogLog sketch");
    const sketch = new HyperLogLog();
    for (let offset = 1; offset < bytes.length; offset += 3) sketch.registers[(bytes[offset]! << 8) | bytes[offset + 1]!] = bytes[offset + 2]!;
    return sketch;
  }

  static of(hashes: Iterable<number>): HyperLogLog {
    const sketch = new HyperLogLog();
    for (const hash of hashes) sketch.add(hash);
    return sketch;
  }
}

/**
 * Counts distinct users exactly from user hashes until a sketch has to be merged in (a day whose raw rows were archived);
 * from then on it counts with a HyperLogLog and reports the result as estimated.
 */
export class UserCounter {
  private exact: Set<number> | null = new Set();
  private sketch: HyperLogLog | null = null;

  addHashes(hashes: Iterable<number>): void {
    if (this.exact) for (const hash of hashes) this.exact.add(hash);
    else for (const hash of hashes) this.sketch!.add(hash);
  }

  addSketch(sketch: HyperLogLog): void {
    if (this.exact) {
      this.sketch = HyperLogLog.of(this.exact);
      this.exact = null;
    }
    this.sketch!.merge(sketch);
  }

  get estimated(): boolean {
    return this.exact === null;
  }

  count(): number {
    return this.exact ? this.exact.size : this.sketch!.estimate();
  }
}
