// Usage reports as PDF (pdf-lib): title, period, summary table, a bar chart of the series drawn with vector operations, top
// tables, optional COUNTER and integrity-seal sections, and a footer with the generation time on every page.
import { PDFDocument, StandardFonts, rgb, type PDFFont, type PDFPage, type RGB } from "pdf-lib";
import { winAnsiText } from "../../lib/pdf-text";
import { doiUrl } from "../catalog/pdf";
import { bytesText, number, percent, reportTitle, summaryRows, type Report } from "./report";
import type { ResourceStats, Stats } from "./stats";

const PAGE = { width: 595.28, height: 841.89, margin: 48 };
const CONTENT_WIDTH = PAGE.width - 2 * PAGE.margin;
const FOOTER_SPACE = 40;
const COLOURS = {
  text: rgb(0.1, 0.1, 0.12),
  muted: rgb(0.42, 0.42, 0.46),
  rule: rgb(0.8, 0.8, 0.84),
  grid: rgb(0.9, 0.9, 0.92),
  successful: rgb(0.16, 0.42, 0.75),
  failed: rgb(0.82, 0.3, 0.26),
};

export interface PdfTable {
  heading: string;
  columns: { label: string; /** share of the content width */ width: number; right?: boolean }[];
  rows: string[][];
  /** Shown instead of the table when it has no rows. */
  empty: string;
}

export interface ChartPoint {
  label: string;
  successful: number;
  failed: number;
}

/** What a usage report PDF shows, independent of where the numbers came from. */
export interface UsageReportDocument {
  title: string;
  period: string;
  note?: string;
  summary: [string, string][];
  chart: { heading: string; points: ChartPoint[] };
  tables: PdfTable[];
}

/**
 * Optional sections other features contribute: each is drawn only when given, so a new source of numbers is one more
 * optional field here and one more `if` in `renderUsageReportPdf`.
 */
export interface ReportPdfExtras {
  /** COUNTER metrics of the same period, one row per metric type (e.g. Total_Item_Requests, Unique_Item_Requests). */
  counter?: { release: string; metrics: { metric_type: string; value: number }[]; note?: string };
  /** The integrity seal covering the period: its Merkle root (RFC 9162), printed in every page's footer. */
  sealRoot?: { root: string; sealed_through?: string };
  /** Epoch ms printed in the footer; now by default. */
  generatedAt?: number;
}

/** One line of text the standard fonts can draw: runs of white space (newlines too) become one space. */
const encodable = (text: string, font: PDFFont) => winAnsiText(text.replace(/\s+/g, " "), font);

/** The text cut (with an ellipsis) to fit `width`; binary search over the length, so long cells cost a few measurements. */
function fitted(text: string, font: PDFFont, size: number, width: number): string {
  if (font.widthOfTextAtSize(text, size) <= width) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (font.widthOfTextAtSize(`${text.slice(0, middle)}…`, size) <= width) low = middle;
    else high = middle - 1;
  }
  return `${text.slice(0, low)}…`;
}

/** A step of 1, 2 or 5 × 10^n that splits `max` into about four intervals. */
function niceStep(max: number): number {
  const rough = Math.max(max, 1) / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= rough)!;
  return Math.max(1, step);
}

class ReportWriter {
  page!: PDFPage;
  y = 0;

  constructor(
    readonly doc: PDFDocument,
    readonly fonts: { regular: PDFFont; bold: PDFFont; mono: PDFFont },
  ) {
    this.newPage();
  }

  newPage(): void {
    this.page = this.doc.addPage([PAGE.width, PAGE.height]);
    this.y = PAGE.height - PAGE.margin;
  }

  ensure(height: number): void {
    if (this.y - height < PAGE.margin + FOOTER_SPACE) this.newPage();
  }

  draw(text: string, x: number, options: { size?: number; font?: PDFFont; colour?: RGB; width?: number; right?: boolean } = {}): void {
    const font = options.font ?? this.fonts.regular;
    const size = options.size ?? 9;
    let line = encodable(text, font);
    if (options.width !== undefined) line = fitted(line, font, size, options.width);
    const at = options.right && options.width !== undefined ? x + options.width - font.widthOfTextAtSize(line, size) : x;
    this.page.drawText(line, { x: at, y: this.y, size, font, color: options.colour ?? COLOURS.text });
  }

  line(text: string, options: { size?: number; font?: PDFFont; colour?: RGB; after?: number } = {}): void {
    const size = options.size ?? 9;
    this.ensure(size * 1.4);
    this.y -= size * 1.4;
    this.draw(text, PAGE.margin, { ...options, width: CONTENT_WIDTH });
    this.y -= options.after ?? 0;
  }

