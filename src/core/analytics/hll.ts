// Distinct-user counting: exact sets of 52-bit user hashes, and HyperLogLog sketches (mergeable registers) stored with every
// success rollup row. Hand-written because the npm HyperLogLog packages are unmaintained, Node-only or use 32-bit hashes,
// and because the rollup writes its sketches inside SQLite (rollup.ts: sketchSql), which fixes the register layout; the
// estimator is Ertl's "improved raw estimator" (arXiv:1702.01284), unbiased over the whole range without the empirical
// bias tables of HLL++.

/** Hex digits of the user key (an HMAC-SHA256, uniformly distributed) that make the user hash: 52 bits, a safe JS integer. */
export const USER_HASH_HEX_DIGITS = 13;
const HASH_BITS = USER_HASH_HEX_DIGITS * 4;

/** 2^12 = 4,096 registers: standard error 1.04/√4096 ≈ 1.6 %, at most 4 KB per sketch. */
export const HLL_PRECISION = 12;
const REGISTERS = 1 << HLL_PRECISION;
const REMAINDER_BITS = HASH_BITS - HLL_PRECISION;
const REMAINDER_SPAN = 2 ** REMAINDER_BITS;
/** The largest rank a register can hold: a hash whose 40 remainder bits are all zero. */
export const MAX_RANK = REMAINDER_BITS + 1;
/** Rank r is stored as the character with code RANK_BASE + r ('0' = empty register). */
const RANK_BASE = 48;
/** Text formats: "s" + 4 characters per used register (3 hex digits of its index, its rank character), or "d" + one rank character per register. */
const SPARSE_TEXT = "s";
const DENSE_TEXT = "d";
/** Base64 formats written before sketches were stored with every rollup row (purged days); still read. */
const SPARSE_FORMAT = 1;
const DENSE_FORMAT = 2;

/**
 * SQL that aggregates user keys into the sparse text form, for rows grouped by the register (`registerSql`) holding the
 * highest rank (`max(rankSql)`) of the group: what `HyperLogLog.of(hashes).registers` holds, written inside SQLite so
 * that the rollup's INSERT … SELECT stores a sketch with every row. The register index is the first 3 hex digits
 * (HLL_PRECISION = 12 bits) of the key; the rank counts the leading zero bits of the next 10 digits (40 bits), plus one.
 */
export const sketchSql = {
  register: (userKey: string) => `substr(${userKey}, 1, 3)`,
  rank: (userKey: string) => {
    const significant = `ltrim(substr(${userKey}, 4, 10), '0')`;
    return `CASE WHEN ${significant} = '' THEN ${MAX_RANK} ELSE 4 * (10 - length(${significant})) + 1 + CASE substr(${significant}, 1, 1)
      WHEN '1' THEN 3 WHEN '2' THEN 2 WHEN '3' THEN 2 WHEN '4' THEN 1 WHEN '5' THEN 1 WHEN '6' THEN 1 WHEN '7' THEN 1 ELSE 0 END END`;
  },
  aggregate: (register: string, rank: string) => `'${SPARSE_TEXT}' || group_concat(${register} || char(${RANK_BASE} + ${rank}), '')`,
};

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

/** Serialised sketch of a set of hashes, as `HyperLogLog.of(hashes).serialise()` would give. */
export function sketchOf(hashes: number[]): string {
  return HyperLogLog.of(hashes).serialise();
}

const hexValue = new Int8Array(128).fill(-1);
for (let digit = 0; digit < 16; digit++) {
  hexValue["0123456789abcdef".charCodeAt(digit)] = digit;
  hexValue["0123456789ABCDEF".charCodeAt(digit)] = digit;
}

