// Durable Object that builds one ZIP bundle into R2 by multipart upload, in alarm-driven slices that survive eviction.
import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { PartUploader } from "../core/bundles/parts";
import { centralDirectory, shouldDeflate, ZipEntryWriter, type ZipEntryRecord } from "../core/bundles/zip";
import { bundleFolder, getBundle, PDF_SIZE_ESTIMATE, type BundleJobParams, type BundleSummary } from "../core/bundles/bundles";
import { recordsForDownload, type RecordForDownload } from "../core/catalog/catalog";
import { activeStatuses, jobUpdateStatement, updateJob, type JobStatus } from "../core/bundles/jobs";
import { citationOf, metadataPdfBytes } from "../core/catalog/pdf";
import { mintToken } from "../core/catalog/tokens";
import { bundles } from "../db/catalog-schema";
import { getConfig, type Config } from "../lib/config";

/** A slice that dies without a word (eviction, CPU limit) is retried when this alarm fires. */
const WATCHDOG_MS = 2 * 60_000;
/** A slice stops at the next entry boundary after this much wall time, well inside an alarm's 15 minutes. */
const SLICE_WALL_MS = 20_000;
/** Consecutive slices that may fail without progress before the job is failed. */
const MAX_ATTEMPTS = 3;
/** DO SQLite values are limited to 2 MB: the checkpointed tail of the current part is stored in 1 MiB rows. */
const TAIL_ROW_BYTES = 1024 * 1024;
/** PDFs are rendered for this many records per D1 query. */
const RECORD_BATCH = 100;
/**
 * Input bytes handled in one step, between two returns to the event loop. A step's CPU (CRC-32, SHA-256 and copying;
 * deflate for small files) stays in the milliseconds, so other requests to this isolate and a cancel call get their turn.
 * R2 body chunks that resolve without waiting (local storage, fast networks) would otherwise run a whole file as one
 * synchronous stretch: a 150 MB file held every other request for 7 s.
 */
const STEP_BYTES = 1024 * 1024;
/** A file is read from R2 in ranges of this size, so no read (in R2 or here) holds more of it at once. */
const SOURCE_RANGE_BYTES = 16 * 1024 * 1024;

/** A failure that retrying cannot fix (a record or file vanished, a checksum mismatch): the job fails at once. */
class JobFailure extends Error {}
/** The job was cancelled or failed from outside while a slice ran: the slice ends at the step where it noticed. */
class JobStopped extends Error {}

interface JobState extends BundleJobParams {
  status: JobStatus;
  uploadId: string | null;
  planned: boolean;
  /** Sequence number of the next entry to write. */
  nextEntry: number;
  /** Archive bytes written so far: uploaded parts plus the checkpointed tail. */
  bytesWritten: number;
  totalWeight: number;
  doneWeight: number;
  attempts: number;
  lastError: string | null;
  /** Alarm slices run so far, and parts the finished upload had: for diagnostics and tests. */
  slices: number;
  partsUploaded: number;
}

type EntryKind = "pdf" | "file" | "manifest";

/** An entry as planned: where its data comes from and what the manifest says about it. */
interface PlannedEntry {
  kind: EntryKind;
  record_id: string;
  name: string;
  title: string | null;
  doi: string | null;
  citation: string | null;
  source_key: string | null;
  content_type: string;
  size: number;
  sha256: string | null;
  weight: number;
}

/** An entry as stored, with what the central directory needs once it is written. */
interface EntryRow extends PlannedEntry, Record<string, SqlStorageValue> {
  seq: number;
  offset: number | null;
  crc: number | null;
  compressed_size: number | null;
  compression: number | null;
  level_flag: number | null;
}

interface WrittenEntry {
  seq: number;
  record: ZipEntryRecord;
  sha256: string;
}

const toHex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((byte) => byte.toString(16).padStart(2, "0")).join("");

