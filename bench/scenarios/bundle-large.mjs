// A bundle with one very large file (600 MB by default) built while GET /health is probed: a job must not stall other requests.
import { percentile, sampleProcess } from "../lib/load.mjs";
import { probeLatency } from "../lib/probe.mjs";

const MB = 1_000_000;
const POLL_EVERY_MS = 250;
const GIVE_UP_MS = 20 * 60_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `size` bytes of pseudo-random data (xorshift), generated while it is sent: nothing is written to disk. */
function generatedBody(size, seed = 1) {
  const chunkSize = 1 << 20;
  let sent = 0;
  let state = seed;
  return new ReadableStream({
    pull(controller) {
      if (sent >= size) return controller.close();
      const chunk = new Uint8Array(Math.min(chunkSize, size - sent));
      const words = new Uint32Array(chunk.buffer, 0, chunk.length >>> 2);
      for (let i = 0; i < words.length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        words[i] = state >>> 0;
      }
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

export default {
  name: "bundle-large",
  description: "ZIP bundle of a record with one 600 MB file (BUNDLE_LARGE_MB to change), GET /health probed throughout the build",
  order: 62,
  defaultRun: false,
  async run(ctx) {
    const megabytes = Number(process.env.BUNDLE_LARGE_MB ?? 600);
    const size = Math.round(megabytes * MB);
    const id = "bench-bundle-large";
    const key = ctx.keys.ingest[0];
    await ctx.api.call(`/v1/records/${id}`, {
      method: "PUT",
      body: { title: "Large-file record", schema: "datacite4", metadata: { data: { attributes: { titles: [{ title: "Large-file record" }], publisher: "Bench", publicationYear: 2026, creators: [] } } }, public: true },
    });
    ctx.log(`uploading a generated ${megabytes} MB file`);
    // The upload is probed too: it streams the file into R2 with no work of the job, so it shows what local R2 itself costs.
    const duringUpload = probeLatency(`${ctx.server.appUrl}/health`);
    const upload = await fetch(`${ctx.server.appUrl}/v1/records/${id}/files/large.bin`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ctx.server.adminKey}`, "content-type": "application/octet-stream", "content-length": String(size) },
      body: generatedBody(size),
      duplex: "half",
    });
    if (!upload.ok) throw new Error(`upload → ${upload.status}: ${await upload.text()}`);
    const uploadHealth = await duringUpload.stop();

    const idle = probeLatency(`${ctx.server.appUrl}/health`);
    await sleep(3000);
    const idleHealth = await idle.stop();

    ctx.log("building the bundle; probing /health meanwhile");
    const sampler = sampleProcess(ctx.server.workerdPid);
    const probe = probeLatency(`${ctx.server.appUrl}/health`);
    const started = performance.now();
    const accepted = await ctx.api.call("/v1/bundles", { method: "POST", key, body: { record_ids: [id], include_files: true } });
    const statusLatencies = [];
    let job;
    do {
      await sleep(POLL_EVERY_MS);
      const asked = performance.now();
      job = await ctx.api.call(`/v1/jobs/${accepted.job.id}`, { key });
      statusLatencies.push(performance.now() - asked);
    } while ((job.status === "pending" || job.status === "processing") && performance.now() - started < GIVE_UP_MS);
    const buildSeconds = (performance.now() - started) / 1000;
    const health = await probe.stop();
    const { peakRssMb, cpuPercent } = await sampler.stop();
    if (job.status !== "completed") throw new Error(`bundle job ended ${job.status}: ${job.message}`);
    const sortedStatus = statusLatencies.sort((a, b) => a - b);
    return {
      label: `bundle-large /health (${megabytes} MB)`,
      figures: { p50Ms: health.p50Ms, p99Ms: health.p99Ms, peakRssMb, workerdCpuPercent: cpuPercent },
      notes: [
        `GET /health back to back while a bundle of one ${megabytes} MB file was built (${buildSeconds.toFixed(1)} s, ZIP ${job.result.zip_size.toLocaleString("en-US")} bytes): ` +
          `${health.requests} requests, ${health.failures} failed, max ${Math.round(health.maxMs)} ms; idle before: p99 ${Math.round(idleHealth.p99Ms)} ms; ` +
          `during the upload of the file (R2 alone): p50 ${Math.round(uploadHealth.p50Ms)} ms, p99 ${Math.round(uploadHealth.p99Ms)} ms`,
        `GET /v1/jobs/{id} polls meanwhile: p50 ${Math.round(percentile(sortedStatus, 50))} ms, p99 ${Math.round(percentile(sortedStatus, 99))} ms`,
        `/health slower than 200 ms (sent at s after the build started: ms): ${health.slow.map((probe) => `${(probe.sentAtMs / 1000).toFixed(1)}: ${probe.ms}`).join(", ") || "none"}`,
      ],
      targets: [{ metric: "p99Ms", op: "<=", value: 200, label: "/health p99 ≤ 200 ms during the build" }],
      details: { health, idleHealth, uploadHealth, buildSeconds, statusLatencies: sortedStatus, job },
    };
  },
};
