import { env } from "cloudflare:workers";
import { PDFDict, PDFDocument, PDFName, PDFString } from "pdf-lib";
import { extractText, getDocumentProxy } from "unpdf";
import { describe, expect, it } from "vitest";
import type { RecordForDownload } from "../../../src/core/catalog/catalog";
import { fromDataCite } from "../../../src/core/catalog/metadata/datacite";
import { citationOf, ensureMetadataPdf, metadataPdfKey, renderMetadataPdf } from "../../../src/core/catalog/pdf";
import { samples, uniqueId } from "../../catalog-helpers";

function record(overrides: Partial<RecordForDownload> = {}): RecordForDownload {
  const normalised = fromDataCite(samples.datacite);
  return {
    id: "rec-pdf-1",
    doi: normalised.doi,
    title: normalised.title!,
    public: true,
    normalised,
    updatedAt: Date.UTC(2026, 0, 2),
    files: [
      { name: "algoa_sst_2019-2021.csv", size: 5_242_880, content_type: "text/csv", sha256: "a".repeat(64), uploaded_at: "2026-01-02T00:00:00.000Z", objectKey: "k1" },
      { name: "moorings.nc", size: 1536, content_type: "application/x-netcdf", sha256: "b".repeat(64), uploaded_at: "2026-01-02T00:00:00.000Z", objectKey: "k2" },
    ],
    ...overrides,
  };
}

async function textOf(bytes: Uint8Array): Promise<{ pages: number; text: string[] }> {
  const { totalPages, text } = await extractText(await getDocumentProxy(new Uint8Array(bytes)), { mergePages: false });
  return { pages: totalPages, text: text.map((page) => page.replace(/\s+/g, " ")) };
}

describe("metadata PDF", () => {
  it("renders title, citation, DOI link, creators, coverage, rights, funding and the file list with sizes", async () => {
    const bytes = await renderMetadataPdf(record());
    const { pages, text } = await textOf(bytes);
    expect(pages).toBe(2);
    const page = text.join(" ");
    expect(page).toContain("Sea surface temperature and salinity, Algoa Bay moorings, 2019-2021");
    expect(page).toContain(citationOf(record()));
    expect(citationOf(record())).toBe(
      "Nkosi, Thandiwe; Müller, Jörg; Marine Data Unit (2021). Sea surface temperature and salinity, Algoa Bay moorings, 2019-2021. Version 1.2. South African Environmental Observation Network (SAEON). https://doi.org/10.15493/saeon.ocean.2021.001",
    );
    for (const expected of ["ORCID 0000-0002-1825-0097", "Algoa Bay, Eastern Cape", "From 2019-03-01 to 2021-02-28", "Creative Commons Attribution 4.0", "National Research Foundation", "award UID 118812", "IsSupplementTo: 10.1016/j.csr.2020.104201", "Files (2)", "algoa_sst_2019-2021.csv — 5.00 MiB (5,242,880 bytes)", "moorings.nc — 1.50 KiB (1,536 bytes)", `SHA-256 ${"a".repeat(64)}`, "page 1 of 2", "page 2 of 2"])
      expect(page).toContain(expected);

    const doc = await PDFDocument.load(bytes);
    const annotations = doc.getPage(0).node.Annots()!;
    const uris = annotations.asArray().map((ref) => {
      const action = (doc.context.lookup(ref) as PDFDict).lookup(PDFName.of("A"), PDFDict);
      return (action.lookup(PDFName.of("URI")) as PDFString).decodeText();
    });
    expect(uris).toEqual(["https://doi.org/10.15493/saeon.ocean.2021.001"]);
    expect(doc.getTitle()).toBe(record().title);
  });

  it("wraps long text over several pages and survives characters the standard fonts cannot encode", async () => {
    const base = record();
    const long = {
      ...base,
      title: "Łódź 北京 — survey with a title long enough to wrap over more than one line of the page at eighteen points",
      normalised: { ...base.normalised, abstract: Array.from({ length: 60 }, (_, i) => `Paragraph ${i} ${"observation ".repeat(40)}`).join("\n\n") },
      files: Array.from({ length: 80 }, (_, i) => ({ ...base.files[0]!, name: `file-${i}.csv` })),
    };
    const { pages, text } = await textOf(await renderMetadataPdf(long));
    expect(pages).toBeGreaterThan(3);
    expect(text[0]).toContain("Lódz ?? — survey with a title long enough");
    expect(text[0]).toMatch(/observation Paragraph 1 observation/);
    expect(text.join(" ")).toContain("Paragraph 59");
    expect(text.at(-1)).toContain("file-79.csv");
    expect(text.at(-1)).toContain(`page ${pages} of ${pages}`);
  });

  it("renders the same bytes for the same record, and caches in R2 under a key that changes with the record", async () => {
    const id = uniqueId();
    const first = record({ id });
    expect(await renderMetadataPdf(first)).toEqual(await renderMetadataPdf(first));
    const key = await ensureMetadataPdf(env.BUCKET, first);
    expect(await ensureMetadataPdf(env.BUCKET, first)).toBe(key);
    expect((await env.BUCKET.list({ prefix: `records/${id}/metadata/` })).objects.map((o) => o.key)).toEqual([key]);
    expect(await metadataPdfKey({ ...first, title: "Changed" })).not.toBe(key);
    expect(await metadataPdfKey({ ...first, files: first.files.slice(1) })).not.toBe(key);
  });
});