  heading(text: string): void {
    this.ensure(60);
    this.y -= 14;
    this.line(text, { font: this.fonts.bold, size: 12, after: 4 });
    this.page.drawLine({ start: { x: PAGE.margin, y: this.y }, end: { x: PAGE.width - PAGE.margin, y: this.y }, thickness: 0.5, color: COLOURS.rule });
    this.y -= 2;
  }

  table(table: PdfTable): void {
    this.heading(table.heading);
    if (table.rows.length === 0) {
      this.line(table.empty, { colour: COLOURS.muted });
      return;
    }
    const gap = 6;
    const widths = table.columns.map((column) => column.width * CONTENT_WIDTH - gap);
    const row = (cells: string[], font: PDFFont) => {
      this.y -= 13;
      let x = PAGE.margin;
      cells.forEach((cell, index) => {
        this.draw(cell, x, { font, width: widths[index]!, right: table.columns[index]!.right });
        x += widths[index]! + gap;
      });
    };
    const header = () => {
      row(table.columns.map((column) => column.label), this.fonts.bold);
      this.page.drawLine({ start: { x: PAGE.margin, y: this.y - 3 }, end: { x: PAGE.width - PAGE.margin, y: this.y - 3 }, thickness: 0.4, color: COLOURS.rule });
      this.y -= 3;
    };
    header();
    for (const cells of table.rows) {
      if (this.y - 13 < PAGE.margin + FOOTER_SPACE) {
        this.newPage();
        header();
      }
      row(cells, this.fonts.regular);
    }
  }

  /** A stacked bar per point (successful below, failed above) over a grid with y-axis labels; x labels thinned to fit. */
  chart(heading: string, points: ChartPoint[]): void {
    const height = 150;
    this.heading(heading);
    this.ensure(height + 40);
    const axisWidth = 40;
    const left = PAGE.margin + axisWidth;
    const width = CONTENT_WIDTH - axisWidth;
    const bottom = this.y - height - 8;
    const max = Math.max(0, ...points.map((point) => point.successful + point.failed));
    const step = niceStep(max);
    const top = Math.max(step, Math.ceil(max / step) * step);
    const { page, fonts } = this;
    for (let value = 0; value <= top; value += step) {
      const y = bottom + (value / top) * height;
      page.drawLine({ start: { x: left, y }, end: { x: left + width, y }, thickness: 0.4, color: value === 0 ? COLOURS.muted : COLOURS.grid });
      const label = number(value);
      page.drawText(label, { x: left - 4 - fonts.regular.widthOfTextAtSize(label, 7), y: y - 2.5, size: 7, font: fonts.regular, color: COLOURS.muted });
    }
    const slot = width / Math.max(points.length, 1);
    const barWidth = Math.max(1, Math.min(slot * 0.7, 40));
    const labelEvery = Math.max(1, Math.ceil(points.length / Math.floor(width / 60)));
    points.forEach((point, index) => {
      const x = left + index * slot + (slot - barWidth) / 2;
      const successHeight = (point.successful / top) * height;
      const failedHeight = (point.failed / top) * height;
      if (successHeight > 0) page.drawRectangle({ x, y: bottom, width: barWidth, height: successHeight, color: COLOURS.successful });
      if (failedHeight > 0) page.drawRectangle({ x, y: bottom + successHeight, width: barWidth, height: failedHeight, color: COLOURS.failed });
      if (index % labelEvery === 0) {
        const label = fitted(encodable(point.label, fonts.regular), fonts.regular, 7, Math.max(slot * labelEvery - 4, 20));
        const labelWidth = fonts.regular.widthOfTextAtSize(label, 7);
        page.drawText(label, { x: left + index * slot + slot / 2 - labelWidth / 2, y: bottom - 10, size: 7, font: fonts.regular, color: COLOURS.muted });
      }
    });
    const legendY = bottom - 22;
    page.drawRectangle({ x: left, y: legendY, width: 8, height: 8, color: COLOURS.successful });
    page.drawText("successful", { x: left + 11, y: legendY + 1, size: 8, font: fonts.regular, color: COLOURS.text });
    page.drawRectangle({ x: left + 70, y: legendY, width: 8, height: 8, color: COLOURS.failed });
    page.drawText("failed", { x: left + 81, y: legendY + 1, size: 8, font: fonts.regular, color: COLOURS.text });
    this.y = legendY - 6;
  }
}

