// Turns scenario rows into target verdicts, one printed table (also usable as Markdown) and bench/results.json.
import { writeFile } from "node:fs/promises";

/** Verdict of each target of a row: met / missed with the measured value, or n/a when the figure is missing. */
export function judge(row, options) {
  return (row.targets ?? []).map((target) => {
    const measured = row.figures[target.metric];
    if (measured === undefined || measured === null || Number.isNaN(measured)) return { ...target, measured: null, verdict: "n/a" };
    const met = target.op === ">=" ? measured >= target.value : measured <= target.value;
    const undersized = target.atEvents !== undefined && options.events < target.atEvents;
    return { ...target, measured, verdict: met ? "met" : "missed", undersized };
  });
}

const number = (value, digits = 0) =>
  value === undefined || value === null || Number.isNaN(value)
    ? "–"
    : value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

const compact = (value) => (value >= 100 ? number(value) : value >= 10 ? number(value, 1) : number(value, 2));

function verdictText(verdicts) {
  return verdicts
    .map((v) => `${v.label}: ${v.verdict}${v.measured === null ? "" : ` (${compact(v.measured)})`}${v.undersized ? ` [at ${number(v.atEvents)} events only with --full]` : ""}`)
    .join("; ");
}

/** The result table as Markdown (readable as plain text too). */
export function table(rows) {
  const header = ["Scenario", "rps", "p50 ms", "p99 ms", "events/s", "D1 stmts/event", "peak RSS MiB", "workerd CPU", "× baseline", "Targets"];
  const lines = rows.map((row) => {
    const f = row.figures;
    return [
      row.label,
      number(f.rps),
      f.p50Ms === undefined ? "–" : compact(f.p50Ms),
      f.p99Ms === undefined ? "–" : compact(f.p99Ms),
      number(f.eventsPerSecond),
      f.statementsPerEvent === undefined ? "–" : number(f.statementsPerEvent, 4),
      number(f.peakRssMb),
      f.workerdCpuPercent === undefined || f.workerdCpuPercent === null ? "–" : `${number(f.workerdCpuPercent)}%`,
      f.ratio === undefined ? "–" : `${number(f.ratio, 2)}× ${row.compareTo.toUpperCase()}`,
      verdictText(row.verdicts) || "–",
    ];
  });
  const render = (cells) => `| ${cells.join(" | ")} |`;
  return [render(header), render(header.map(() => "---")), ...lines.map(render)].join("\n");
}

export function notes(rows) {
  return rows.flatMap((row) => (row.notes ?? []).map((note) => `- ${row.label}: ${note}`)).join("\n");
}

export async function writeResults(file, payload) {
  await writeFile(file, `${JSON.stringify(payload, null, 2)}\n`);
}