/** Raises `registers` to the maximum of themselves and a serialised sketch (text or legacy base64) without building a second sketch. */
export function mergeSerialised(registers: Uint8Array, text: string): void {
  const format = text[0];
  if (format === SPARSE_TEXT) {
    if ((text.length - 1) % 4 !== 0) throw new Error("not a serialised HyperLogLog sketch");
    for (let offset = 1; offset < text.length; offset += 4) {
      const a = hexValue[text.charCodeAt(offset)]!;
      const b = hexValue[text.charCodeAt(offset + 1)]!;
      const c = hexValue[text.charCodeAt(offset + 2)]!;
      const rank = text.charCodeAt(offset + 3) - RANK_BASE;
      if (a < 0 || b < 0 || c < 0 || rank < 1 || rank > MAX_RANK) throw new Error("not a serialised HyperLogLog sketch");
      const index = (a << 8) | (b << 4) | c;
      if (rank > registers[index]!) registers[index] = rank;
    }
    return;
  }
  if (format === DENSE_TEXT) {
    if (text.length !== 1 + REGISTERS) throw new Error("not a serialised HyperLogLog sketch");
    for (let index = 0; index < REGISTERS; index++) {
      const rank = text.charCodeAt(index + 1) - RANK_BASE;
      if (rank < 0 || rank > MAX_RANK) throw new Error("not a serialised HyperLogLog sketch");
      if (rank > registers[index]!) registers[index] = rank;
    }
    return;
  }
  const bytes = fromBase64(text);
  if (bytes[0] === DENSE_FORMAT && bytes.length === 1 + REGISTERS) {
    for (let index = 0; index < REGISTERS; index++) if (bytes[index + 1]! > registers[index]!) registers[index] = bytes[index + 1]!;
    return;
  }
  if (bytes[0] !== SPARSE_FORMAT || (bytes.length - 1) % 3 !== 0) throw new Error("not a serialised HyperLogLog sketch");
  for (let offset = 1; offset < bytes.length; offset += 3) {
    const index = (bytes[offset]! << 8) | bytes[offset + 1]!;
    if (bytes[offset + 2]! > registers[index]!) registers[index] = bytes[offset + 2]!;
  }
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

  /** The sparse text form (4 characters per used register) or the dense one (one character per register), whichever is shorter. */
  serialise(): string {
    let used = 0;
    for (const value of this.registers) if (value > 0) used++;
    if (used * 4 < REGISTERS) {
      let text = SPARSE_TEXT;
      this.registers.forEach((value, index) => {
        if (value > 0) text += index.toString(16).padStart(3, "0") + String.fromCharCode(RANK_BASE + value);
      });
      return text;
    }
    return DENSE_TEXT + String.fromCharCode(...Array.from(this.registers, (value) => RANK_BASE + value));
  }

  static deserialise(text: string): HyperLogLog {
    const sketch = new HyperLogLog();
    mergeSerialised(sketch.registers, text);
    return sketch;
  }

  static of(hashes: Iterable<number>): HyperLogLog {
    const sketch = new HyperLogLog();
    for (const hash of hashes) sketch.add(hash);
    return sketch;
  }
}

/**
 * Counts distinct users: exactly from user hashes until a sketch is merged in (a day whose raw rows were archived), from
 * then on with a HyperLogLog, and reports the result as estimated. Created `estimating`, it counts with the HyperLogLog
 * from the start, so an estimate is the same whether the rows it read came with sketches or with user sets.
 */
export class UserCounter {
  private exact: Set<number> | null;
  private sketch: HyperLogLog | null;

  constructor(estimating = false) {
    this.exact = estimating ? null : new Set();
    this.sketch = estimating ? new HyperLogLog() : null;
  }

  addHashes(hashes: Iterable<number>): void {
    if (this.exact) for (const hash of hashes) this.exact.add(hash);
    else for (const hash of hashes) this.sketch!.add(hash);
  }

  /** Merges a stored sketch (rollup.ts's text form or a legacy base64 one). */
  addSerialised(text: string): void {
    mergeSerialised(this.estimating().registers, text);
  }

  private estimating(): HyperLogLog {
    if (this.exact) {
      this.sketch = HyperLogLog.of(this.exact);
      this.exact = null;
    }
    return this.sketch!;
  }

  get estimated(): boolean {
    return this.exact === null;
  }

  count(): number {
    return this.exact ? this.exact.size : this.sketch!.estimate();
  }
}
