// "Which exact data did I use, and how do I get it again?": a person's successful file and bundle downloads resolved
// against the catalog into a manifest, a Bash script that fetches and verifies every file, and BibTeX/RIS citations.
import { EventDictionaries } from "../../db/event-dictionaries";
import { bundleFolder } from "../bundles/bundles";
import type { EventFilter } from "../ledger/event-schema";
import { EXPORT_PAGE_ROWS, exportPage } from "../ledger/export";
import { resolveEventFilter, type SelectedEvent } from "../ledger/query";
import { ApiError } from "../../lib/errors";
import { recordsForDownload, type RecordForDownload } from "./catalog";
import { bibtexEntry, risEntry, type CitableDataset } from "./citations";
import { citationOf } from "./pdf";
import { mintToken, sealUser } from "./tokens";

/** Downloads one manifest covers; a longer history must be asked for in narrower ranges. */
export const MAX_REPRODUCE_EVENTS = 20_000;

export type ReproduceFormat = "sh" | "json" | "bibtex" | "ris";

export interface ReproduceRequest {
  person: { actorId?: string; email?: string };
  from?: number;
  to?: number;
  /** Origin of the URLs in the script. */
  origin: string;
  linkTtlSeconds: number;
  /** Whether the caller may be handed signed links to non-public records (what POST /v1/download-links requires). */
  canSignLinks: boolean;
  tokenSecret: string | undefined;
  /** PII_KEY: an actor_id is found by the actor key it hashes to. */
  piiKey: string;
  now?: number;
}

/**
 * available: fetched and verified by the script. changed: the catalog's file was replaced after the person's last
 * download of it, so today's bytes are not the ones they used. missing: the record or file is gone. restricted: the
 * record is not public and the caller may not be handed a signed link.
 */
export type FileStatus = "available" | "changed" | "missing" | "restricted";

export interface ReproduceFile {
  record_id: string;
  doi: string | null;
  name: string;
  /** Where the script writes it: <record folder>/<file name>. */
  path: string;
  size: number | null;
  sha256: string | null;
  uploaded_at: string | null;
  status: FileStatus;
  reason: string | null;
  url: string | null;
  downloads: { at: string; event_id: string; via: "download" | "bundle"; bundle_id: string | null }[];
}

export interface ReproduceDataset {
  id: string;
  doi: string | null;
  title: string;
  in_catalog: boolean;
  citation: string | null;
  first_downloaded_at: string;
}

export interface ReproduceManifest {
  generated_at: string;
  person: { actor_id: string | null; email: string | null };
  period: { from: string | null; to: string | null };
  links_expire_at: string;
  downloads: number;
  files: ReproduceFile[];
  datasets: ReproduceDataset[];
}

interface Wanted {
  recordId: string;
  /** null: the event names the record but not the file (e.g. an event posted by a portal), so every current file counts. */
  name: string | null;
  /** The file's size as a bundle listed it. */
  sizeThen: number | null;
  downloads: ReproduceFile["downloads"];
  lastAt: number;
}

