// Excel export of the whole seeded ledger through GET /v1/events/export.xlsx, beside export-csv: rows per second (rows
// counted by inflating the worksheets on the fly) and the workerd process's memory while the stream runs.
import { Unzip, UnzipInflate } from "fflate";
import { sampleProcess } from "../lib/load.mjs";

/** Counts `<row ` in every worksheet part while the ZIP streams in; the last worksheet is the "About" sheet. */
function rowCounter() {
  const sheets = [];
  const unzip = new Unzip((file) => {
    if (!/^xl\/worksheets\/sheet\d+\.xml$/.test(file.name)) return;
    const sheet = { rows: 0 };
    sheets.push(sheet);
    const decoder = new TextDecoder();
    let tail = "";
    file.ondata = (error, chunk) => {
      if (error) throw error;
      const text = tail + decoder.decode(chunk, { stream: true });
      sheet.rows += text.split("<row ").length - 1;
      tail = text.slice(-4);
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  return {
    push: (chunk) => unzip.push(chunk),
    finish() {
      unzip.push(new Uint8Array(0), true);
      const data = sheets.slice(0, -1);
      return { rows: data.reduce((sum, sheet) => sum + sheet.rows - 1, 0), sheets: data.length };
    },
  };
}

export default {
  name: "export-xlsx",
  description: "GET /v1/events/export.xlsx of the whole seeded ledger, streamed; rows/s and workerd peak RSS (compare export-csv)",
  order: 56,
  async run(ctx) {
    const seeded = await ctx.ensureSeeded(ctx.options.events);
    const sampler = sampleProcess(ctx.server.workerdPid);
    const idle = await sampleProcess(ctx.server.workerdPid).stop();
    const started = performance.now();
    const response = await fetch(`${ctx.server.appUrl}/v1/events/export.xlsx?resource_type=dataset`, {
      headers: { authorization: `Bearer ${ctx.keys.read[0]}` },
    });
    if (!response.ok) throw new Error(`export → ${response.status}: ${await response.text()}`);
    const counter = rowCounter();
    let bytes = 0;
    let firstByteMs = null;
    for await (const chunk of response.body) {
      firstByteMs ??= performance.now() - started;
      bytes += chunk.length;
      counter.push(chunk);
    }
    const seconds = (performance.now() - started) / 1000;
    const { peakRssMb, cpuPercent } = await sampler.stop();
    const { rows, sheets } = counter.finish();
    return {
      figures: { rowsPerSecond: rows / seconds, peakRssMb, workerdCpuPercent: cpuPercent, p50Ms: firstByteMs },
      notes: [
        `${rows.toLocaleString("en-US")} rows on ${sheets} sheet(s) (${(bytes / 2 ** 20).toFixed(1)} MiB compressed) in ${seconds.toFixed(1)} s = ${Math.round(rows / seconds).toLocaleString("en-US")} rows/s; p50 column = time to first byte`,
        `workerd RSS ${idle.peakRssMb ?? "–"} MiB before, peak ${peakRssMb ?? "–"} MiB during the export (ledger of ${seeded.count.toLocaleString("en-US")} seeded events)`,
      ],
      details: { rows, sheets, bytes, seconds, idleRssMb: idle.peakRssMb },
    };
  },
};
