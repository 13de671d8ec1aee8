// CSV export of the whole seeded ledger through GET /v1/events/export.csv: rows per second and the workerd process's
// memory while the stream runs (bounded: the export holds about two pages, whatever its size).
import { sampleProcess } from "../lib/load.mjs";

export default {
  name: "export-csv",
  description: "GET /v1/events/export.csv of the whole seeded ledger, streamed; rows/s and workerd peak RSS",
  order: 55,
  async run(ctx) {
    const seeded = await ctx.ensureSeeded(ctx.options.events);
    const sampler = sampleProcess(ctx.server.workerdPid);
    const idle = await sampleProcess(ctx.server.workerdPid).stop();
    const started = performance.now();
    const response = await fetch(`${ctx.server.appUrl}/v1/events/export.csv?resource_type=dataset`, {
      headers: { authorization: `Bearer ${ctx.keys.read[0]}` },
    });
    if (!response.ok) throw new Error(`export → ${response.status}: ${await response.text()}`);
    let lines = 0;
    let bytes = 0;
    let firstByteMs = null;
    for await (const chunk of response.body) {
      firstByteMs ??= performance.now() - started;
      bytes += chunk.length;
      for (const byte of chunk) if (byte === 0x0a) lines++;
    }
    const seconds = (performance.now() - started) / 1000;
    const { peakRssMb, cpuPercent } = await sampler.stop();
    const rows = lines - 1;
    return {
      figures: { rowsPerSecond: rows / seconds, peakRssMb, workerdCpuPercent: cpuPercent, p50Ms: firstByteMs },
      notes: [
        `${rows.toLocaleString("en-US")} rows (${(bytes / 2 ** 20).toFixed(1)} MiB) in ${seconds.toFixed(1)} s = ${Math.round(rows / seconds).toLocaleString("en-US")} rows/s; p50 column = time to first byte`,
        `workerd RSS ${idle.peakRssMb ?? "–"} MiB before, peak ${peakRssMb ?? "–"} MiB during the export (ledger of ${seeded.count.toLocaleString("en-US")} seeded events)`,
      ],
      targets: [{ metric: "rowsPerSecond", op: ">=", value: 100_000, label: "≥ 100,000 rows/s", atEvents: 1_000_000 }],
      details: { rows, bytes, seconds, idleRssMb: idle.peakRssMb },
    };
  },
};
