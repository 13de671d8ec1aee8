// A 100-record metadata-PDF bundle end to end: POST /v1/bundles → job polled until completed → signed ZIP downloaded.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { percentile, sampleProcess } from "../lib/load.mjs";
import { root } from "../lib/server.mjs";

const RECORDS = 100;
const POLL_EVERY_MS = 100;
const GIVE_UP_MS = 120_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds from POST /v1/bundles to the last byte of the ZIP, and the ZIP's size. */
async function bundleOnce(ctx, recordIds, key) {
  const started = performance.now();
  const accepted = await ctx.api.call("/v1/bundles", { method: "POST", key, body: { record_ids: recordIds } });
  let job;
  do {
    await sleep(POLL_EVERY_MS);
    job = await ctx.api.call(`/v1/jobs/${accepted.job.id}`, { key });
  } while ((job.status === "pending" || job.status === "processing") && performance.now() - started < GIVE_UP_MS);
  if (job.status !== "completed") throw new Error(`bundle job ended ${job.status}: ${job.message}`);
  const download = await fetch(job.result.url);
  if (!download.ok) throw new Error(`bundle download → ${download.status}`);
  const bytes = (await download.arrayBuffer()).byteLength;
  return { seconds: (performance.now() - started) / 1000, bytes };
}

export default {
  name: "bundle-pdf",
  description: "100-record metadata-PDF ZIP bundle, end to end (create, job, signed download), sequential runs",
  order: 60,
  async run(ctx) {
    const metadata = JSON.parse(await readFile(path.join(root, "test", "fixtures", "metadata", "datacite4-dataset.json"), "utf8"));
    const recordIds = Array.from({ length: RECORDS }, (_, i) => `bench-bundle-${i}`);
    for (const id of recordIds)
      await ctx.api.call(`/v1/records/${id}`, { method: "PUT", body: { title: `Benchmark record ${id}`, schema: "datacite4", metadata, public: true } });
    const runs = ctx.options.full ? 10 : 3;
    const results = [];
    const sampler = sampleProcess(ctx.server.workerdPid);
    for (let run = 0; run < runs; run++) results.push(await bundleOnce(ctx, recordIds, ctx.keys.ingest[run % ctx.keys.ingest.length]));
    const { peakRssMb, cpuPercent } = await sampler.stop();
    const seconds = results.map((result) => result.seconds).sort((a, b) => a - b);
    return {
      figures: { p50Ms: percentile(seconds, 50) * 1000, p99Ms: seconds.at(-1) * 1000, peakRssMb, workerdCpuPercent: cpuPercent },
      notes: [`${runs} sequential bundles of ${RECORDS} DataCite records (PDFs only, idle server); p99 column = slowest run (the first includes cold starts); ZIP ${results[0].bytes.toLocaleString("en-US")} bytes`],
      targets: [{ metric: "p99Ms", op: "<=", value: 5000, label: "100-record bundle ≤ 5 s" }],
      details: { results },
    };
  },
};
