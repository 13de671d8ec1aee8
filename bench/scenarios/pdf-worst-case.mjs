// The metadata PDF of a worst-case public record (a 100,000-character word, text past the page cap), fetched without a key.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { percentile, sampleProcess } from "../lib/load.mjs";
import { probeLatency } from "../lib/probe.mjs";
import { root } from "../lib/server.mjs";

const WORD_LENGTH = 100_000;
const SUBJECTS = 3000;

/** A word of letters that never repeats a short pattern, so no layout cache can shortcut it. */
function longWord(length) {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  let state = 7;
  let word = "";
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    word += alphabet[state % alphabet.length];
  }
  return word;
}

export default {
  name: "pdf-worst-case",
  description: "metadata PDF of a public record with a 100,000-character word and 3,000 subjects (page cap reached), no key; /health probed meanwhile",
  order: 65,
  async run(ctx) {
    const fixture = JSON.parse(await readFile(path.join(root, "test", "fixtures", "metadata", "datacite4-dataset.json"), "utf8"));
    const attributes = fixture.data.attributes;
    const id = "bench-pdf-worst-case";
    const runs = ctx.options.full ? 10 : 3;
    const renders = [];
    let bytes = 0;
    const sampler = sampleProcess(ctx.server.workerdPid);
    const probe = probeLatency(`${ctx.server.appUrl}/health`);
    for (let run = 0; run < runs; run++) {
      // A new title each run changes the PDF's cache key, so every run renders.
      const metadata = {
        data: {
          ...fixture.data,
          attributes: {
            ...attributes,
            descriptions: [{ description: longWord(WORD_LENGTH), descriptionType: "Abstract" }],
            subjects: Array.from({ length: SUBJECTS }, (_, i) => ({ subject: `Worst-case subject ${i}` })),
          },
        },
      };
      await ctx.api.call(`/v1/records/${id}`, { method: "PUT", body: { title: `Worst-case record, run ${run}`, schema: "datacite4", metadata, public: true } });
      const started = performance.now();
      const response = await fetch(`${ctx.server.appUrl}/v1/records/${id}/metadata.pdf`);
      bytes = (await response.arrayBuffer()).byteLength;
      if (!response.ok) throw new Error(`metadata.pdf → ${response.status}`);
      renders.push(performance.now() - started);
    }
    const health = await probe.stop();
    const { peakRssMb, cpuPercent } = await sampler.stop();
    const sorted = [...renders].sort((a, b) => a - b);
    return [
      {
        label: "pdf-worst-case render",
        figures: { p50Ms: percentile(sorted, 50), p99Ms: sorted.at(-1), peakRssMb, workerdCpuPercent: cpuPercent },
        notes: [`${runs} renders (each of a changed record, so none is cached); p99 column = slowest; PDF ${bytes.toLocaleString("en-US")} bytes (50-page cap)`],
        targets: [{ metric: "p99Ms", op: "<=", value: 5000, label: "worst-case PDF ≤ 5 s" }],
        details: { renders },
      },
      {
        label: "pdf-worst-case /health",
        figures: { p50Ms: health.p50Ms, p99Ms: health.p99Ms },
        notes: [`GET /health back to back during the renders: ${health.requests} requests, ${health.failures} failed, max ${Math.round(health.maxMs)} ms`],
        details: { health },
      },
    ];
  },
};
