import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { SEALED_COLUMNS } from "../../../src/core/integrity/canonical";
import { sealKey, SEALING_WATERMARK } from "../../../src/core/integrity/seals";
import { sealHashOf, signingKeyOf, signStatement, type SignedSeal } from "../../../src/core/integrity/signing";
import { restoreArchive } from "../../../src/core/retention/archive";
import { readState } from "../../../src/core/retention/maintenance";
import { runRetention } from "../../../src/core/retention/retention";
import { clearAll, config, OTHER_KEY, problems, rowsAt, sealUntil, verification } from "./fixtures";

const DAY = 86_400_000;
const T = Math.floor((Date.now() - 2 * DAY) / 1000) * 1000;

interface SealRow {
  seq: number;
  from_ms: number;
  to_ms: number;
  tree_size: number;
  root: string;
  previous_seal_hash: string;
  seal_hash: string;
  key_id: string;
  signature: string;
  sealed_at: number;
  version: number;
}

const seals = async () => (await env.DB.prepare("SELECT * FROM integrity_seals ORDER BY seq").all<SealRow>()).results;
const run = (sql: string, ...params: unknown[]) => env.DB.prepare(sql).bind(...params).run();

/** Four windows: 5 rows, 3 rows, none, 2 rows. */
async function fourWindows(): Promise<void> {
  await rowsAt("a", [T + 1000, T + 2000, T + 3000, T + 4000, T + 5000]);
  await sealUntil(T + 10_000);
  await rowsAt("b", [T + 11_000, T + 12_000, T + 13_000]);
  await sealUntil(T + 20_000);
  await sealUntil(T + 30_000);
  await rowsAt("c", [T + 31_000, T + 32_000]);
  await sealUntil(T + 40_000);
}

describe("sealing", () => {
  beforeEach(clearAll);

  it("seals consecutive windows, chained, in D1 and R2; an empty window still gets a seal", async () => {
    await fourWindows();
    const rows = await seals();
    expect(rows.map((seal) => [seal.from_ms, seal.to_ms, seal.tree_size])).toEqual([
      [0, T + 10_000, 5],
      [T + 10_000, T + 20_000, 3],
      [T + 20_000, T + 30_000, 0],
      [T + 30_000, T + 40_000, 2],
    ]);
    expect(rows[0]!.previous_seal_hash).toBe("0".repeat(64));
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.previous_seal_hash).toBe(rows[i - 1]!.seal_hash);
    // The empty window's root is MTH({}) = SHA-256("").
    expect(rows[2]!.root).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const file = await env.BUCKET.get(sealKey(T + 20_000));
    const published = (await file!.json()) as SignedSeal;
    expect(published).toMatchObject({ version: 2, from: T + 10_000, to: T + 20_000, tree_size: 3, root: rows[1]!.root, key_id: "test-2026-11", seal_hash: rows[1]!.seal_hash });
    expect(await sealHashOf(published)).toBe(rows[1]!.seal_hash);
    expect(await problems()).toEqual([]);
  });

  it("seals nothing newer than now − margin, and nothing twice", async () => {
    await rowsAt("a", [T + 1000]);
    const first = await sealUntil(T + 10_000);
    expect(first.sealed).toHaveLength(1);
    const again = await sealUntil(T + 10_000);
    expect(again.sealed).toEqual([]);
    expect(again.sealed_to).toBe(T + 10_000);
  });

  it("cuts a window holding more than SEAL_MAX_WINDOW_ROWS rows, never splitting one receipt instant", async () => {
    await rowsAt("a", [T + 1000, T + 1000, T + 2000, T + 3000, T + 4000]);
    const { sealPending } = await import("../../../src/core/integrity/seals");
    await sealPending(env, { ...config(), sealMaxWindowRows: 2 }, { now: T + 10_000 + config().sealMarginMs });
    expect((await seals()).map((seal) => [seal.to_ms, seal.tree_size])).toEqual([
      [T + 2000, 2],
      [T + 4000, 2],
      [T + 10_000, 1],
    ]);
    expect(await problems()).toEqual([]);
  });

  it("puts a row flushed after its window was sealed into the next window (late flush), keeping both windows valid", async () => {
    await rowsAt("a", [T + 1000, T + 2000]);
    await sealUntil(T + 10_000);
    expect(await readState(env.DB, SEALING_WATERMARK)).toBe(T + 10_000);
    await rowsAt("late", [T + 1500]);
    const late = await env.DB.prepare("SELECT received_at FROM events WHERE id = 'late-0'").first<{ received_at: number }>();
    expect(late!.received_at).toBe(T + 10_000);
    await sealUntil(T + 20_000);
    expect((await seals()).map((seal) => seal.tree_size)).toEqual([2, 1]);
    expect(await problems()).toEqual([]);
  });
});