/**
 * One object per bundle job (named by the job id). Why a Durable Object: the job needs a single owner that outlives a
 * request, keeps a checkpoint next to the work (SQLite storage), and wakes itself up (alarms) — a Queue consumer would
 * need the checkpoint elsewhere and could not be cancelled in place.
 *
 * Each alarm runs one slice: it writes whole entries until `BUNDLE_SLICE_BYTES` of input or 20 s, then checkpoints in
 * one transaction — the finished entries' central-directory records, uploaded part etags, the unuploaded tail of the
 * current part, the next entry — and schedules the next slice. The ZIP bytes depend only on the inputs (fixed mtime),
 * so a slice that dies is redone from the checkpoint, re-uploading the same part numbers with the same bytes.
 * A slice works in steps of at most STEP_BYTES of input and yields to the event loop after each, so no step holds the
 * isolate for long, and a cancel (or the stale-job sweep) stops the job at the next step boundary.
 * Memory: one part buffer plus the chunk in flight.
 */
export class BundleJob extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private running: Promise<void> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS job (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS entries (
        seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, record_id TEXT NOT NULL, name TEXT NOT NULL, title TEXT, doi TEXT,
        citation TEXT, source_key TEXT, content_type TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT, weight INTEGER NOT NULL,
        offset INTEGER, crc INTEGER, compressed_size INTEGER, compression INTEGER, level_flag INTEGER);
      CREATE TABLE IF NOT EXISTS parts (part_number INTEGER PRIMARY KEY, etag TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tail (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL);`);
  }

  /** Registers the job and schedules its first slice; calling it again is harmless. */
  async start(params: BundleJobParams): Promise<void> {
    if (this.state()) return;
    this.save({ ...params, status: "pending", uploadId: null, planned: false, nextEntry: 0, bytesWritten: 0, totalWeight: 0, doneWeight: 0, attempts: 0, lastError: null, slices: 0, partsUploaded: 0 });
    await this.ctx.storage.setAlarm(Date.now());
  }

  /** Cancels a pending or processing job: the partial multipart upload is aborted and nothing is left in R2. */
  async cancel(): Promise<JobStatus> {
    return this.stop("cancelled", "Cancelled on request; the partial upload was aborted");
  }

  /** Fails the job from outside (the cron's stale-job sweep). */
  async fail(reason: string): Promise<JobStatus> {
    return this.stop("failed", reason);
  }

  /** The checkpoint, for tests and diagnostics. */
  async snapshot(): Promise<{ state: JobState | null; parts: number; tailBytes: number }> {
    const parts = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM parts").one().n;
    const tailBytes = this.sql.exec<{ n: number }>("SELECT coalesce(sum(length(bytes)), 0) AS n FROM tail").one().n;
    return { state: this.state(), parts, tailBytes };
  }

  override async alarm(): Promise<void> {
    if (!this.running) this.running = this.runSlice().finally(() => (this.running = null));
    await this.running;
  }

  private state(): JobState | null {
    const row = this.sql.exec<{ state: string }>("SELECT state FROM job WHERE id = 1").toArray()[0];
    return row ? (JSON.parse(row.state) as JobState) : null;
  }

  private save(state: JobState): void {
    this.sql.exec("INSERT INTO job (id, state) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state", JSON.stringify(state));
  }

  /** True once the job reached a final state (possibly while this slice was awaiting I/O). */
  private stopped(): boolean {
    const state = this.state();
    return !state || !activeStatuses.includes(state.status);
  }

  private clearWork(): void {
    this.sql.exec("DELETE FROM entries; DELETE FROM parts; DELETE FROM tail;");
  }

  private async stop(status: "cancelled" | "failed", message: string): Promise<JobStatus> {
    const state = this.state();
    if (state && !activeStatuses.includes(state.status)) return state.status;
    if (state) this.save({ ...state, status, lastError: status === "failed" ? message : state.lastError });
    await this.ctx.storage.deleteAlarm();
    if (state?.uploadId) {
      await this.env.BUCKET.resumeMultipartUpload(state.objectKey, state.uploadId)
        .abort()
        .catch(() => undefined);
    }
    this.clearWork();
    const jobId = state?.jobId ?? this.ctx.id.name!;
    const orm = drizzle(this.env.DB);
    await orm.batch([
      jobUpdateStatement(this.env.DB, jobId, { status, message }),
      orm.update(bundles).set({ deletedAt: Date.now() }).where(eq(bundles.jobId, jobId)),
    ]);
    return status;
  }

  private async runSlice(): Promise<void> {
    const state = this.state();
    if (!state || !activeStatuses.includes(state.status)) return;
    if (state.attempts >= MAX_ATTEMPTS) {
      await this.stop("failed", `Gave up after ${MAX_ATTEMPTS} attempts without progress: ${state.lastError ?? "the worker stopped"}`);
      return;
    }
    this.save({ ...state, attempts: state.attempts + 1, slices: state.slices + 1 });
    await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
    const config = getConfig(this.env);
    try {
      if (!state.planned) await this.plan();
      if (this.stopped()) return;
      const finished = await this.writeSlice(config);
      if (this.stopped()) return;
      if (finished) await this.complete(config);
      else await this.ctx.storage.setAlarm(Date.now());
    } catch (error) {
      if (this.stopped()) return;
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof JobFailure) {
        await this.stop("failed", message);
        return;
      }
      console.error(JSON.stringify({ level: "error", message: "bundle slice failed; will retry", job: state.jobId, error: message }));
      const current = this.state()!;
      this.save({ ...current, lastError: message });
      await this.ctx.storage.setAlarm(Date.now() + 1000 * current.attempts);
    }
  }

  /** Lists the entries (records in one query) and opens the multipart upload. */
  private async plan(): Promise<void> {
    const initial = this.state()!;
    const records = await recordsForDownload(this.env.DB, initial.recordIds);
    const missing = initial.recordIds.filter((id) => !records.some((record) => record.id === id));
    if (missing.length > 0) throw new JobFailure(`Records deleted before the bundle was built: ${missing.join(", ")}`);
    const upload = await this.env.BUCKET.createMultipartUpload(initial.objectKey, {
      httpMetadata: { contentType: "application/zip", contentDisposition: `attachment; filename="bundle-${initial.bundleId}.zip"` },
    });
    if (this.stopped()) {
      await upload.abort();
      return;
    }
    let seq = 0;
    let totalWeight = 0;
    const insert = (entry: PlannedEntry) => {
      this.sql.exec(
        `INSERT INTO entries (seq, kind, record_id, name, title, doi, citation, source_key, content_type, size, sha256, weight)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        seq++, entry.kind, entry.record_id, entry.name, entry.title, entry.doi, entry.citation, entry.source_key, entry.content_type,
        entry.size, entry.sha256, entry.weight,
      );
      totalWeight += entry.weight;
    };
    this.ctx.storage.transactionSync(() => {
      this.clearWork();
      for (const record of records) {
        const folder = bundleFolder(record.id);
        insert({ kind: "pdf", record_id: record.id, name: `metadata/${folder}.pdf`, title: record.title, doi: record.doi, citation: citationOf(record),
          source_key: null, content_type: "application/pdf", size: 0, sha256: null, weight: PDF_SIZE_ESTIMATE });
        if (!initial.includeFiles) continue;
        for (const file of record.files)
          insert({ kind: "file", record_id: record.id, name: `data/${folder}/${file.name}`, title: null, doi: record.doi, citation: null,
            source_key: file.objectKey, content_type: file.content_type, size: file.size, sha256: file.sha256, weight: Math.max(file.size, 1) });
      }
      insert({ kind: "manifest", record_id: "", name: "manifest.json", title: null, doi: null, citation: null, source_key: null,
        content_type: "application/json", size: 0, sha256: null, weight: 1 });
      this.save({ ...this.state()!, planned: true, uploadId: upload.uploadId, status: "processing", totalWeight });
    });
    await updateJob(this.env.DB, initial.jobId, { status: "processing", progress: 0, message: `Building a ZIP of ${records.length} record(s)` });
  }

  private restoreUploader(state: JobState, config: Config): PartUploader {
    const parts = this.sql
      .exec<{ part_number: number; etag: string }>("SELECT part_number, etag FROM parts ORDER BY part_number")
      .toArray()
      .map((part) => ({ partNumber: part.part_number, etag: part.etag }));
    const rows = this.sql.exec<{ bytes: ArrayBuffer }>("SELECT bytes FROM tail ORDER BY seq").toArray();
    const tail = new Uint8Array(rows.reduce((sum, row) => sum + row.bytes.byteLength, 0));
    let at = 0;
    for (const row of rows) {
      tail.set(new Uint8Array(row.bytes), at);
      at += row.bytes.byteLength;
    }
    return new PartUploader(this.env.BUCKET.resumeMultipartUpload(state.objectKey, state.uploadId!), config.bundlePartBytes, parts, tail);
  }

  private async drain(writer: ZipEntryWriter, uploader: PartUploader): Promise<void> {
    for (const chunk of writer.drain()) await uploader.write(chunk);
  }

  /** Ends a step: yields to the event loop (a timer, not a microtask), then stops if a cancel or fail arrived meanwhile. */
  private async endStep(): Promise<void> {
    await scheduler.wait(0);
    if (this.stopped()) throw new JobStopped();
  }

  /** Writes entries until the slice budget is spent; returns true when every entry but the manifest is written. */
  private async writeSlice(config: Config): Promise<boolean> {
    const state = this.state()!;
    const uploader = this.restoreUploader(state, config);
    const writer = new ZipEntryWriter(state.bytesWritten);
    const pending = this.sql.exec<EntryRow>("SELECT * FROM entries WHERE seq >= ? AND kind != 'manifest' ORDER BY seq", state.nextEntry).toArray();
    const records = new Map<string, RecordForDownload>();
    const written: WrittenEntry[] = [];
    const started = Date.now();
    let budget = config.bundleSliceBytes;
    let doneWeight = state.doneWeight;
    for (const [index, entry] of pending.entries()) {
      if (budget <= 0 || Date.now() - started > SLICE_WALL_MS || this.stopped()) break;
      if (entry.kind === "pdf" && !records.has(entry.record_id)) {
        const ids = pending.slice(index).filter((next) => next.kind === "pdf").slice(0, RECORD_BATCH).map((next) => next.record_id);
        for (const record of await recordsForDownload(this.env.DB, ids)) records.set(record.id, record);
      }
      written.push(await this.writeEntry(entry, writer, uploader, records, state.createdAt));
      budget -= entry.weight;
      doneWeight += entry.weight;
      await this.endStep();
    }
    if (this.stopped()) return false;
    const next = written.length > 0 ? written.at(-1)!.seq + 1 : state.nextEntry;
    this.ctx.storage.transactionSync(() => {
      for (const { seq, record, sha256 } of written)
        this.sql.exec(
          "UPDATE entries SET offset = ?, crc = ?, compressed_size = ?, compression = ?, level_flag = ?, size = ?, sha256 = ? WHERE seq = ?",
          record.offset, record.crc, record.compressedSize, record.compression, record.levelFlag, record.size, sha256, seq,
        );
      this.sql.exec("DELETE FROM parts; DELETE FROM tail;");
      for (const part of uploader.parts) this.sql.exec("INSERT INTO parts (part_number, etag) VALUES (?, ?)", part.partNumber, part.etag);
      const tail = uploader.tail;
      for (let at = 0, seq = 0; at < tail.length; at += TAIL_ROW_BYTES, seq++)
        this.sql.exec("INSERT INTO tail (seq, bytes) VALUES (?, ?)", seq, tail.slice(at, at + TAIL_ROW_BYTES).buffer);
      this.save({ ...this.state()!, nextEntry: next, bytesWritten: writer.position, doneWeight, attempts: 0, lastError: null });
    });
    const progress = Math.min(99, Math.floor((100 * doneWeight) / Math.max(state.totalWeight, 1)));
    await updateJob(this.env.DB, state.jobId, { progress, message: `Wrote ${next} of ${pending.length + state.nextEntry} entries` });
    return next >= state.nextEntry + pending.length;
  }

  private async writeEntry(
    entry: EntryRow,
    writer: ZipEntryWriter,
    uploader: PartUploader,
    records: Map<string, RecordForDownload>,
    mtime: number,
  ): Promise<WrittenEntry> {
    if (entry.kind === "pdf") {
      const record = records.get(entry.record_id);
      if (!record) throw new JobFailure(`Record ${entry.record_id} was deleted while the bundle was being built`);
      const pdf = await metadataPdfBytes(this.env.BUCKET, record);
      const stream = writer.begin(entry.name, { deflate: false, mtime });
      stream.push(pdf, true);
      await this.drain(writer, uploader);
      return { seq: entry.seq, record: stream.record!, sha256: toHex(await crypto.subtle.digest("SHA-256", pdf)) };
    }
    const stream = writer.begin(entry.name, { deflate: shouldDeflate(entry.name, entry.content_type, entry.size), mtime });
    const digest = new crypto.DigestStream("SHA-256");
    const digestWriter = digest.getWriter();
    let etag: string | null = null;
    let inStep = 0;
    // The file is read in ranges, each pinned to the etag of the first, so no read buffers more than one range.
    for (let offset = 0; offset === 0 || offset < entry.size; offset += SOURCE_RANGE_BYTES) {
      const object: R2Object | R2ObjectBody | null = await this.env.BUCKET.get(entry.source_key!, {
        ...(entry.size > 0 ? { range: { offset, length: Math.min(SOURCE_RANGE_BYTES, entry.size - offset) } } : {}),
        ...(etag ? { onlyIf: { etagMatches: etag } } : {}),
      });
      if (!object) throw new JobFailure(`File ${entry.name} is missing from storage`);
      if (!("body" in object) || object.size !== entry.size) throw new JobFailure(`File ${entry.name} was replaced during the job`);
      etag = object.etag;
      const reader = object.body.getReader();
      try {
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
          for (let at = 0; at < chunk.value.length; at += STEP_BYTES) {
            const piece = chunk.value.subarray(at, at + STEP_BYTES);
            await digestWriter.write(piece);
            stream.push(piece, false);
            await this.drain(writer, uploader);
            inStep += piece.length;
            if (inStep >= STEP_BYTES) {
              inStep = 0;
              await this.endStep();
            }
          }
        }
      } catch (error) {
        await reader.cancel().catch(() => undefined);
        throw error;
      }
    }
    stream.push(new Uint8Array(0), true);
    await this.drain(writer, uploader);
    await digestWriter.close();
    const sha256 = toHex(await digest.digest);
    if (sha256 !== entry.sha256) throw new JobFailure(`File ${entry.name} no longer matches its SHA-256 (replaced during the job?)`);
    return { seq: entry.seq, record: stream.record!, sha256 };
  }

  private manifest(state: JobState, entries: EntryRow[]): Uint8Array {
    const files = entries.filter((entry) => entry.kind !== "manifest");
    const byRecord = new Map<string, EntryRow[]>();
    for (const entry of files) byRecord.set(entry.record_id, [...(byRecord.get(entry.record_id) ?? []), entry]);
    const manifest = {
      bundle_id: state.bundleId,
      created_at: new Date(state.createdAt).toISOString(),
      generator: "download-audit",
      records: [...byRecord.values()].map((recordEntries) => {
        const pdf = recordEntries.find((entry) => entry.kind === "pdf")!;
        return {
          id: pdf.record_id,
          doi: pdf.doi,
          title: pdf.title,
          citation: pdf.citation,
          metadata_pdf: pdf.name,
          files: recordEntries.filter((entry) => entry.kind === "file").map((entry) => ({ path: entry.name, size: entry.size, sha256: entry.sha256 })),
        };
      }),
      files: files.map((entry) => ({ path: entry.name, record_id: entry.record_id, doi: entry.doi, size: entry.size, sha256: entry.sha256, content_type: entry.content_type })),
      total_files: files.length,
      total_bytes: files.reduce((sum, entry) => sum + entry.size, 0),
    };
    return new TextEncoder().encode(JSON.stringify(manifest, null, 2));
  }

  /** Writes manifest.json and the central directory, completes the upload and publishes the signed link. */
  private async complete(config: Config): Promise<void> {
    const state = this.state()!;
    const entries = this.sql.exec<EntryRow>("SELECT * FROM entries ORDER BY seq").toArray();
    let zipSize: number;
    const existing = await this.env.BUCKET.head(state.objectKey);
    if (existing) zipSize = existing.size;
    else {
      const uploader = this.restoreUploader(state, config);
      const writer = new ZipEntryWriter(state.bytesWritten);
      const manifestEntry = writer.begin("manifest.json", { deflate: true, mtime: state.createdAt });
      manifestEntry.push(this.manifest(state, entries), true);
      await this.drain(writer, uploader);
      const records: ZipEntryRecord[] = entries
        .filter((entry) => entry.kind !== "manifest")
        .map((entry) => ({
          name: entry.name,
          offset: entry.offset!,
          crc: entry.crc!,
          compressedSize: entry.compressed_size!,
          size: entry.size,
          compression: entry.compression!,
          levelFlag: entry.level_flag!,
          mtime: state.createdAt,
        }));
      const directory = centralDirectory([...records, manifestEntry.record!], writer.position);
      zipSize = writer.position + directory.length;
      await uploader.write(directory);
      const parts = await uploader.finish();
      if (this.stopped()) return;
      await this.env.BUCKET.resumeMultipartUpload(state.objectKey, state.uploadId!).complete(parts);
      this.save({ ...this.state()!, partsUploaded: parts.length });
    }
    await this.publish(state, entries, zipSize, config);
  }

  private async publish(state: JobState, entries: EntryRow[], zipSize: number, config: Config): Promise<void> {
    const files = entries.filter((entry) => entry.kind !== "manifest");
    const summary: BundleSummary = {
      record_ids: state.recordIds,
      dois: [...new Set(files.map((entry) => entry.doi).filter((doi): doi is string => doi !== null))],
      files_in_bundle: files.map((entry) => ({ name: entry.name, size: entry.size, doi: entry.doi })),
      total_files: files.length,
    };
    const bundle = await getBundle(this.env.DB, state.bundleId);
    const expiresAt = Math.floor(state.expiresAt / 1000);
    // A job started before owners were recorded has no ownerKeyId in its state.
    const target = { kind: "bundle" as const, bundleId: state.bundleId, ownerKeyId: state.ownerKeyId ?? null };
    const token = await mintToken(config.downloadTokenSecret!, { target, sealedUser: bundle?.sealedUser ?? null, expiresAt });
    const result = {
      bundle_id: state.bundleId,
      url: `${state.origin}/d/${token}`,
      expires_at: new Date(expiresAt * 1000).toISOString(),
      zip_size: zipSize,
      total_files: summary.total_files,
      record_ids: state.recordIds,
    };
    if (this.stopped()) return;
    const orm = drizzle(this.env.DB);
    await orm.batch([
      orm.update(bundles).set({ zipSize, summary: JSON.stringify(summary) }).where(eq(bundles.id, state.bundleId)),
      jobUpdateStatement(this.env.DB, state.jobId, { status: "completed", progress: 100, message: `Bundle ready: ${summary.total_files} file(s), ${zipSize} bytes`, result }),
    ]);
    this.save({ ...this.state()!, status: "completed" });
    this.clearWork();
    await this.ctx.storage.deleteAlarm();
  }
}
