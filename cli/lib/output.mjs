// Output of the CLI: JSON for scripts (--json), aligned tables for people, byte sizes, and progress bars on stderr.
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import cliProgress from "cli-progress";
import Table from "cli-table3";

export function printJson(value) {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A table with a header row; numbers are right-aligned. */
export function printTable(head, rows) {
  if (rows.length === 0) {
    process.stdout.write("(none)\n");
    return;
  }
  const table = new Table({
    head,
    style: { head: [], border: [] },
    colAligns: head.map((_, index) => (rows.every((row) => typeof row[index] === "number" || row[index] === "") ? "right" : "left")),
    wordWrap: true,
  });
  for (const row of rows) table.push(row.map((cell) => (cell === null || cell === undefined ? "" : typeof cell === "number" ? cell.toLocaleString("en-US") : String(cell))));
  process.stdout.write(`${table.toString()}\n`);
}

export function humanBytes(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A progress bar on stderr (drawn only when stderr is a terminal, so pipes and logs stay clean). */
export function progressBar(format) {
  return new cliProgress.SingleBar({ format, stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 20 }, cliProgress.Presets.shades_classic);
}

/**
 * Streams a response body into `file` through a temporary name (renamed when complete, so an interrupted download never
 * leaves a file that looks finished), reporting bytes and newline count as it goes.
 */
export async function saveBody(response, file, onChunk) {
  const partial = `${file}.partial`;
  let bytes = 0;
  let lines = 0;
  async function* counted(body) {
    for await (const chunk of body) {
      bytes += chunk.length;
      for (let index = 0; index < chunk.length; index++) if (chunk[index] === 10) lines++;
      onChunk?.({ bytes, lines });
      yield chunk;
    }
  }
  try {
    await pipeline(Readable.fromWeb(response.body), counted, createWriteStream(partial));
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { bytes, lines };
}

/** The file name a Content-Disposition header proposes. */
export function attachmentName(response, fallback) {
  const match = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "");
  return match ? match[1] : fallback;
}