interface DatasetSeen {
  doi: string | null;
  title: string | null;
  firstAt: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

function parseMeta(row: SelectedEvent): Record<string, unknown> {
  try {
    const meta = row.meta ? (JSON.parse(row.meta) as unknown) : null;
    return typeof meta === "object" && meta !== null && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const strings = (value: unknown) => (Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : []);

/** The person's successful, counted downloads in the range, oldest first, read with the export's keyset pages. */
async function downloadsOf(db: D1Database, request: ReproduceRequest): Promise<SelectedEvent[]> {
  const filter: EventFilter = {
    actor_id: request.person.actorId,
    email: request.person.email,
    from: request.from,
    to: request.to,
    status: "success",
    include_duplicates: false,
  };
  const resolved = await resolveEventFilter(request.piiKey, filter);
  const rows: SelectedEvent[] = [];
  const dictionaries = new EventDictionaries(db);
  let page = await exportPage(db, resolved, null, EXPORT_PAGE_ROWS, dictionaries);
  while (page.length > 0) {
    rows.push(...page.filter((row) => row.action === "download" || row.action === "bundle.download"));
    if (rows.length > MAX_REPRODUCE_EVENTS)
      throw new ApiError("invalid_request", `More than ${MAX_REPRODUCE_EVENTS.toLocaleString("en-US")} downloads in the range; narrow it with from and to`, {
        details: [{ path: "from", message: "narrow the range" }],
      });
    const last = page.at(-1)!;
    page = await exportPage(db, resolved, { occurredAt: last.occurredAt!, id: last.id! }, EXPORT_PAGE_ROWS, dictionaries);
  }
  return rows;
}

/** What each download event asks for: one file, every file of a record, or the data files listed by a bundle. */
function collect(rows: SelectedEvent[]): { wanted: Map<string, Wanted>; datasets: Map<string, DatasetSeen> } {
  const wanted = new Map<string, Wanted>();
  const datasets = new Map<string, DatasetSeen>();
  const see = (recordId: string, at: number, doi: string | null, title: string | null) => {
    if (!datasets.has(recordId)) datasets.set(recordId, { doi, title, firstAt: at });
  };
  const want = (recordId: string, name: string | null, sizeThen: number | null, download: ReproduceFile["downloads"][number], at: number) => {
    const key = `${recordId}\u001f${name ?? ""}`;
    const entry = wanted.get(key) ?? { recordId, name, sizeThen, downloads: [], lastAt: at };
    entry.downloads.push(download);
    entry.lastAt = at;
    entry.sizeThen = sizeThen ?? entry.sizeThen;
    wanted.set(key, entry);
  };
  for (const row of rows) {
    const at = row.occurredAt!;
    const meta = parseMeta(row);
    if (row.action === "download" && row.resourceType === "dataset" && row.resourceId) {
      see(row.resourceId, at, row.doi, row.title);
      const name = typeof meta.file === "string" ? meta.file : null;
      // A download event's bytes are what was sent (a Range request sends part), so only bundles tell the file's size.
      want(row.resourceId, name, null, { at: iso(at), event_id: row.id!, via: "download", bundle_id: null }, at);
      continue;
    }
    if (row.action !== "bundle.download") continue;
    const bundleId = typeof meta.bundle_id === "string" ? meta.bundle_id : (row.resourceId ?? null);
    const download = { at: iso(at), event_id: row.id!, via: "bundle" as const, bundle_id: bundleId };
    const recordIds = strings(meta.record_ids);
    const folders = new Map(recordIds.map((id) => [bundleFolder(id), id]));
    for (const id of recordIds) see(id, at, null, null);
    if (meta.files_truncated === true || meta.records_truncated === true) {
      // The event lists only part of the bundle: every file of its records counts.
      for (const id of recordIds) want(id, null, null, download, at);
      continue;
    }
    const files = Array.isArray(meta.files_in_bundle) ? (meta.files_in_bundle as { name?: unknown; size?: unknown }[]) : [];
    for (const file of files) {
      const match = typeof file.name === "string" ? /^data\/([^/]+)\/(.+)$/.exec(file.name) : null;
      const recordId = match ? folders.get(match[1]!) : undefined;
      if (match && recordId) want(recordId, match[2]!, typeof file.size === "number" ? file.size : null, download, at);
    }
  }
  return { wanted, datasets };
}

function fileUrl(origin: string, recordId: string, name: string): string {
  return `${origin}/v1/records/${encodeURIComponent(recordId)}/files/${encodeURIComponent(name)}`;
}

/** Resolves the downloads against today's catalog and mints the links the script needs. */
export async function buildReproduction(db: D1Database, request: ReproduceRequest): Promise<ReproduceManifest> {
  const now = request.now ?? Date.now();
  const rows = await downloadsOf(db, request);
  const { wanted, datasets } = collect(rows);
  const records = new Map((await recordsForDownload(db, [...datasets.keys()])).map((record) => [record.id, record]));
  const expiresAt = Math.floor(now / 1000) + request.linkTtlSeconds;
  const secret = request.tokenSecret;
  const sealedUser = secret ? await sealUser(secret, { id: request.person.actorId, email: request.person.email }) : null;

  const files: ReproduceFile[] = [];
  for (const entry of wanted.values()) {
    const record = records.get(entry.recordId);
    const base = { record_id: entry.recordId, doi: record?.doi ?? datasets.get(entry.recordId)?.doi ?? null, downloads: entry.downloads };
    const folder = bundleFolder(entry.recordId);
    if (!record) {
      const name = entry.name ?? "(all files)";
      files.push({ ...base, name, path: `${folder}/${name}`, size: entry.sizeThen, sha256: null, uploaded_at: null, status: "missing", reason: "the record no longer exists", url: null });
      continue;
    }
    const current = entry.name === null ? record.files : record.files.filter((file) => file.name === entry.name);
    if (current.length === 0) {
      const name = entry.name ?? "(all files)";
      const reason = entry.name === null ? "the record has no files any more" : "the file is no longer in the record";
      files.push({ ...base, name, path: `${folder}/${name}`, size: entry.sizeThen, sha256: null, uploaded_at: null, status: "missing", reason, url: null });
      continue;
    }
    for (const file of current) {
      const described = { ...base, name: file.name, path: `${folder}/${file.name}`, size: file.size, sha256: file.sha256, uploaded_at: file.uploaded_at };
      const uploadedAt = Date.parse(file.uploaded_at);
      if (uploadedAt > entry.lastAt || (entry.sizeThen !== null && entry.sizeThen !== file.size))
        files.push({ ...described, status: "changed", reason: `replaced on ${file.uploaded_at}, after the last download (${iso(entry.lastAt)})`, url: null });
      else if (record.public) files.push({ ...described, status: "available", reason: null, url: fileUrl(request.origin, record.id, file.name) });
      else if (!request.canSignLinks || !secret)
        files.push({
          ...described,
          status: "restricted",
          reason: secret ? "the record is not public: a key with the ingest scope gets signed links" : "download links are not configured (DOWNLOAD_TOKEN_SECRET)",
          url: null,
        });
      else {
        const token = await mintToken(secret, { target: { kind: "file", recordId: record.id, file: file.name }, sealedUser, expiresAt });
        files.push({ ...described, status: "available", reason: null, url: `${request.origin}/d/${token}` });
      }
    }
  }

  return {
    generated_at: iso(now),
    person: { actor_id: request.person.actorId ?? null, email: request.person.email ?? null },
    period: { from: request.from === undefined ? null : iso(request.from), to: request.to === undefined ? null : iso(request.to) },
    links_expire_at: iso(expiresAt * 1000),
    downloads: rows.length,
    files,
    datasets: [...datasets].map(([id, seen]) => datasetOf(id, seen, records.get(id))),
  };
}

function datasetOf(id: string, seen: DatasetSeen, record: RecordForDownload | undefined): ReproduceDataset {
  return {
    id,
    doi: record?.doi ?? seen.doi,
    title: record?.title ?? seen.title ?? id,
    in_catalog: Boolean(record),
    citation: record ? citationOf(record) : null,
    first_downloaded_at: iso(seen.firstAt),
  };
}

/** The datasets as citation input; records no longer in the catalog are cited from what their events recorded. */
async function citable(db: D1Database, manifest: ReproduceManifest): Promise<CitableDataset[]> {
  const records = new Map((await recordsForDownload(db, manifest.datasets.map((dataset) => dataset.id))).map((record) => [record.id, record]));
  return manifest.datasets.map((dataset) => ({
    id: dataset.id,
    doi: dataset.doi,
    title: dataset.title,
    normalised: records.get(dataset.id)?.normalised ?? null,
  }));
}

export async function reproduceBibtex(db: D1Database, manifest: ReproduceManifest): Promise<string> {
  return (await citable(db, manifest)).map(bibtexEntry).join("\n");
}

export async function reproduceRis(db: D1Database, manifest: ReproduceManifest): Promise<string> {
  return (await citable(db, manifest)).map(risEntry).join("\r\n");
}

/** A single-quoted shell word: no expansion of any kind happens inside it. */
const shellWord = (value: string) => `'${value.replace(/'/g, "'\\''")}'`;
/** Text for a comment line: whitespace (line breaks included) flattened, so nothing can end the comment. */
const comment = (text: string) => text.replace(/[\s\u2028\u2029]+/g, " ").trim();

/**
 * A Bash script that fetches every available file with curl, checks its SHA-256 against the catalog and stops at the
 * first mismatch (exit 1) or failed fetch (curl's exit code). It writes into the directory given as its first argument
 * (default ./reproduced) and prints one progress line per file.
 */
export function reproduceScript(manifest: ReproduceManifest): string {
  const who = manifest.person.actor_id ? `actor_id ${manifest.person.actor_id}` : `email ${manifest.person.email}`;
  const available = manifest.files.filter((file) => file.status === "available");
  const skipped = manifest.files.filter((file) => file.status !== "available");
  const lines = [
    "#!/usr/bin/env bash",
    "# Reproduction script generated by download-audit.",
    `# Generated: ${manifest.generated_at}`,
    `# Person: ${comment(who)}`,
    `# Period: ${manifest.period.from ?? "beginning"} to ${manifest.period.to ?? "now"} (${manifest.downloads} successful downloads)`,
    `# Signed links in this script are valid until ${manifest.links_expire_at}; public records use their public URL.`,
    "# Usage: bash this-script.sh [target-directory]   (default ./reproduced; needs curl and sha256sum or shasum)",
    "# Exit codes: 0 all files fetched and verified, 1 a SHA-256 mismatch, 2 a missing tool, other: curl's exit code.",
    "#",
    "# Original downloads (UTC):",
    ...manifest.files.flatMap((file) =>
      file.downloads.map((download) => `#   ${download.at}  ${comment(file.path)}  (${download.via === "bundle" ? `bundle ${comment(download.bundle_id ?? "?")}` : "file"})`),
    ),
    "#",
    "# Datasets:",
    ...manifest.datasets.map((dataset) => `#   [${comment(dataset.id)}] ${comment(dataset.citation ?? `${dataset.title}${dataset.doi ? ` https://doi.org/${dataset.doi}` : ""} (no longer in the catalog)`)}`),
  ];
  if (skipped.length > 0)
    lines.push("#", "# Not fetched:", ...skipped.map((file) => `#   ${file.status.toUpperCase()}  ${comment(file.path)}: ${comment(file.reason ?? "")}`));
  lines.push(
    "",
    "set -euo pipefail",
    'out="${1:-reproduced}"',
    "command -v curl >/dev/null || { echo 'curl is required' >&2; exit 2; }",
    "if command -v sha256sum >/dev/null; then hash() { sha256sum \"$1\" | cut -d' ' -f1; }",
    "elif command -v shasum >/dev/null; then hash() { shasum -a 256 \"$1\" | cut -d' ' -f1; }",
    "else echo 'sha256sum or shasum is required' >&2; exit 2; fi",
    "",
    "fetch() {",
    '  local index="$1" total="$2" url="$3" path="$4" expected="$5"',
    '  mkdir -p "$(dirname "$out/$path")"',
    '  printf \'[%s/%s] %s\\n\' "$index" "$total" "$path"',
    '  curl --fail --silent --show-error --location --output "$out/$path" "$url"',
    '  local actual',
    '  actual="$(hash "$out/$path")"',
    '  if [ "$actual" != "$expected" ]; then',
    '    printf \'SHA-256 mismatch for %s: expected %s, got %s\\n\' "$path" "$expected" "$actual" >&2',
    "    exit 1",
    "  fi",
    "}",
    "",
    ...available.map((file, index) => `fetch ${index + 1} ${available.length} ${shellWord(file.url!)} ${shellWord(file.path)} ${shellWord(file.sha256!)}`),
    `echo ${shellWord(`${available.length} file(s) fetched and verified`)}" into $out"`,
  );
  if (skipped.length > 0) lines.push(`echo ${shellWord(`${skipped.length} file(s) could not be fetched; see the header of this script`)} >&2`);
  return `${lines.join("\n")}\n`;
}