/** Renders a usage report; `extras` add the COUNTER section and the seal root when their features provide them. */
export async function renderUsageReportPdf(content: UsageReportDocument, extras: ReportPdfExtras = {}): Promise<Uint8Array<ArrayBuffer>> {
  const generatedAt = new Date(extras.generatedAt ?? Date.now());
  const doc = await PDFDocument.create();
  doc.setTitle(content.title);
  doc.setSubject(content.period);
  doc.setProducer("download-audit");
  doc.setCreator("download-audit");
  doc.setCreationDate(generatedAt);
  doc.setModificationDate(generatedAt);
  const fonts = {
    regular: await doc.embedFont(StandardFonts.Helvetica),
    bold: await doc.embedFont(StandardFonts.HelveticaBold),
    mono: await doc.embedFont(StandardFonts.Courier),
  };
  const writer = new ReportWriter(doc, fonts);
  writer.line(content.title, { font: fonts.bold, size: 17, after: 4 });
  writer.line(content.period, { colour: COLOURS.muted, size: 10 });
  if (content.note) writer.line(content.note, { colour: COLOURS.muted, size: 8 });

  writer.table({ heading: "Summary", columns: [{ label: "Measure", width: 0.4 }, { label: "Value", width: 0.6, right: false }], rows: content.summary, empty: "" });
  if (extras.counter) {
    const { counter } = extras;
    writer.table({
      heading: `COUNTER metrics (release ${counter.release})`,
      columns: [{ label: "Metric type", width: 0.6 }, { label: "Count", width: 0.4, right: true }],
      rows: counter.metrics.map((metric) => [metric.metric_type, number(metric.value)]),
      empty: "No COUNTER metrics for this period.",
    });
    if (counter.note) writer.line(counter.note, { colour: COLOURS.muted, size: 8 });
  }
  writer.chart(content.chart.heading, content.chart.points);
  for (const table of content.tables) writer.table(table);

  const pages = doc.getPages();
  const generated = `Generated ${generatedAt.toISOString()} by download-audit`;
  const seal = extras.sealRoot
    ? `Seal root (RFC 9162, SHA-256): ${extras.sealRoot.root}${extras.sealRoot.sealed_through ? ` · sealed through ${extras.sealRoot.sealed_through}` : ""}`
    : null;
  pages.forEach((page, index) => {
    const footer = `${generated} · page ${index + 1} of ${pages.length}`;
    page.drawLine({ start: { x: PAGE.margin, y: PAGE.margin - 4 }, end: { x: PAGE.width - PAGE.margin, y: PAGE.margin - 4 }, thickness: 0.4, color: COLOURS.rule });
    page.drawText(footer, { x: PAGE.margin, y: PAGE.margin - 16, size: 7.5, font: fonts.regular, color: COLOURS.muted });
    if (seal) page.drawText(fitted(encodable(seal, fonts.mono), fonts.mono, 6.5, CONTENT_WIDTH), { x: PAGE.margin, y: PAGE.margin - 27, size: 6.5, font: fonts.mono, color: COLOURS.muted });
  });
  // pdf-lib builds its output in a plain ArrayBuffer; its typings predate the ArrayBuffer/SharedArrayBuffer split.
  return (await doc.save({ useObjectStreams: false })) as Uint8Array<ArrayBuffer>;
}

const topResourcesTable = (rows: Stats["top_resources"]): PdfTable => ({
  heading: "Top resources",
  columns: [
    { label: "#", width: 0.05, right: true },
    { label: "Resource", width: 0.22 },
    { label: "DOI", width: 0.22 },
    { label: "Title", width: 0.29 },
    { label: "Events", width: 0.1, right: true },
    { label: "Users", width: 0.12, right: true },
  ],
  rows: rows.map((row, index) => [String(index + 1), `${row.resource_type}/${row.resource_id}`, row.doi ?? "–", row.title ?? "–", number(row.events), number(row.unique_users)]),
  empty: "No downloads.",
});

const topOrganisationsTable = (rows: Stats["top_organisations"]): PdfTable => ({
  heading: "Top organisations",
  columns: [
    { label: "#", width: 0.05, right: true },
    { label: "Organisation", width: 0.63 },
    { label: "Events", width: 0.15, right: true },
    { label: "Users", width: 0.17, right: true },
  ],
  rows: rows.map((row, index) => [String(index + 1), row.organisation, number(row.events), number(row.unique_users)]),
  empty: "No downloads by known organisations.",
});

const seriesTable = (heading: string, series: Stats["series"]): PdfTable => ({
  heading,
  columns: [
    { label: "Period", width: 0.24 },
    { label: "Successful", width: 0.19, right: true },
    { label: "Failed", width: 0.19, right: true },
    { label: "Bytes", width: 0.19, right: true },
    { label: "Users", width: 0.19, right: true },
  ],
  rows: series.map((row) => [row.period, number(row.successful), number(row.failed), bytesText(row.bytes), number(row.unique_users)]),
  empty: "No periods.",
});

