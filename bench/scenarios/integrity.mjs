// Ledger integrity over the seeded ledger: sealing (POST /v1/integrity/seal, as the cron does) of every window up to
// now − SEAL_MARGIN_SECONDS, a verification of all windows (POST /v1/integrity/verify, polled to the end), and the latency
// of inclusion proofs (GET /v1/integrity/proof/{id}). Runs before retention, which empties the ledger.
import { percentile } from "../lib/load.mjs";

const PROOFS = 50;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export default {
  name: "integrity",
  description: "seal time and verify time per 1M events, inclusion-proof latency p50 (seeded ledger)",
  order: 90,
  async run(ctx) {
    const seeded = await ctx.ensureSeeded(ctx.options.events);
    // Seal as the cron would, until the windows reach the end of the seeding (they trail now by the seal margin).
    const calls = [];
    const deadline = Date.now() + 15 * 60_000;
    for (;;) {
      const started = performance.now();
      const result = await ctx.api.call("/v1/integrity/seal", { method: "POST" });
      const ms = performance.now() - started;
      const rows = result.sealed.reduce((sum, seal) => sum + seal.tree_size, 0);
      if (rows > 0) calls.push({ ms, rows, windows: result.sealed.length });
      if ((result.sealed_to ?? 0) > seeded.finishedAt) break;
      if (Date.now() > deadline) throw new Error("sealing did not reach the end of the seeded ledger within 15 minutes");
      ctx.log(`sealed through ${new Date(result.sealed_to ?? 0).toISOString()}; waiting for the seal margin to pass the seeding`);
      await sleep(10_000);
    }
    const sealedRows = calls.reduce((sum, call) => sum + call.rows, 0);
    const sealSeconds = calls.reduce((sum, call) => sum + call.ms, 0) / 1000;
    const largest = calls.reduce((best, call) => (call.rows > (best?.rows ?? 0) ? call : best), null);

    const verifyStarted = performance.now();
    let verification = await ctx.api.call("/v1/integrity/verify", { method: "POST", body: { from: new Date(0).toISOString(), to: new Date().toISOString() } });
    while (verification.status === "pending") {
      await sleep(1_000);
      verification = await ctx.api.call(`/v1/integrity/verifications/${verification.id}`);
    }
    const verifySeconds = (performance.now() - verifyStarted) / 1000;

    const proofMs = [];
    let proofBytes = 0;
    for (let i = 0; i < PROOFS; i++) {
      // Seeded events carry client ids; the importing (admin) key resolves one to the stored id that proofs are keyed by.
      const { id } = await ctx.api.call(`/v1/events/seed-${Math.floor(((i + 0.5) / PROOFS) * seeded.count)}`);
      const started = performance.now();
      const proof = await ctx.api.call(`/v1/integrity/proof/${id}`, { key: ctx.keys.read[0] });
      proofMs.push(performance.now() - started);
      proofBytes += JSON.stringify(proof).length;
    }
    proofMs.sort((a, b) => a - b);
    const per1M = (seconds, rows) => (seconds / rows) * 1_000_000;
    return [
      {
        label: "integrity seal",
        figures: { eventsPerSecond: sealedRows / sealSeconds, secondsPer1M: per1M(sealSeconds, sealedRows) },
        notes: [
          `${sealedRows.toLocaleString("en-US")} rows sealed in ${sealSeconds.toFixed(1)} s by ${calls.length} request(s): ${per1M(sealSeconds, sealedRows).toFixed(1)} s per 1M events`,
          largest ? `largest single run: ${largest.rows.toLocaleString("en-US")} rows in ${largest.windows} window(s), ${(largest.ms / 1000).toFixed(1)} s` : "no rows sealed",
        ],
        targets: [{ metric: "secondsPer1M", op: "<=", value: 120, label: "1M events sealed in ≤ 120 s (one cron run)", atEvents: 1_000_000 }],
        details: { calls },
      },
      {
        label: "integrity verify",
        figures: { eventsPerSecond: verification.rows / verifySeconds, secondsPer1M: per1M(verifySeconds, verification.rows) },
        notes: [
          `${verification.windows} window(s), ${verification.rows.toLocaleString("en-US")} rows verified in ${verifySeconds.toFixed(1)} s (${verification.ok ? "ok" : `${verification.problems.length} problem(s)`}): ${per1M(verifySeconds, verification.rows).toFixed(1)} s per 1M events`,
        ],
        targets: [{ metric: "secondsPer1M", op: "<=", value: 120, label: "1M events verified in ≤ 120 s", atEvents: 1_000_000 }],
        details: { verification: { ...verification, problems: verification.problems.slice(0, 5) } },
      },
      {
        label: "integrity proof",
        figures: { p50Ms: percentile(proofMs, 50), p99Ms: proofMs.at(-1) },
        notes: [`${PROOFS} sequential proofs of seeded events (p99 column = slowest), ${Math.round(proofBytes / PROOFS)} bytes each on average`],
        targets: [{ metric: "p50Ms", op: "<=", value: 100, label: "proof p50 ≤ 100 ms", atEvents: 1_000_000 }],
        details: { proofMs },
      },
    ];
  },
};
