// ZIP output for bundles: fflate's streaming Zip writes each entry; the central directory is written from stored records.
import { Zip, ZipDeflate, ZipPassThrough, strToU8 } from "fflate";

/** What the central directory needs of an entry once it is written; small enough to checkpoint in DO storage. */
export interface ZipEntryRecord {
  name: string;
  /** Offset of the entry's local header from the start of the archive. */
  offset: number;
  crc: number;
  compressedSize: number;
  size: number;
  /** 0 = stored, 8 = deflate. */
  compression: number;
  /** General-purpose flag bits 1-2 (deflate level hint), as fflate writes them in the local header. */
  levelFlag: number;
  mtime: number;
}

/** Formats that are compressed already: deflating them again costs CPU for nothing, so they are stored. */
const COMPRESSED_EXTENSIONS = new Set([
  "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "lz4", "br",
  "png", "jpg", "jpeg", "gif", "webp", "avif", "heic", "jp2", "tif", "tiff",
  "mp3", "mp4", "m4a", "mov", "mkv", "webm", "ogg", "flac",
  "pdf", "docx", "xlsx", "pptx", "odt", "ods", "parquet", "nc", "nc4", "h5", "hdf5", "zarr",
]);
const COMPRESSED_TYPES = /^(image\/(png|jpeg|gif|webp|avif)|video\/|audio\/|application\/(zip|gzip|x-gzip|x-bzip2|x-xz|zstd|x-7z-compressed|pdf|vnd\.openxmlformats))/;

/**
 * Deflate only what is worth it and bounded: already-compressed formats are stored, and so are entries over
 * `maxDeflateBytes`, which keeps the CPU time of one entry (the unit of work between checkpoints) bounded too.
 */
export function shouldDeflate(name: string, contentType: string, size: number, maxDeflateBytes = 64 * 1024 * 1024): boolean {
  const extension = name.toLowerCase().split(".").pop() ?? "";
  return size <= maxDeflateBytes && !COMPRESSED_EXTENSIONS.has(extension) && !COMPRESSED_TYPES.test(contentType.toLowerCase());
}

/** One entry being written: push its data (pre-compression) in order; `record` is set after the final push. */
export interface ZipEntryStream {
  push(chunk: Uint8Array, final: boolean): void;
  readonly record: ZipEntryRecord | null;
}

/**
 * Writes ZIP entries (local header, data, data descriptor) through fflate's streaming `Zip` with `ZipDeflate` or
 * `ZipPassThrough`, one entry at a time, and collects the output for the caller to drain. It never calls `Zip.end()`:
 * fflate keeps its entry list in memory only, and a bundle job must survive eviction between alarms, so the job keeps
 * `ZipEntryRecord`s in Durable Object storage and `centralDirectory` writes the end of the archive from them.
 */
export class ZipEntryWriter {
  private readonly zip: Zip;
  private output: Uint8Array[] = [];
  private failure: Error | null = null;
  private emitted = 0;

  constructor(private offset: number) {
    this.zip = new Zip((error, chunk) => {
      if (error) this.failure = error;
      else if (chunk) {
        this.output.push(chunk);
        this.emitted += chunk.length;
      }
    });
  }

  /** Bytes of the archive written so far (including what has not been drained yet). */
  get position(): number {
    return this.offset + this.emitted;
  }

  /** Starts an entry; the previous one must be complete. */
  begin(name: string, options: { deflate: boolean; mtime: number }): ZipEntryStream {
    const file = options.deflate ? new ZipDeflate(name, { level: 6 }) : new ZipPassThrough(name);
    file.mtime = options.mtime;
    const offset = this.position;
    const headerLength = 30 + strToU8(name).length;
    this.zip.add(file);
    const writer = this;
    let record: ZipEntryRecord | null = null;
    return {
      push(chunk, final) {
        file.push(chunk, final);
        writer.throwIfFailed();
        if (final) {
          record = {
            name,
            offset,
            crc: file.crc,
            size: file.size,
            compressedSize: writer.position - offset - headerLength - 16,
            compression: file.compression,
            levelFlag: "flag" in file ? (file.flag as number) : 0,
            mtime: options.mtime,
          };
        }
      },
      get record() {
        return record;
      },
    };
  }

  /** Takes the output produced so far. */
  drain(): Uint8Array[] {
    const chunks = this.output;
    this.output = [];
    return chunks;
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}

function dosDateTime(ms: number): number {
  const date = new Date(ms);
  const year = Math.min(Math.max(date.getUTCFullYear() - 1980, 0), 119);
  return (
    (year << 25) |
    ((date.getUTCMonth() + 1) << 21) |
    (date.getUTCDate() << 16) |
    (date.getUTCHours() << 11) |
    (date.getUTCMinutes() << 5) |
    (date.getUTCSeconds() >> 1)
  ) >>> 0;
}

/**
 * The central directory and end-of-central-directory record (PKWARE APPNOTE 4.3.12 and 4.3.16) for entries written
 * by `ZipEntryWriter`, matching the local headers fflate wrote: version 2.0, data descriptor flag, UTF-8 flag for
 * non-ASCII names. ZIP64 is not needed: bundles stay under 4 GiB and 65,535 entries.
 */
export function centralDirectory(entries: ZipEntryRecord[], offset: number): Uint8Array {
  if (entries.length > 0xffff || offset > 0xffffffff) throw new Error("bundle too large for a ZIP without ZIP64");
  const names = entries.map((entry) => strToU8(entry.name));
  const directoryLength = names.reduce((sum, name) => sum + 46 + name.length, 0);
  const out = new Uint8Array(directoryLength + 22);
  const view = new DataView(out.buffer);
  let at = 0;
  entries.forEach((entry, index) => {
    const name = names[index]!;
    const utf8 = name.length !== entry.name.length;
    view.setUint32(at, 0x02014b50, true);
    view.setUint16(at + 4, 20, true);
    view.setUint16(at + 6, 20, true);
    view.setUint16(at + 8, (entry.levelFlag << 1) | 0x8 | (utf8 ? 0x800 : 0), true);
    view.setUint16(at + 10, entry.compression, true);
    view.setUint32(at + 12, dosDateTime(entry.mtime), true);
    view.setUint32(at + 16, entry.crc >>> 0, true);
    view.setUint32(at + 20, entry.compressedSize, true);
    view.setUint32(at + 24, entry.size, true);
    view.setUint16(at + 28, name.length, true);
    view.setUint32(at + 42, entry.offset, true);
    out.set(name, at + 46);
    at += 46 + name.length;
  });
  view.setUint32(at, 0x06054b50, true);
  view.setUint16(at + 8, entries.length, true);
  view.setUint16(at + 10, entries.length, true);
  view.setUint32(at + 12, directoryLength, true);
  view.setUint32(at + 16, offset, true);
  return out;
}