const periodText = (from: string, to: string) => `Period: ${from} to ${to} (UTC, end exclusive)`;

/** A daily, weekly or monthly report as PDF content: a daily report charts its actions, longer ones their days. */
export function reportDocument(report: Report): UsageReportDocument {
  const chart =
    report.report === "daily"
      ? { heading: "Counted events by action", points: report.summary.actions.map((row) => ({ label: row.action, successful: row.successful, failed: row.failed })) }
      : { heading: "Counted downloads per day", points: report.days.map((row) => ({ label: row.period.slice(5), successful: row.successful, failed: row.failed })) };
  const notable = report.notable_events;
  const tables: PdfTable[] = [topResourcesTable(report.top_resources), topOrganisationsTable(report.top_organisations)];
  if (report.report !== "daily") tables.push(seriesTable("Days", report.days));
  tables.push({
    heading: notable.total > notable.shown.length ? `Notable events (first ${notable.shown.length} of ${number(notable.total)})` : "Notable events",
    columns: [
      { label: "Time (UTC)", width: 0.22 },
      { label: "Action", width: 0.15 },
      { label: "Status", width: 0.13 },
      { label: "Resource", width: 0.17 },
      { label: "Message", width: 0.33 },
    ],
    rows: notable.shown.map((row) => [
      row.occurred_at.replace("T", " ").slice(0, 19),
      row.action,
      row.status === "denied" ? "refused" : "failed",
      row.resource_id ? `${row.resource_type}/${row.resource_id}` : "–",
      row.message ?? "–",
    ]),
    empty: "No failures or refused attempts.",
  });
  return {
    title: reportTitle(report),
    period: periodText(report.period.from, report.period.to),
    note: "Counted events exclude duplicates and refused attempts.",
    summary: summaryRows(report),
    chart,
    tables,
  };
}

/** The figures of GET /v1/stats over a range as PDF content: what the dashboard's overview shows. */
export function statsReportDocument(stats: Stats): UsageReportDocument {
  const { totals } = stats;
  return {
    title: "Downloads report",
    period: periodText(stats.from, stats.to),
    note: "Counted events exclude duplicates and refused attempts.",
    summary: [
      ["Events", number(totals.events)],
      ["Successful", `${number(totals.successful)} (${percent(totals.successful, totals.events)})`],
      ["Failed", `${number(totals.failed)} (${percent(totals.failed, totals.events)})`],
      ["Unique users", `${number(totals.unique_users)}${stats.unique_users_estimated ? " (estimated)" : ""}`],
      ["Bytes", `${number(totals.bytes)} (${bytesText(totals.bytes)})`],
    ],
    chart: { heading: `Counted downloads per ${stats.interval}`, points: stats.series.map((row) => ({ label: row.period, successful: row.successful, failed: row.failed })) },
    tables: [topResourcesTable(stats.top_resources), topOrganisationsTable(stats.top_organisations), seriesTable(`Per ${stats.interval}`, stats.series)],
  };
}

/** One resource's figures over a range as PDF content: its totals, its series and the organisations that used it. */
export function resourceReportDocument(resource: ResourceStats, stats: Stats, label: { doi: string | null; title: string | null }): UsageReportDocument {
  const counted = stats.totals;
  return {
    title: `Usage report: ${resource.resource_type}/${resource.resource_id}`,
    period: periodText(stats.from, stats.to),
    note: [label.title, label.doi ? doiUrl(label.doi) : null].filter(Boolean).join(" · ") || undefined,
    summary: [
      ["Events", number(counted.events)],
      ["Successful", `${number(counted.successful)} (${percent(counted.successful, counted.events)})`],
      ["Failed", `${number(counted.failed)} (${percent(counted.failed, counted.events)})`],
      ["Unique users", `${number(resource.unique_users)}${resource.unique_users_estimated ? " (estimated)" : ""}`],
      ["Bytes", `${number(resource.bytes)} (${bytesText(resource.bytes)})`],
      ["First in period", resource.first_at ?? "–"],
      ["Last in period", resource.last_at ?? "–"],
    ],
    chart: { heading: `Counted downloads per ${stats.interval}`, points: stats.series.map((row) => ({ label: row.period, successful: row.successful, failed: row.failed })) },
    tables: [topOrganisationsTable(stats.top_organisations), seriesTable(`Per ${stats.interval}`, stats.series)],
  };
}
