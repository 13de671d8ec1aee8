// `import FILE`: NDJSON or CSV sent to POST /v1/events/import in chunks, resumable. A state file beside the input records
// the lines acknowledged so far; a re-run after a crash continues after them. Even without it nothing is stored twice: the
// service derives an id from each line without one (and replays lines with one), so re-sent lines insert nothing.
import { createReadStream } from "node:fs";
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import Papa from "papaparse";
import { CliError, EXIT, query, requestJson } from "./client.mjs";

/** The service's ceiling per request. */
export const MAX_CHUNK_LINES = 50_000;
const MAX_CHUNK_BYTES = 16 * 1024 * 1024;

export const stateFileOf = (file) => `${file}.import-state.json`;

/** The non-empty lines of a file with their line numbers, read as a stream (NDJSON files may exceed memory). */
async function* ndjsonUnits(file) {
  let number = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    number++;
    if (line.trim() !== "") yield { label: `line ${number}`, text: line };
  }
}

/**
 * A source of events: its count, and its units (one event each, with the line or row number people see) as an async
 * iterator. NDJSON is streamed twice (count, then send); CSV is parsed in memory, since a quoted field may span lines.
 */
async function sourceOf(file, format) {
  if (format === "ndjson") {
    let total = 0;
    for await (const _ of ndjsonUnits(file)) total++;
    return {
      total,
      units: () => ndjsonUnits(file),
      contentType: "application/x-ndjson",
      // The service numbers the lines of each chunk from 1; chunk line n is the chunk's unit n.
      encode: (chunk) => ({ body: chunk.map((unit) => unit.text).join("\n"), unitOfLine: (line) => chunk[line - 1] }),
    };
  }
  const parsed = Papa.parse((await readFile(file, "utf8")).replace(/^\ufeff/, ""), { skipEmptyLines: "greedy" });
  const [header, ...records] = parsed.data;
  if (!header) throw new CliError(`${file} is empty`, EXIT.usage);
  const headerText = Papa.unparse([header], { newline: "\n" });
  return {
    total: records.length,
    units: async function* () {
      for (const [index, fields] of records.entries()) yield { label: `row ${index + 1}`, text: Papa.unparse([fields], { newline: "\n" }) };
    },
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

/** Runs of at most `lines` units (and about MAX_CHUNK_BYTES), after skipping the first `skip`. */
async function* chunksOf(units, skip, lines) {
  let seen = 0;
  let chunk = [];
  let bytes = 0;
  for await (const unit of units) {
    if (seen++ < skip) continue;
    chunk.push(unit);
    bytes += unit.text.length + 1;
    if (chunk.length >= lines || bytes >= MAX_CHUNK_BYTES) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
  }
  if (chunk.length > 0) yield chunk;
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
  const source = await sourceOf(file, format);
  const fingerprint = { size: info.size, mtimeMs: info.mtimeMs, format, chunkLines };
  const previous = options.dryRun || options.restart ? null : await readState(file, fingerprint);
  const totals = previous?.totals ?? { valid: 0, inserted: 0, replayed: 0, invalid: [] };
  const resumedFrom = previous?.done ?? 0;
  let done = resumedFrom;
  onProgress?.(done, source.total);
  for await (const chunk of chunksOf(source.units(), resumedFrom, chunkLines)) {
    const { body, unitOfLine } = source.encode(chunk);
    const result = await requestJson(conn, "POST", `/v1/events/import${query({ dry_run: options.dryRun ? "true" : undefined })}`, { body, contentType: source.contentType });
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
    onProgress?.(done, source.total);
  }
  if (!options.dryRun) await rm(stateFileOf(file), { force: true });
  return { file, format, dry_run: Boolean(options.dryRun), lines: source.total, resumed_after: resumedFrom, ...totals };
}