describe("verification catches tampering", () => {
  beforeEach(async () => {
    await clearAll();
    await fourWindows();
  });

  it("a change to any one sealed field of one row, naming the rows of the chunk that differs", async () => {
    for (const column of SEALED_COLUMNS) {
      const original = await env.DB.prepare(`SELECT ${column} AS value FROM events WHERE id = 'a-2'`).first<{ value: string | number | null }>();
      const value = original!.value;
      const changed = typeof value === "number" ? value + 1 : `${value ?? ""}x`;
      const where = column === "id" ? "a-2x" : "a-2";
      await run(`UPDATE events SET ${column} = ?1 WHERE id = 'a-2'`, changed);
      const progress = await verification();
      expect(progress.problems.map((problem) => problem.kind), column).toEqual(["root_differs"]);
      expect(progress.problems[0]).toMatchObject({ from: 0, to: T + 10_000, rows: ["a-0", "a-4"] });
      await run(`UPDATE events SET ${column} = ?1 WHERE id = ?2`, value, where);
    }
    expect(await problems()).toEqual([]);
  });

  it("a deleted row", async () => {
    await run("DELETE FROM events WHERE id = 'b-1'");
    const progress = await verification();
    expect(progress.problems).toEqual([expect.objectContaining({ kind: "count_differs", from: T + 10_000, to: T + 20_000, detail: "sealed 3 rows, found 2" })]);
  });

  it("a forged row inserted into a sealed window", async () => {
    await run(
      `INSERT INTO events (id, occurred_at, received_at, action, status, resource_type, resource_id)
       VALUES ('forged', ?1, ?1, 'download', 'success', 'dataset', 'ds-9')`,
      T + 12_500,
    );
    expect(await problems()).toEqual(["count_differs"]);
  });

  it("reordered receipt times", async () => {
    await run("UPDATE events SET received_at = ?1 WHERE id = 'a-1'", T + 4000);
    await run("UPDATE events SET received_at = ?1 WHERE id = 'a-3'", T + 2000);
    expect(await problems()).toEqual(["root_differs"]);
  });

  it("a deleted seal: from D1 only (its R2 copy remains), and from both", async () => {
    await run("DELETE FROM integrity_seals WHERE seq = 2");
    expect(new Set(await problems())).toEqual(new Set(["seal_missing", "chain_broken"]));
    await env.BUCKET.delete(sealKey(T + 20_000));
    const found = await verification();
    expect(found.problems.map((problem) => problem.kind)).toEqual(["seal_missing", "chain_broken"]);
    expect(found.problems[0]).toMatchObject({ from: T + 20_000, detail: expect.stringContaining(`[${T + 10_000}, ${T + 20_000})`) });
  });

  it("two consecutive deleted seals (from D1 and R2)", async () => {
    await run("DELETE FROM integrity_seals WHERE seq IN (2, 3)");
    await env.BUCKET.delete([sealKey(T + 20_000), sealKey(T + 30_000)]);
    const found = await verification();
    expect(found.problems.map((problem) => problem.kind)).toEqual(["seal_missing", "chain_broken"]);
    expect(found.problems[0]!.detail).toContain(`[${T + 10_000}, ${T + 30_000})`);
  });

  it("the latest seal deleted from D1 (its R2 copy remains)", async () => {
    await run("DELETE FROM integrity_seals WHERE seq = 4");
    expect(await problems()).toEqual(["seal_missing"]);
  });

  it("an altered root", async () => {
    await run("UPDATE integrity_seals SET root = ?1 WHERE seq = 2", "ab".repeat(32));
    expect(new Set(await problems())).toEqual(new Set(["bad_signature", "chain_broken", "root_differs", "seal_copy_differs"]));
  });

  it("a seal re-signed with another key, under its own id or the trusted key's id", async () => {
    const original = (await seals())[1]!;
    const statement = { version: 1, from: original.from_ms, to: original.to_ms, tree_size: 2, root: original.root, previous_seal_hash: original.previous_seal_hash, sealed_at: original.sealed_at };
    for (const [keyId, expected] of [["test-other", "unknown_key"], ["test-2026-11", "bad_signature"]] as const) {
      const other = await signingKeyOf(OTHER_KEY);
      const forged = await signStatement({ ...other, keyId }, { ...statement, key_id: keyId });
      await run("UPDATE integrity_seals SET tree_size = 2, key_id = ?1, signature = ?2, seal_hash = ?3 WHERE seq = 2", keyId, forged.signature, forged.seal_hash);
      expect(await problems(), keyId).toContain(expected);
    }
  });
});

