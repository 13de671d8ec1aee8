// `import FILE`: NDJSON or CSV sent to POST /v1/events/import in chunks, resumable. A state file beside the input records
// the lines acknowledged so far; a re-run after a crash continues after them. Even without it nothing is stored twice: the
// service derives an id from each line without one (and replays lines with one), so re-sent lines insert nothing.
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import Papa from "papaparse";
import { CliError, EXIT, query, requestJson } from "./client.mjs";

/** The service's ceiling per request. */
export const MAX_CHUNK_LINES = 50_000;
const MAX_CHUNK_BYTES = 16 * 1024 * 1024;

export const stateFileOf = (file) => `${file}.import-state.json`;

/** The file as units (one event each) with the line or row number people see, and how to send a run of them. */
async function unitsOf(file, format) {
  const text = await readFile(file, "utf8");
  if (format === "ndjson") {
    const units = [];
    text.split(/\r?\n/).forEach((line, index) => {
      if (line.trim() !== "") units.push({ label: `line ${index + 1}`, text: line });
    });
    // The service numbers the lines of each chunk from 1; chunk line n is the chunk's unit n.
    return { units, encode: (chunk) => ({ body: chunk.map((unit) => unit.text).join("\n"), unitOfLine: (line) => chunk[line - 1] }), contentType: "application/x-ndjson" };
  }
  const parsed = Papa.parse(text.replace(/^\ufeff/, ""), { skipEmptyLines: "greedy" });
  const [header, ...records] = parsed.data;
  if (!header) throw new CliError(`${file} is empty`, EXIT.usage);
  const units = records.map((fields, index) => ({ label: `row ${index + 1}`, text: Papa.unparse([fields], { newline: "\n" }) }));
  const headerText = Papa.unparse([header], { newline: "\n" });
  return {
    units,
    contentType: "text/csv",
    encode: (chunk) => {
      // Fields may hold line breaks: remember which chunk line each record starts on.
      const starts = new Map();
      let line = 2;
      for (const unit of chunk) {
        starts.set(line, unit);
        line += unit.text.split("\n").length;
      }
      return { body: [headerText, ...chunk.map((unit) => unit.text)].join("\n"), unitOfLine: (chunkLine) => starts.get(chunkLine) };
    },
  };
}

async function readState(file, fingerprint) {
  try {
    const state = JSON.parse(await readFile(stateFileOf(file), "utf8"));
    return JSON.stringify(state.fingerprint) === JSON.stringify(fingerprint) ? state : null;
  } catch {
    return null;
  }
}

/**
 * Imports `file`; `onProgress(done, total)` after every chunk. Returns totals for the whole file, including the chunks
 * a previous, interrupted run had already sent.
 */
export async function importFile(conn, file, options, onProgress) {
  const format = options.format ?? (/\.csv$/i.test(file) ? "csv" : "ndjson");
  const chunkLines = options.chunkLines ?? 5_000;
  if (!Number.isInteger(chunkLines) || chunkLines < 1 || chunkLines > MAX_CHUNK_LINES)
    throw new CliError(`--chunk must be a whole number from 1 to ${MAX_CHUNK_LINES}`, EXIT.usage);
  const info = await stat(file).catch(() => {
    throw new CliError(`Cannot read ${file}`, EXIT.usage);
  });
  const { units, encode, contentType } = await unitsOf(file, format);
  const fingerprint = { size: info.size, mtimeMs: info.mtimeMs, format, chunkLines };
  const previous = options.dryRun || options.restart ? null : await readState(file, fingerprint);
  const totals = previous?.totals ?? { valid: 0, inserted: 0, replayed: 0, invalid: [] };
  const resumedFrom = previous?.done ?? 0;
  let done = resumedFrom;
  onProgress?.(done, units.length);
  while (done < units.length) {
    const chunk = [];
    let bytes = 0;
    while (done + chunk.length < units.length && chunk.length < chunkLines && (chunk.length === 0 || bytes < MAX_CHUNK_BYTES)) {
      const unit = units[done + chunk.length];
      chunk.push(unit);
      bytes += unit.text.length + 1;
    }
    const { body, unitOfLine } = encode(chunk);
    const result = await requestJson(conn, "POST", `/v1/events/import${query({ dry_run: options.dryRun ? "true" : undefined })}`, { body, contentType });
    totals.valid += result.valid;
    totals.inserted += result.inserted;
    totals.replayed += result.replayed;
    for (const problem of result.invalid) totals.invalid.push({ where: unitOfLine(problem.line)?.label ?? `chunk line ${problem.line}`, errors: problem.errors });
    done += chunk.length;
    if (!options.dryRun) {
      // Written aside and renamed, so a crash mid-write never leaves a half state file.
      await writeFile(`${stateFileOf(file)}.tmp`, JSON.stringify({ fingerprint, done, totals }));
      await rename(`${stateFileOf(file)}.tmp`, stateFileOf(file));
    }
    onProgress?.(done, units.length);
  }
  if (!options.dryRun) await rm(stateFileOf(file), { force: true });
  return { file, format, dry_run: Boolean(options.dryRun), lines: units.length, resumed_after: resumedFrom, ...totals };
}
