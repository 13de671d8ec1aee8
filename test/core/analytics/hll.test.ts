import { describe, expect, it } from "vitest";
import { HLL_PRECISION, HyperLogLog, mergeSerialised, parseUserHashes, sketchOf, UserCounter, userHashOf } from "../../../src/core/analytics/hll";
import { random } from "../../stats-fixtures";

/** 52-bit hashes from a seeded generator, like the 13 hex digits taken from an HMAC user key. */
function hashes(count: number, seed: number): number[] {
  const next = random(seed);
  return Array.from({ length: count }, () => Math.floor(next() * 2 ** 20) * 2 ** 32 + Math.floor(next() * 2 ** 32));
}

describe("HyperLogLog", () => {
  it("stays within the measured error bound from ten to a million users", () => {
    const standardError = 1.04 / Math.sqrt(2 ** HLL_PRECISION);
    const report: string[] = [];
    let worst = 0;
    for (const [cardinality, trials] of [[10, 50], [100, 50], [1_000, 40], [10_000, 20], [100_000, 10], [1_000_000, 3]] as const) {
      const errors: number[] = [];
      for (let trial = 0; trial < trials; trial++) {
        const estimate = HyperLogLog.of(hashes(cardinality, cardinality * 1000 + trial)).estimate();
        errors.push((estimate - cardinality) / cardinality);
      }
      const rms = Math.sqrt(errors.reduce((sum, error) => sum + error * error, 0) / errors.length);
      const max = Math.max(...errors.map(Math.abs));
      worst = Math.max(worst, max);
      report.push(`n=${cardinality}: rms ${(rms * 100).toFixed(2)} %, max ${(max * 100).toFixed(2)} % over ${trials} trials`);
      expect(rms, `n=${cardinality}`).toBeLessThan(1.5 * standardError);
      expect(max, `n=${cardinality}`).toBeLessThan(3 * standardError);
    }
    console.log(`HyperLogLog p=${HLL_PRECISION} (standard error ${(standardError * 100).toFixed(2)} %): ${report.join("; ")}; worst ${(worst * 100).toFixed(2)} %`);
  });

  it("merges daily sketches into exactly the sketch of the union", () => {
    const days = [hashes(3000, 1), hashes(5000, 2), hashes(100, 3)];
    days[1]!.push(...days[0]!.slice(0, 1500)); // users active on several days
    const merged = new HyperLogLog();
    for (const day of days) merged.merge(HyperLogLog.of(day));
    expect(merged.registers).toEqual(HyperLogLog.of(days.flat()).registers);
    const distinct = new Set(days.flat()).size;
    expect(Math.abs(merged.estimate() - distinct) / distinct).toBeLessThan(0.05);
  });

  it("round-trips through its sparse and dense serialisations", () => {
    for (const count of [0, 1, 50, 20_000]) {
      const sketch = HyperLogLog.of(hashes(count, 7));
      const text = sketch.serialise();
      expect(HyperLogLog.deserialise(text).registers).toEqual(sketch.registers);
      if (count <= 50) expect(text.length).toBeLessThan(300);
    }
    expect(() => HyperLogLog.deserialise(btoa("\u0009xyz"))).toThrow();
    for (const count of [0, 1, 7, 1365, 1366, 5000]) expect(sketchOf(hashes(count, count)), `n=${count}`).toBe(HyperLogLog.of(hashes(count, count)).serialise());
  });

  it("writes the text forms worked out by hand, and reads the base64 forms of older rows", () => {
    // 0xabc0001000000: register 0xabc; the 40-bit remainder 0x0001000000 = 2^24 has 15 leading zero bits, so rank 16 ('0' + 16 = '@').
    expect(HyperLogLog.of([0xabc0001000000]).serialise()).toBe("sabc@");
    // Remainder 0: rank 41 ('Y'); remainder 0xfffffffff0: rank 1 ('1'). Registers are listed in index order.
    expect(HyperLogLog.of([0x0010000000000, 0x000fffffffff0]).serialise()).toBe("s0001001Y");
    // 1,024 used registers or more: one character per register is shorter ("d" + 4,096).
    const dense = HyperLogLog.of(Array.from({ length: 1024 }, (_, index) => index * 4 * 2 ** 40 + 2 ** 39)).serialise();
    expect(dense).toHaveLength(4097);
    expect(dense.slice(0, 6)).toBe("d10001");
    const byte = (values: number[]) => btoa(String.fromCharCode(...values));
    // Legacy sparse base64: format 1, then (index high, index low, rank) triples.
    expect(HyperLogLog.deserialise(byte([1, 0x0a, 0xbc, 16])).serialise()).toBe("sabc@");
    const legacyDense = new Array(4097).fill(0);
    legacyDense[0] = 2;
    legacyDense[1 + 5] = 3;
    expect(HyperLogLog.deserialise(byte(legacyDense)).serialise()).toBe("s0053");
    for (const bad of ["sab", "szzz1", "sabc" + String.fromCharCode(48 + 42), "d123", byte([3, 1, 2])])
      expect(() => mergeSerialised(new Uint8Array(4096), bad), JSON.stringify(bad)).toThrow();
  });

  it("reads user hashes as rollups store them", () => {
    const keys = ["a3f9c2e1b7d4509182736455", "0000000000001fffffffffff", "ffffffffffffff0000000000"];
    const stored = keys.map((key) => key.slice(0, 13)).join(",");
    expect(parseUserHashes(stored)).toEqual(keys.map(userHashOf));
    expect(parseUserHashes(null)).toEqual([]);
    expect(userHashOf("fffffffffffff")).toBe(2 ** 52 - 1);
  });
});

describe("UserCounter", () => {
  it("counts with a sketch from the start when created estimating", () => {
    const counter = new UserCounter(true);
    counter.addHashes(hashes(3, 21));
    expect(counter.estimated).toBe(true);
    // Three users in three of 4,096 registers: the estimate is 3.
    expect(counter.count()).toBe(3);
  });

  it("is exact until a sketch is merged in, then estimates and says so", () => {
    const counter = new UserCounter();
    counter.addHashes(hashes(500, 11));
    counter.addHashes(hashes(500, 11));
    expect(counter.count()).toBe(500);
    expect(counter.estimated).toBe(false);
    counter.addSerialised(HyperLogLog.of(hashes(400, 12)).serialise());
    counter.addHashes(hashes(100, 13));
    expect(counter.estimated).toBe(true);
    expect(Math.abs(counter.count() - 1000) / 1000).toBeLessThan(0.05);
  });
});
