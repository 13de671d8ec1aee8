// Metadata PDFs of records (pdf-lib): wrapped multi-page layout, citation, DOI link, file list; cached in R2 by content hash.
import { PDFDocument, PDFFont, PDFPage, PDFString, StandardFonts, rgb, type RGB } from "pdf-lib";
import { sha256Hex } from "../../lib/crypto";
import { winAnsiText } from "../../lib/pdf-text";
import { metadataPdfPrefix, type RecordForDownload } from "./catalog";
import type { NormalisedRecord } from "./metadata/normalised";

/** Bump when the layout changes, so cached PDFs of the old layout are not served. */
const LAYOUT_VERSION = 2;

const PAGE = { width: 595.28, height: 841.89, margin: 56 };
const CONTENT_WIDTH = PAGE.width - 2 * PAGE.margin;
/**
 * Bounds on the work of one PDF (anyone may ask for a public record's PDF): at most this many pages, and at most this
 * many characters from one field. Whatever is cut is said in a note at the end. A normal record takes one to three pages.
 */
export const MAX_PDF_PAGES = 50;
export const MAX_FIELD_CHARACTERS = 120_000;
/** Room kept free at the bottom of the last allowed page for the truncation note. */
const NOTE_HEIGHT = 3 * 9 * 1.35 + 4;
const COLOURS = { text: rgb(0.1, 0.1, 0.12), muted: rgb(0.42, 0.42, 0.46), link: rgb(0.05, 0.33, 0.7), rule: rgb(0.8, 0.8, 0.84) };

