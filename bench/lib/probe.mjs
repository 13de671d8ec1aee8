// Probes a cheap endpoint (GET /health) back to back while heavy work runs, to show whether that work stalls other requests.
import { percentile } from "./load.mjs";

/**
 * Requests `url` one after another (plus `gapMs` between them) until stopped; each latency is measured from send to the
 * last byte, so a request held behind a busy isolate shows its whole wait. `stop()` returns the latency figures.
 */
export function probeLatency(url, { gapMs = 10, slowMs = 200 } = {}) {
  const latencies = [];
  /** Requests slower than `slowMs`: when they were sent (ms after the probe started) and how long they took. */
  const slow = [];
  const probeStarted = performance.now();
  let failures = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const response = await fetch(url);
        await response.arrayBuffer();
        if (!response.ok) failures++;
      } catch {
        failures++;
      }
      const latency = performance.now() - started;
      latencies.push(latency);
      if (latency > slowMs) slow.push({ sentAtMs: Math.round(started - probeStarted), ms: Math.round(latency) });
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const sorted = [...latencies].sort((a, b) => a - b);
      return { requests: sorted.length, failures, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1), slow };
    },
  };
}
