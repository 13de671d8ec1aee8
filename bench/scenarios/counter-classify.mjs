// Micro-benchmark of COUNTER classification (src/core/counter/classify.ts) in Node: the access method of a user agent
// (scripted-client list, then COUNTER's 327 robot patterns, compiled once) and the country, per event, in µs.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
  "curl/8.5.0",
  "python-requests/2.32.3",
  "libcurl/8.4.0 r-curl/5.2.0 httr/1.4.7",
  null,
];
const ROUNDS = 200_000;

export default {
  name: "counter-classify",
  description: "COUNTER classification per event (access method + country), µs per event, in Node",
  order: 5,
  async run(ctx) {
    const dir = await mkdtemp(path.join(os.tmpdir(), "counter-classify-"));
    try {
      const bundled = await build({
        entryPoints: [path.join(import.meta.dirname, "../../src/core/counter/classify.ts")],
        bundle: true,
        format: "esm",
        platform: "neutral",
        write: false,
      });
      const file = path.join(dir, "classify.mjs");
      await writeFile(file, bundled.outputFiles[0].text);
      const compileStarted = performance.now();
      const { accessMethodOf, countryOf } = await import(pathToFileURL(file).href);
      const loadMs = performance.now() - compileStarted;
      const tally = { regular: 0, machine: 0, robot: 0 };
      for (let i = 0; i < 20_000; i++) accessMethodOf(AGENTS[i % AGENTS.length]);
      const started = performance.now();
      for (let i = 0; i < ROUNDS; i++) {
        tally[accessMethodOf(AGENTS[i % AGENTS.length])]++;
        countryOf(i & 1 ? "de" : undefined, "ZA");
      }
      const perEventUs = ((performance.now() - started) * 1000) / ROUNDS;
      // Never-seen browser user agents (a unique suffix each): the full pattern scan, the cost of a cache miss.
      const missRounds = ROUNDS / 10;
      const missStarted = performance.now();
      for (let i = 0; i < missRounds; i++) accessMethodOf(`${AGENTS[i % 4]} build/${i}`);
      const browserUs = ((performance.now() - missStarted) * 1000) / missRounds;
      ctx.log(`classification: ${perEventUs.toFixed(2)} µs/event (repeated agents), ${browserUs.toFixed(2)} µs/event (new browser agents)`);
      return {
        label: "counter classification",
        figures: { eventsPerSecond: 1_000_000 / perEventUs },
        notes: [
          `${perEventUs.toFixed(2)} µs per event over a mix of browsers, robots, scripts and a missing user agent seen before (remembered answers); ${browserUs.toFixed(2)} µs for a never-seen browser agent (every pattern is tried)`,
          `module load with pattern compilation (once per isolate): ${loadMs.toFixed(1)} ms; mix classified as ${JSON.stringify(tally)}`,
        ],
        targets: [{ metric: "eventsPerSecond", op: ">=", value: 100_000, label: "≤ 10 µs per event (repeated agents)" }],
        details: { perEventUs, browserUs, loadMs },
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