export function humanSize(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export const doiUrl = (doi: string) => `https://doi.org/${doi}`;

/** A DataCite-style citation: Creators (Year). Title. Version. Publisher. https://doi.org/DOI */
export function citationOf(record: Pick<RecordForDownload, "title" | "doi" | "normalised">): string {
  const n = record.normalised;
  const names = n.creators.map((creator) => creator.name);
  const creators = names.length > 10 ? `${names.slice(0, 10).join("; ")}; et al.` : names.join("; ");
  return [
    `${creators || n.publisher || "Unknown creator"} (${n.publication_year ?? "n.d."}).`,
    `${record.title.replace(/\.$/, "")}.`,
    n.version ? `Version ${n.version}.` : null,
    n.publisher ? `${n.publisher}.` : null,
    record.doi ? doiUrl(record.doi) : null,
  ]
    .filter(Boolean)
    .join(" ");
}

const characterWidths = new WeakMap<PDFFont, Map<string, number>>();

/** Thrown by the layout when the content would need a page beyond MAX_PDF_PAGES. */
class PageLimitReached extends Error {}

/** Lays text out top to bottom, starting new pages as needed, up to MAX_PDF_PAGES. */
class Layout {
  page!: PDFPage;
  private pageFont: PDFFont | null = null;
  private pageCount = 0;
  y = 0;
  /** Set when a field was cut or the page limit was reached. */
  truncated = false;

  constructor(
    readonly doc: PDFDocument,
    readonly fonts: { regular: PDFFont; bold: PDFFont; mono: PDFFont },
  ) {
    this.newPage();
  }

  newPage(): void {
    this.page = this.doc.addPage([PAGE.width, PAGE.height]);
    this.pageFont = null;
    this.pageCount++;
    this.y = PAGE.height - PAGE.margin;
  }

  ensure(height: number): void {
    const lastPage = this.pageCount >= MAX_PDF_PAGES;
    if (this.y - height >= PAGE.margin + 20 + (lastPage ? NOTE_HEIGHT : 0)) return;
    if (lastPage) {
      this.truncated = true;
      throw new PageLimitReached();
    }
    this.newPage();
  }

  /** The advance width of one character at size 1, measured once per font and character. */
  private charWidth(font: PDFFont, char: string): number {
    let widths = characterWidths.get(font);
    if (!widths) characterWidths.set(font, (widths = new Map()));
    let width = widths.get(char);
    if (width === undefined) widths.set(char, (width = font.widthOfTextAtSize(char, 1)));
    return width;
  }

  /**
   * Greedy word wrap in one pass over the characters, so its time is linear in the text: widths are sums of cached
   * character widths (kerning is ignored), and a word wider than the line is broken where the next character would
   * overflow. (Measuring each candidate prefix of a long word again made wrapping cubic in the word's length.)
   */
  wrap(text: string, font: PDFFont, size: number, width: number): string[] {
    const lines: string[] = [];
    const space = this.charWidth(font, " ") * size;
    for (const paragraph of winAnsiText(text, font).split("\n")) {
      let line = "";
      let lineWidth = 0;
      for (const word of paragraph.split(/\s+/).filter(Boolean)) {
        // Encodable text holds WinAnsi characters only, so every character is one UTF-16 code unit.
        const widths = Array.from(word, (char) => this.charWidth(font, char) * size);
        const wordWidth = widths.reduce((sum, charWidth) => sum + charWidth, 0);
        if (line && lineWidth + space + wordWidth <= width) {
          line += ` ${word}`;
          lineWidth += space + wordWidth;
          continue;
        }
        if (line) lines.push(line);
        let start = 0;
        let restWidth = 0;
        if (wordWidth > width) {
          for (let at = 0; at < word.length; at++) {
            if (at > start && restWidth + widths[at]! > width) {
              lines.push(word.slice(start, at));
              start = at;
              restWidth = 0;
            }
            restWidth += widths[at]!;
          }
        } else restWidth = wordWidth;
        line = word.slice(start);
        lineWidth = restWidth;
      }
      lines.push(line);
    }
    return lines;
  }

  /**
   * pdf-lib's drawText with a `font` option adds a font resource to the page on every call (twice); selecting the font
   * only when it changes keeps the PDF small and rendering fast.
   */
  private draw(line: string, x: number, size: number, font: PDFFont, color: RGB): void {
    if (this.pageFont !== font) {
      this.page.setFont(font);
      this.pageFont = font;
    }
    this.page.drawText(line, { x, y: this.y, size, color });
  }

  text(text: string, options: { font?: PDFFont; size?: number; colour?: RGB; indent?: number; after?: number } = {}): void {
    const font = options.font ?? this.fonts.regular;
    const size = options.size ?? 10;
    const indent = options.indent ?? 0;
    const leading = size * 1.35;
    let shown = text;
    if (text.length > MAX_FIELD_CHARACTERS) {
      shown = `${text.slice(0, MAX_FIELD_CHARACTERS)} [...]`;
      this.truncated = true;
    }
    for (const line of this.wrap(shown, font, size, CONTENT_WIDTH - indent)) {
      this.ensure(leading);
      this.y -= leading;
      this.draw(line, PAGE.margin + indent, size, font, options.colour ?? COLOURS.text);
    }
    this.y -= options.after ?? 2;
  }

  /** A note at the end of the document, in the room `ensure` keeps free on the last allowed page. */
  note(text: string): void {
    const size = 9;
    const leading = size * 1.35;
    if (this.y - NOTE_HEIGHT < PAGE.margin + 20 && this.pageCount < MAX_PDF_PAGES) this.newPage();
    this.y -= 4;
    for (const line of this.wrap(text, this.fonts.bold, size, CONTENT_WIDTH).slice(0, 3)) {
      this.y -= leading;
      this.draw(line, PAGE.margin, size, this.fonts.bold, COLOURS.muted);
    }
  }

  heading(text: string): void {
    this.ensure(40);
    this.y -= 12;
    this.text(text, { font: this.fonts.bold, size: 12, after: 2 });
    this.page.drawLine({ start: { x: PAGE.margin, y: this.y }, end: { x: PAGE.width - PAGE.margin, y: this.y }, thickness: 0.5, color: COLOURS.rule });
    this.y -= 4;
  }

  field(label: string, value: string | null | undefined): void {
    if (!value) return;
    this.text(`${label}: ${value}`);
  }

  /** Blue underlined text with a URI link annotation over it. */
  link(label: string, url: string, size = 10): void {
    const font = this.fonts.regular;
    const leading = size * 1.35;
    for (const line of this.wrap(label, font, size, CONTENT_WIDTH)) {
      this.ensure(leading);
      this.y -= leading;
      const width = font.widthOfTextAtSize(line, size);
      this.draw(line, PAGE.margin, size, font, COLOURS.link);
      this.page.drawLine({ start: { x: PAGE.margin, y: this.y - 1.5 }, end: { x: PAGE.margin + width, y: this.y - 1.5 }, thickness: 0.5, color: COLOURS.link });
      const annotation = this.doc.context.register(
        this.doc.context.obj({
          Type: "Annot",
          Subtype: "Link",
          Rect: [PAGE.margin, this.y - 3, PAGE.margin + width, this.y + size],
          Border: [0, 0, 0],
          A: { Type: "Action", S: "URI", URI: PDFString.of(url) },
        }),
      );
      this.page.node.addAnnot(annotation);
    }
    this.y -= 2;
  }
}

function coverageLines(n: NormalisedRecord): string[] {
  const lines = n.spatial.map((area) =>
    [
      area.place,
      area.box ? `W ${area.box.west}, E ${area.box.east}, S ${area.box.south}, N ${area.box.north}` : null,
      area.point ? `point ${area.point.latitude}, ${area.point.longitude}` : null,
    ]
      .filter(Boolean)
      .join(": "),
  );
  if (n.temporal) lines.push(`From ${n.temporal.start ?? "?"} to ${n.temporal.end ?? "?"}`);
  return lines;
}

/** The record's sections, top to bottom; throws PageLimitReached when they do not fit in MAX_PDF_PAGES. */
function layOutRecord(layout: Layout, record: RecordForDownload): void {
  const { fonts } = layout;
  const n = record.normalised;
  layout.text(record.title, { font: fonts.bold, size: 18, after: 6 });
  layout.text([n.resource_type ?? "Dataset", n.publisher, n.publication_year?.toString(), n.version ? `version ${n.version}` : null].filter(Boolean).join(" · "), {
    colour: COLOURS.muted,
    after: 4,
  });
  if (record.doi) layout.link(doiUrl(record.doi), doiUrl(record.doi));

  layout.heading("Citation");
  layout.text(citationOf(record), { size: 10 });

  if (n.creators.length > 0) {
    layout.heading("Creators");
    for (const creator of n.creators) {
      layout.text([creator.name, creator.orcid ? `ORCID ${creator.orcid}` : null].filter(Boolean).join(" · "), { after: 0 });
      if (creator.affiliations.length > 0) layout.text(creator.affiliations.join("; "), { indent: 12, size: 9, colour: COLOURS.muted });
    }
  }
  if (n.abstract) {
    layout.heading("Abstract");
    layout.text(n.abstract);
  }
  if (n.keywords.length > 0 || n.subjects.length > 0) {
    layout.heading("Keywords and subjects");
    layout.field("Keywords", n.keywords.join(", "));
    for (const subject of n.subjects) layout.text(subject.scheme ? `${subject.subject} (${subject.scheme})` : subject.subject);
  }
  const coverage = coverageLines(n);
  if (coverage.length > 0) {
    layout.heading("Coverage");
    for (const line of coverage) layout.text(line);
  }
  if (n.rights.length > 0) {
    layout.heading("Licence and rights");
    for (const rights of n.rights) layout.text([rights.name ?? rights.identifier, rights.uri].filter(Boolean).join(" — "));
  }
  if (n.funding.length > 0) {
    layout.heading("Funding");
    for (const funding of n.funding) layout.text([funding.funder, funding.award_number ? `award ${funding.award_number}` : null, funding.award_title].filter(Boolean).join(" · "));
  }
  if (n.related.length > 0) {
    layout.heading("Related identifiers");
    for (const related of n.related) layout.text(`${related.relation ?? "Related"}: ${related.identifier}${related.type ? ` (${related.type})` : ""}`);
  }

  layout.heading(`Files (${record.files.length})`);
  if (record.files.length === 0) layout.text("No files.", { colour: COLOURS.muted });
  for (const file of record.files) {
    layout.ensure(30);
    layout.text(`${file.name} — ${humanSize(file.size)} (${file.size.toLocaleString("en")} bytes)`, { after: 0 });
    layout.text(`SHA-256 ${file.sha256}`, { font: fonts.mono, size: 7.5, colour: COLOURS.muted, indent: 12, after: 4 });
  }
}

/**
 * Renders the record's metadata PDF. Dates come from the record, so the same record renders the same bytes. The work
 * is linear in the text shown and bounded by MAX_PDF_PAGES and MAX_FIELD_CHARACTERS.
 */
export async function renderMetadataPdf(record: RecordForDownload): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const n = record.normalised;
  doc.setTitle(record.title);
  doc.setSubject(record.doi ? `doi:${record.doi}` : record.id);
  doc.setAuthor(n.creators.map((creator) => creator.name).join("; "));
  doc.setProducer("download-audit");
  doc.setCreator("download-audit");
  doc.setCreationDate(new Date(record.updatedAt));
  doc.setModificationDate(new Date(record.updatedAt));
  const fonts = {
    regular: await doc.embedFont(StandardFonts.Helvetica),
    bold: await doc.embedFont(StandardFonts.HelveticaBold),
    mono: await doc.embedFont(StandardFonts.Courier),
  };
  const layout = new Layout(doc, fonts);
  try {
    layOutRecord(layout, record);
  } catch (error) {
    if (!(error instanceof PageLimitReached)) throw error;
  }
  if (layout.truncated)
    layout.note(
      `This PDF is shortened: the record's metadata is longer than ${MAX_PDF_PAGES} pages or ${MAX_FIELD_CHARACTERS.toLocaleString("en")} characters in one field. ` +
        `The complete record: ${record.doi ? doiUrl(record.doi) : `record ${record.id} in the catalogue`}.`,
    );

  const pages = doc.getPages();
  pages.forEach((page, index) => {
    const footer = `${record.doi ? `doi:${record.doi}` : record.id} · page ${index + 1} of ${pages.length}`;
    const text = winAnsiText(footer, fonts.regular);
    page.drawText(text, { x: PAGE.width - PAGE.margin - fonts.regular.widthOfTextAtSize(text, 8), y: PAGE.margin / 2, size: 8, font: fonts.regular, color: COLOURS.muted });
  });
  // Object streams save a few KB but cost most of the rendering time (pako deflate in JS).
  return doc.save({ useObjectStreams: false });
}

