import { unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { PartUploader } from "../../../src/core/bundles/parts";
import { centralDirectory, shouldDeflate, ZipEntryWriter, type ZipEntryRecord } from "../../../src/core/bundles/zip";
import { bytesOf } from "../../catalog-helpers";

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

describe("ZipEntryWriter + centralDirectory", () => {
  it("writes entries in separate writers (as across alarms) that unzip as one archive", () => {
    const text = new TextEncoder().encode("depth,temperature\n".repeat(5000));
    const binary = bytesOf(70_000, 5);
    const mtime = Date.UTC(2026, 10, 20, 10, 30, 0);
    const output: Uint8Array[] = [];
    const records: ZipEntryRecord[] = [];

    const first = new ZipEntryWriter(0);
    const csv = first.begin("data/ré-1/temperatures.csv", { deflate: true, mtime });
    for (let at = 0; at < text.length; at += 4096) csv.push(text.subarray(at, at + 4096), false);
    csv.push(new Uint8Array(), true);
    output.push(...first.drain());
    records.push(csv.record!);

    const second = new ZipEntryWriter(first.position);
    const raw = second.begin("data/rec-1/image.png", { deflate: false, mtime });
    raw.push(binary, true);
    const empty = second.begin("empty.txt", { deflate: true, mtime });
    empty.push(new Uint8Array(), true);
    output.push(...second.drain());
    records.push(raw.record!, empty.record!);

    output.push(centralDirectory(records, second.position));
    const archive = concat(output);
    const entries = unzipSync(archive);
    expect(Object.keys(entries)).toEqual(["data/ré-1/temperatures.csv", "data/rec-1/image.png", "empty.txt"]);
    expect(entries["data/ré-1/temperatures.csv"]).toEqual(text);
    expect(entries["data/rec-1/image.png"]).toEqual(binary);
    expect(entries["empty.txt"]!.length).toBe(0);
    expect(records[0]).toMatchObject({ compression: 8, size: text.length, offset: 0 });
    expect(records[0]!.compressedSize).toBeLessThan(text.length / 10);
    expect(records[1]).toMatchObject({ compression: 0, size: binary.length, compressedSize: binary.length });
  });

  it("stores already-compressed and very large entries, deflates the rest", () => {
    expect(shouldDeflate("a.csv", "text/csv", 1000)).toBe(true);
    expect(shouldDeflate("a.nc", "application/x-netcdf", 1000)).toBe(false);
    expect(shouldDeflate("scan", "image/jpeg", 1000)).toBe(false);
    expect(shouldDeflate("huge.csv", "text/csv", 65 * 1024 * 1024)).toBe(false);
  });
});

describe("PartUploader", () => {
  function fakeUpload() {
    const sizes: number[] = [];
    const upload = {
      uploadPart: async (partNumber: number, value: Uint8Array) => {
        sizes[partNumber - 1] = value.length;
        return { partNumber, etag: `etag-${partNumber}` };
      },
    } as unknown as R2MultipartUpload;
    return { upload, sizes };
  }

  it("uploads equal parts but the last, and resumes from a checkpoint (parts + tail) with the same numbering", async () => {
    const { upload, sizes } = fakeUpload();
    const first = new PartUploader(upload, 1000, []);
    for (let i = 0; i < 7; i++) await first.write(new Uint8Array(333));
    expect(sizes).toEqual([1000, 1000]);
    expect(first.tail.length).toBe(331);

    const resumed = new PartUploader(upload, 1000, [...first.parts], first.tail.slice());
    await resumed.write(new Uint8Array(1500));
    const parts = await resumed.finish();
    expect(parts.map((part) => part.partNumber)).toEqual([1, 2, 3, 4]);
    expect(sizes).toEqual([1000, 1000, 1000, 831]);
  });

  it("always uploads at least one part, and refuses a tail as large as a part", async () => {
    const { upload, sizes } = fakeUpload();
    expect(await new PartUploader(upload, 1000, []).finish()).toHaveLength(1);
    expect(sizes).toEqual([0]);
    expect(() => new PartUploader(upload, 1000, [], new Uint8Array(1000))).toThrow();
  });
});
