// Bulk import of historical events from NDJSON (one EventInput per line) or CSV (flat columns), validated line by line.
import { z } from "@hono/zod-openapi";
import Papa from "papaparse";
import type { Config } from "../../lib/config";
import { sha256Hex } from "../../lib/crypto";
import { ApiError, zodProblems, type FieldProblem } from "../../lib/errors";
import { jsonProblem, parseStrictJson } from "../../lib/json";
import { EventInputSchema, type EventInput } from "./event-schema";
import { ingestEvents } from "./ingest";

export const MAX_IMPORT_LINES = 50_000;

export const flatColumns = [
  "id", "occurred_at", "action", "status", "resource_type", "resource_id", "doi", "title", "actor_id", "email", "name",
  "organisation", "ip", "user_agent", "bytes", "message", "meta", "file", "session_id", "country",
] as const;

export const ImportResultSchema = z
  .object({
    valid: z.number(),
    invalid: z.array(z.object({ line: z.number(), errors: z.array(z.object({ path: z.string(), message: z.string() })) })),
    inserted: z.number(),
    replayed: z.number(),
  })
  .openapi("ImportResult");

export type ImportResult = z.infer<typeof ImportResultSchema>;

interface Line {
  line: number;
  value: unknown;
  source: string;
}

/** A flat CSV row as the nested EventInput shape; empty cells are absent fields. */
export function flatToInput(row: Record<string, string>): Record<string, unknown> {
  const cell = (name: string) => (row[name] === undefined || row[name] === "" ? undefined : row[name]);
  const group = (entries: Record<string, unknown>) =>
    Object.values(entries).some((value) => value !== undefined) ? JSON.parse(JSON.stringify(entries)) : undefined;
  const unknownColumns = Object.keys(row).filter((name) => !(flatColumns as readonly string[]).includes(name));
  const bytes = cell("bytes");
  const meta = cell("meta");
  let parsedMeta: unknown = meta;
  // Meta that is not strict JSON (syntax, duplicate keys) stays a string, which the event schema refuses.
  if (meta !== undefined && jsonProblem(meta) === null) parsedMeta = JSON.parse(meta);
  return JSON.parse(
    JSON.stringify({
      ...Object.fromEntries(unknownColumns.map((name) => [name, row[name]])),
      id: cell("id"),
      occurred_at: cell("occurred_at"),
      action: cell("action"),
      status: cell("status"),
      resource: group({ type: cell("resource_type"), id: cell("resource_id"), doi: cell("doi"), title: cell("title"), file: cell("file") }),
      actor: group({ id: cell("actor_id"), email: cell("email"), name: cell("name"), organisation: cell("organisation") }),
      client: group({ ip: cell("ip"), user_agent: cell("user_agent"), session_id: cell("session_id"), country: cell("country") }),
      bytes: bytes === undefined ? undefined : /^\d+$/.test(bytes) ? Number(bytes) : bytes,
      message: cell("message"),
      meta: parsedMeta,
    }),
  );
}

function parseNdjson(text: string): { lines: Line[]; invalid: { line: number; errors: FieldProblem[] }[] } {
  const lines: Line[] = [];
  const invalid: { line: number; errors: FieldProblem[] }[] = [];
  text.split(/\r?\n/).forEach((source, index) => {
    if (source.trim() === "") return;
    const parsed = parseStrictJson(source);
    if (!("problem" in parsed)) lines.push({ line: index + 1, value: parsed.value, source });
    else if (parsed.problem.path === "(body)") invalid.push({ line: index + 1, errors: [{ path: "(line)", message: "is not valid JSON" }] });
    else invalid.push({ line: index + 1, errors: [parsed.problem] });
  });
  return { lines, invalid };
}

/** CSV records with the file line each starts on (blank lines and quoted line breaks make the two differ). */
function csvRecords(text: string): { line: number; fields: string[]; problems: FieldProblem[] }[] {
  const records: { line: number; fields: string[]; problems: FieldProblem[] }[] = [];
  let scanned = 0;
  let line = 1;
  let previousEnd = 0;
  Papa.parse<string[]>(text, {
    skipEmptyLines: "greedy",
    step: (result) => {
      let start = previousEnd;
      while (start < text.length && /\s/.test(text[start]!)) start++;
      for (; scanned < start; scanned++) if (text.charCodeAt(scanned) === 10) line++;
      records.push({ line, fields: result.data, problems: result.errors.map((error) => ({ path: "(line)", message: error.message })) });
      previousEnd = result.meta.cursor;
    },
  });
  return records;
}

function parseCsv(text: string): { lines: Line[]; invalid: { line: number; errors: FieldProblem[] }[] } {
  const [headerRecord, ...records] = csvRecords(text);
  const header = headerRecord?.fields.map((name) => name.trim()) ?? [];
  if (!header.includes("action"))
    throw new ApiError("invalid_request", "The CSV needs a header row with the flat column names", {
      details: [{ path: "header", message: `expected columns among: ${flatColumns.join(", ")}` }],
    });
  const lines: Line[] = [];
  const invalid: { line: number; errors: FieldProblem[] }[] = [];
  for (const record of records) {
    const problems =
      record.fields.length === header.length
        ? record.problems
        : [...record.problems, { path: "(line)", message: `expected ${header.length} fields but found ${record.fields.length}` }];
    if (problems.length > 0) {
      invalid.push({ line: record.line, errors: problems });
      continue;
    }
    const row = Object.fromEntries(header.map((name, index) => [name, record.fields[index]!]));
    lines.push({ line: record.line, value: flatToInput(row), source: JSON.stringify(row) });
  }
  return { lines, invalid };
}

/**
 * Validates every line, then (unless `dryRun`) stores the valid ones. Lines without an id get one derived from their
 * content, so re-importing a file is a replay that stores nothing.
 */
export async function importEvents(
  db: D1Database,
  config: Config,
  text: string,
  format: "ndjson" | "csv",
  options: { dryRun: boolean; receivedAt: number; keyId: string },
): Promise<ImportResult> {
  const { lines, invalid } = format === "csv" ? parseCsv(text) : parseNdjson(text);
  if (lines.length + invalid.length > MAX_IMPORT_LINES)
    throw new ApiError("payload_too_large", `An import holds at most ${MAX_IMPORT_LINES} lines; split the file`);
  const valid: EventInput[] = [];
  const validLines: number[] = [];
  for (const line of lines) {
    const parsed = EventInputSchema.safeParse(line.value);
    if (!parsed.success) {
      invalid.push({ line: line.line, errors: zodProblems(parsed.error) });
      continue;
    }
    valid.push({ ...parsed.data, id: parsed.data.id ?? `imp_${(await sha256Hex(line.source)).slice(0, 32)}` });
    validLines.push(line.line);
  }
  invalid.sort((a, b) => a.line - b.line);
  if (options.dryRun || valid.length === 0) return { valid: valid.length, invalid, inserted: 0, replayed: 0 };
  // Ids (given or derived) are scoped to the importing key like every client id.
  const outcomes = await ingestEvents(db, config, valid, { receivedAt: options.receivedAt, keyId: options.keyId });
  outcomes.forEach((outcome, position) => {
    if (outcome.status === "conflict")
      invalid.push({ line: validLines[position]!, errors: [{ path: "id", message: "is already stored by this key with different content" }] });
  });
  invalid.sort((a, b) => a.line - b.line);
  const count = (status: string) => outcomes.filter((outcome) => outcome.status === status).length;
  return { valid: valid.length - count("conflict"), invalid, inserted: count("stored"), replayed: count("replayed") };
}