/** The R2 key of a record's PDF: a hash of everything the PDF shows, so any change renders a new one. */
export async function metadataPdfKey(record: RecordForDownload): Promise<string> {
  const files = record.files.map((file) => [file.name, file.size, file.sha256]);
  const hash = await sha256Hex(JSON.stringify([LAYOUT_VERSION, record.id, record.title, record.doi, record.updatedAt, record.normalised, files]));
  return `${metadataPdfPrefix(record.id)}${hash}.pdf`;
}

export const metadataPdfName = (recordId: string) => `${recordId}.pdf`;

/** The cached PDF's key, rendering and storing it first when R2 has none for this version of the record. */
export async function ensureMetadataPdf(bucket: R2Bucket, record: RecordForDownload): Promise<string> {
  const key = await metadataPdfKey(record);
  if (!(await bucket.head(key))) await bucket.put(key, await renderMetadataPdf(record), { httpMetadata: { contentType: "application/pdf" } });
  return key;
}

/** The PDF's bytes, from the R2 cache or freshly rendered (and then cached). */
export async function metadataPdfBytes(bucket: R2Bucket, record: RecordForDownload): Promise<Uint8Array> {
  const key = await metadataPdfKey(record);
  const cached = await bucket.get(key);
  if (cached) return new Uint8Array(await cached.arrayBuffer());
  const bytes = await renderMetadataPdf(record);
  await bucket.put(key, bytes, { httpMetadata: { contentType: "application/pdf" } });
  return bytes;
}
