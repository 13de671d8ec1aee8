// Drives HTTP load (autocannon, or a closed loop for heavy requests) and samples the workerd process's memory and CPU meanwhile.
import { readFile } from "node:fs/promises";
import autocannon from "autocannon";

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux (getconf CLK_TCK)

async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Samples the process `pid` until stopped: peak VmRSS (MiB) every `intervalMs`, and its CPU use over the whole span
 * (100% = one core busy), which tells a saturated runtime from one that waits. Nulls when /proc is unavailable.
 */
export function sampleProcess(pid, intervalMs = 100) {
  if (!pid) return { stop: async () => ({ peakRssMb: null, cpuPercent: null }) };
  let peakKb = 0;
  const sample = async () => {
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    const kb = Number(status.match(/^VmRSS:\s+(\d+)\s+kB/m)?.[1] ?? 0);
    if (kb > peakKb) peakKb = kb;
  };
  const startedAt = performance.now();
  const cpuAtStart = cpuSeconds(pid);
  const timer = setInterval(sample, intervalMs);
  void sample();
  return {
    async stop() {
      clearInterval(timer);
      await sample();
      const cpu = (await cpuSeconds(pid)) - (await cpuAtStart);
      const wall = (performance.now() - startedAt) / 1000;
      return { peakRssMb: peakKb > 0 ? Math.round(peakKb / 1024) : null, cpuPercent: Number.isFinite(cpu) ? (cpu / wall) * 100 : null };
    },
  };
}

/** VmHWM (lifetime peak RSS) of `pid` in MiB. */
export async function highWaterMark(pid) {
  if (!pid) return null;
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kb = Number(status.match(/^VmHWM:\s+(\d+)\s+kB/m)?.[1] ?? 0);
  return kb > 0 ? Math.round(kb / 1024) : null;
}

/**
 * Runs autocannon against `url` for `duration` seconds with `connections` closed-loop clients. `request(counter)` builds
 * each request ({ method, path, headers, body }); it is called per request, so every request can differ.
 * Returns absolute figures: completed requests per second, latency percentiles (ms) and status counts. Requests still
 * unanswered after `timeoutSeconds` count as errors.
 */
export async function runLoad({ url, duration, connections, request, workerdPid, warmupSeconds = 0, timeoutSeconds = 10 }) {
  let counter = 0;
  const requests = [
    {
      setupRequest(raw) {
        const built = request(counter++);
        return { ...raw, ...built, headers: { ...built.headers } };
      },
    },
  ];
  const warmup = warmupSeconds > 0 ? await autocannon({ url, connections, duration: warmupSeconds, requests, timeout: timeoutSeconds }) : null;
  const sampler = sampleProcess(workerdPid);
  const result = await autocannon({ url, connections, duration, requests, timeout: timeoutSeconds });
  const { peakRssMb, cpuPercent } = await sampler.stop();
  const statusCounts = countsByStatus(result);
  const completed = Object.values(statusCounts).reduce((sum, count) => sum + count, 0);
  return {
    requests: completed,
    durationSeconds: result.duration,
    rps: completed / result.duration,
    // With no response there is no latency to report (autocannon's histogram would say 0).
    p50Ms: completed > 0 ? result.latency.p50 : undefined,
    p99Ms: completed > 0 ? result.latency.p99 : undefined,
    maxMs: completed > 0 ? result.latency.max : undefined,
    statusCounts,
    ok: completed - result.non2xx,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    peakRssMb,
    workerdCpuPercent: cpuPercent,
    /** Responses of the discarded warm-up, for scenarios that count what was stored. */
    warmupStatusCounts: warmup ? countsByStatus(warmup) : {},
  };
}

/**
 * Closed-loop load for heavy requests (a 1,000-event batch can take seconds, longer than autocannon's window): `connections`
 * loops each await `send(n)` (resolving to the HTTP status) back to back until `duration` seconds have passed, and the
 * in-flight requests are awaited, so the elapsed time covers every counted request. Same result shape as runLoad.
 */
export async function runClosedLoop({ duration, connections, send, workerdPid }) {
  const latencies = [];
  const statusCounts = {};
  let errors = 0;
  let counter = 0;
  const sampler = sampleProcess(workerdPid);
  const started = performance.now();
  const deadline = started + duration * 1000;
  async function loop() {
    while (performance.now() < deadline) {
      const sent = performance.now();
      try {
        const status = await send(counter++);
        statusCounts[status] = (statusCounts[status] ?? 0) + 1;
        latencies.push(performance.now() - sent);
      } catch {
        errors += 1;
      }
    }
  }
  await Promise.all(Array.from({ length: connections }, loop));
  const durationSeconds = (performance.now() - started) / 1000;
  const { peakRssMb, cpuPercent } = await sampler.stop();
  latencies.sort((a, b) => a - b);
  const completed = latencies.length;
  const ok = Object.entries(statusCounts).reduce((sum, [code, count]) => sum + (code.startsWith("2") ? count : 0), 0);
  return {
    requests: completed,
    durationSeconds,
    rps: completed / durationSeconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1),
    statusCounts,
    ok,
    non2xx: completed - ok,
    errors,
    timeouts: 0,
    peakRssMb,
    workerdCpuPercent: cpuPercent,
    warmupStatusCounts: {},
  };
}

/** Nearest-rank percentile of an ascending array (undefined when empty). */
export const percentile = (sorted, p) => (sorted.length === 0 ? undefined : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);

const countsByStatus = (result) =>
  Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, Number(count)]));

/** The figures every load row reports: throughput, latency, and what the workerd process used meanwhile. */
export const loadFigures = (load) => ({
  rps: load.rps,
  p50Ms: load.p50Ms,
  p99Ms: load.p99Ms,
  peakRssMb: load.peakRssMb,
  workerdCpuPercent: load.workerdCpuPercent,
});

/** Responses with status `code` in the warm-up and the measurement together. */
export const answered = (load, code) => (load.statusCounts[code] ?? 0) + (load.warmupStatusCounts[code] ?? 0);

/** "201: 9,512; 429: 3" plus connection errors, for a row's notes. */
export function describeStatuses(load) {
  const statuses = Object.entries(load.statusCounts)
    .map(([code, count]) => `${code}: ${count.toLocaleString("en-US")}`)
    .join(", ");
  return `${load.requests.toLocaleString("en-US")} responses in ${load.durationSeconds.toFixed(1)} s (${statuses || "none"})${load.errors ? `, ${load.errors} connection errors` : ""}`;
}