describe("retention keeps windows provable", () => {
  const now = Date.now();
  const R = now - 3 * 3_600_000;
  const oldDay = now - 200 * DAY;

  beforeEach(async () => {
    await clearAll();
    await rowsAt("old", [R + 1000, R + 2000, R + 3000], oldDay);
    await rowsAt("new", [R + 4000]);
    await sealUntil(R + 10_000);
  });

  it("verifies a window from its archive after retention, and from D1 again after a restore", async () => {
    const retention = await runRetention(env, config(), { now });
    expect(retention.deleted).toBe(3);
    expect(await problems(0, now)).toEqual([]);
    const restored = await restoreArchive(env.BUCKET, env.DB, retention.archived[0]!);
    expect(restored.restored).toBe(3);
    const back = await env.DB.prepare("SELECT received_at FROM events WHERE id = 'old-0'").first<{ received_at: number }>();
    expect(back!.received_at).toBe(R + 1000);
    expect(await problems(0, now)).toEqual([]);
  });

  it("catches an archive object edited after retention", async () => {
    const retention = await runRetention(env, config(), { now });
    const key = retention.archived[0]!;
    const object = await env.BUCKET.get(key);
    const text = await new Response(object!.body.pipeThrough(new DecompressionStream("gzip"))).text();
    const edited = text.replace('"bytes":101', '"bytes":9101');
    expect(edited).not.toBe(text);
    const gzip = await new Response(new Blob([edited]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
    await env.BUCKET.put(key, gzip, { customMetadata: object!.customMetadata });
    const found = await verification(0, now);
    expect(found.problems.map((problem) => problem.kind)).toEqual(["root_differs"]);
  });
});

describe("retention of rows not sealed yet", () => {
  beforeEach(clearAll);

  it("archives them but keeps them in D1 until their window is sealed, so the seal covers them", async () => {
    const now = Date.now();
    const R = now - 3 * 3_600_000;
    await rowsAt("a", [R + 1000]);
    await sealUntil(R + 10_000);
    // Imported history: occurred 200 days ago, received after the last seal.
    await rowsAt("old", [R + 20_000], now - 200 * DAY);
    const first = await runRetention(env, config(), { now });
    expect(first).toMatchObject({ events: 1, deleted: 0 });
    await sealUntil(R + 30_000);
    expect((await seals()).map((seal) => seal.tree_size)).toEqual([1, 1]);
    const second = await runRetention(env, config(), { now });
    expect(second.deleted).toBe(1);
    expect(await problems(0, now)).toEqual([]);
  });
});
