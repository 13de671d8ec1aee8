import { env } from "cloudflare:workers";
import { PDFDict, PDFDocument, PDFName, PDFString } from "pdf-lib";
import { extractText, getDocumentProxy } from "unpdf";
import { describe, expect, it } from "vitest";
import type { RecordForDownload } from "../../../src/core/catalog/catalog";
import { fromDataCite } from "../../../src/core/catalog/metadata/datacite";
import { citationOf, ensureMetadataPdf, metadataPdfKey, renderMetadataPdf } from "../../../src/core/catalog/pdf";
import { bytesOf } from "../../catalog-helpers";
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

/** A word of `length` letters and digits, different at every position (so a lost or repeated piece would show). */
function longWord(length: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return Array.from(bytesOf(length, 7), (byte) => alphabet[byte % alphabet.length]).join("");
}

/** Every page's text without its footer, joined and without whitespace: what a reader would copy out of the body. */
async function bodyText(bytes: Uint8Array): Promise<{ pages: number; text: string; last: string }> {
  const { pages, text } = await textOf(bytes);
  const bodies = text.map((page) => page.replace(/(doi:\S+|rec-pdf-1) · page \d+ of \d+/, ""));
  return { pages, text: bodies.join("").replace(/\s+/g, ""), last: text.at(-1)! };
}

describe("finding 3: 10.3: metadata PDF layout is linear and its work is bounded", () => {
  it("renders a 100,000-character word (was cubic: 8,000 characters took 49 s) and its text is findable", async () => {
    const word = longWord(100_000);
    const { pages, text, last } = await bodyText(await renderMetadataPdf(record({ normalised: { ...record().normalised, abstract: word } })));
    // About 95 characters per 10-point line and 52 lines per page: 100,000 characters need about 21 pages.
    expect(pages).toBeGreaterThan(15);
    expect(pages).toBeLessThan(30);
    expect(text).toContain(word);
    expect(last).not.toContain("This PDF is shortened");
  });

  it("stops at 50 pages and says so on the last page", async () => {
    // 4,000 subject lines at 52 lines a page would need about 77 pages.
    const subjects = Array.from({ length: 4000 }, (_, i) => ({ subject: `Subject number ${i}`, scheme: null }));
    const { pages, last } = await bodyText(await renderMetadataPdf(record({ normalised: { ...record().normalised, subjects } })));
    expect(pages).toBe(50);
    expect(last).toContain("This PDF is shortened");
    expect(last).toContain("https://doi.org/10.15493/saeon.ocean.2021.001");
    expect(last).toContain("page 50 of 50");
  });

  it("shows at most 120,000 characters of one field, with a note", async () => {
    const word = longWord(130_000);
    const { pages, text, last } = await bodyText(await renderMetadataPdf(record({ normalised: { ...record().normalised, abstract: word } })));
    expect(pages).toBeLessThan(50);
    expect(text).toContain(`${word.slice(0, 120_000)}[...]`);
    expect(text).not.toContain(word.slice(0, 120_001));
    expect(last).toContain("This PDF is shortened");
  });
});
