// Streamed Excel (.xlsx, Office Open XML) export of events: the CSV export's pages and columns written as typed cells into
// ZIP parts with fflate's streaming Zip, one sheet row at a time, so memory stays at about two pages whatever the size.
import { Zip, ZipDeflate, ZipPassThrough, strToU8 } from "fflate";
import { EventDictionaries } from "../../db/event-dictionaries";
import { CSV_COLUMNS, EXPORT_PAGE_ROWS, exportPage, exportRow, neutraliseFormula, type CatalogTemplates } from "./export";
import type { ResolvedEventFilter, SelectedEvent } from "./query";

/** Excel's rows per worksheet; the header takes one, so each sheet carries one row less of events. */
export const EXCEL_MAX_ROWS = 1_048_576;
/** Excel refuses cells of more than 32,767 characters. */
const EXCEL_MAX_CELL_CHARS = 32_767;
const DAY_MS = 86_400_000;
/** 1970-01-01 as an Excel serial date (1900 date system). */
const EXCEL_UNIX_EPOCH = 25_569;

const COLUMN_WIDTHS: Record<(typeof CSV_COLUMNS)[number], number> = {
  id: 38, occurred_at: 20, action: 18, status: 9, resource_type: 14, resource_id: 18, doi: 26, title: 40, actor_id: 16,
  email: 28, name: 20, organisation: 28, ip: 16, user_agent: 40, bytes: 14, message: 40, link: 50, access_method: 12, country: 8,
  file: 30, session_id: 34,
};

const OCCURRED_AT = CSV_COLUMNS.indexOf("occurred_at");
const BYTES = CSV_COLUMNS.indexOf("bytes");

const columnLetter = (index: number): string =>
  index < 26 ? String.fromCharCode(65 + index) : columnLetter(Math.floor(index / 26) - 1) + String.fromCharCode(65 + (index % 26));
const LETTERS = CSV_COLUMNS.map((_, index) => columnLetter(index));
const LAST_COLUMN = LETTERS.at(-1)!;

/** Style indexes of styles.xml's cellXfs. */
const STYLE = { header: 1, date: 2 } as const;

const NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';

const NEEDS_ESCAPE = /[&<>"_\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;

/**
 * Text as XML character data. Characters XML 1.0 cannot carry (C0 controls but tab, LF, CR) are written as OOXML
 * `_xHHHH_` escapes, and text that already looks like such an escape gets its underscore escaped (ECMA-376 §22.9.2.19).
 */
export function xmlText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value
    .replace(/_(x[0-9A-Fa-f]{4}_)/g, "_x005F_$1")
    .replace(/[&<>"]/g, (char) => (char === "&" ? "&amp;" : char === "<" ? "&lt;" : char === ">" ? "&gt;" : "&quot;"))
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, (char) => `_x${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}_`);
}

/** An Excel serial date (days since 1899-12-30, UTC) of an epoch-millisecond instant. */
export const excelSerialDate = (ms: number) => ms / DAY_MS + EXCEL_UNIX_EPOCH;

type Cell = string | number | { date: number } | null;

function cellXml(ref: string, value: Cell, style?: number): string {
  if (value === null || value === "") return "";
  const s = style === undefined ? "" : ` s="${style}"`;
  if (typeof value === "number") return `<c r="${ref}"${s}><v>${value}</v></c>`;
  if (typeof value === "object") return `<c r="${ref}" s="${STYLE.date}"><v>${excelSerialDate(value.date)}</v></c>`;
  const text = value.length > EXCEL_MAX_CELL_CHARS ? value.slice(0, EXCEL_MAX_CELL_CHARS) : value;
  return `<c r="${ref}"${s} t="inlineStr"><is><t xml:space="preserve">${xmlText(text)}</t></is></c>`;
}

const rowXml = (row: number, cells: Cell[], style?: number) =>
  `<row r="${row}">${cells.map((cell, index) => cellXml(`${LETTERS[index] ?? columnLetter(index)}${row}`, cell, style)).join("")}</row>`;

/** The export row as typed cells: the CSV's values, with the time as a date, bytes as a number and text neutralised. */
function eventCells(row: SelectedEvent, templates: CatalogTemplates): Cell[] {
  return exportRow(row, templates).map((value, index) => {
    if (index === OCCURRED_AT) return { date: row.occurredAt! };
    if (index === BYTES) return row.bytes ?? null;
    return neutraliseFormula(String(value));
  });
}

function sheetStart(frozenHeader: boolean, widths: number[]): string {
  const pane = frozenHeader ? '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/>' : "";
  const cols = widths.map((width, index) => `<col min="${index + 1}" max="${index + 1}" width="${width}" customWidth="1"/>`).join("");
  return `${XML_HEAD}<worksheet xmlns="${NS_MAIN}" xmlns:r="${NS_REL}"><sheetViews><sheetView workbookViewId="0">${pane}</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>${cols}</cols><sheetData>`;
}

const STYLES_XML = `${XML_HEAD}<styleSheet xmlns="${NS_MAIN}"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts><fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font><font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>`;

const quoteSheet = (name: string) => `'${name.replace(/'/g, "''")}'`;

/** workbook.xml, its relationships and [Content_Types].xml for the data sheets (with their last rows) and "About". */
function workbookParts(sheets: { name: string; lastRow: number }[]): Record<string, string> {
  const all = [...sheets.map((sheet) => sheet.name), "About"];
  const sheetList = all.map((name, index) => `<sheet name="${xmlText(name)}" sheetId="${index + 1}" r:id="rId${index + 1}"/>`).join("");
  const filters = sheets
    .map((sheet, index) => `<definedName name="_xlnm._FilterDatabase" localSheetId="${index}" hidden="1">${xmlText(quoteSheet(sheet.name))}!$A$1:$${LAST_COLUMN}$${sheet.lastRow}</definedName>`)
    .join("");
  const rels = all.map((_, index) => `<Relationship Id="rId${index + 1}" Type="${NS_REL}/worksheet" Target="worksheets/sheet${index + 1}.xml"/>`).join("");
  const overrides = all
    .map((_, index) => `<Override PartName="/xl/worksheets/sheet${index + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`)
    .join("");
  return {
    "xl/workbook.xml": `${XML_HEAD}<workbook xmlns="${NS_MAIN}" xmlns:r="${NS_REL}"><bookViews><workbookView activeTab="0"/></bookViews><sheets>${sheetList}</sheets><definedNames>${filters}</definedNames></workbook>`,
    "xl/_rels/workbook.xml.rels": `${XML_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${rels}<Relationship Id="rId${all.length + 1}" Type="${NS_REL}/styles" Target="styles.xml"/></Relationships>`,
    "[Content_Types].xml": `${XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>${overrides}</Types>`,
    "_rels/.rels": `${XML_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${NS_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
    "xl/styles.xml": STYLES_XML,
  };
}

/** The filters of an export as label/value pairs, dates as ISO 8601; "none" when the export is unfiltered. */
function filterRows(filter: ResolvedEventFilter): [string, string][] {
  const rows = Object.entries(filter).flatMap(([name, value]): [string, string][] => {
    // The pseudonym the actor_id resolves to is the service's own lookup, not a filter the caller gave.
    if (value === undefined || value === false || name === "actorIdKey") return [];
    if (name === "from" || name === "to") return [[name, new Date(value as number).toISOString()]];
    return [[name, String(value)]];
  });
  return rows.length > 0 ? rows : [["(none)", "all events"]];
}

function aboutSheet(filter: ResolvedEventFilter, exportedAt: number, rows: number, sheets: string[], rowsPerSheet: number): string {
  const lines: Cell[][] = [
    ["download-audit event export"],
    ["Exported at (UTC)", { date: exportedAt }],
    ["Rows", rows],
    ["Columns", CSV_COLUMNS.join(", ")],
    ["Sheets", sheets.join(", ")],
  ];
  if (sheets.length > 1)
    lines.push(["Note", `Excel holds at most ${EXCEL_MAX_ROWS.toLocaleString("en-US")} rows per sheet: the events continue from sheet to sheet in this order, ${rowsPerSheet.toLocaleString("en-US")} per sheet below a header row.`]);
  lines.push(["Order", "Oldest first (occurred_at, then id); duplicates excluded unless include_duplicates=true"], [], ["Filter", "Value"], ...filterRows(filter));
  const body = lines.map((cells, index) => rowXml(index + 1, cells, index === 0 || cells[0] === "Filter" ? STYLE.header : undefined)).join("");
  return `${sheetStart(false, [22, 100])}${body}</sheetData></worksheet>`;
}

/**
 * A ZIP entry deflated by the runtime's native CompressionStream("deflate-raw"), the subclass fflate documents for custom
 * compression: ZipPassThrough still computes the CRC-32 and size of the raw data and fflate writes the headers. Sheet
 * XML is most of an export's bytes, and fflate's JavaScript deflater at level 1 cost 6× the native one on it.
 */
class NativeDeflateEntry extends ZipPassThrough {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private written: Promise<void> = Promise.resolve();
  /** Settles when the last compressed byte was handed to the ZIP. */
  readonly finished: Promise<void>;

  constructor(name: string) {
    super(name);
    this.compression = 8;
    const stream = new CompressionStream("deflate-raw");
    this.writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    this.finished = (async () => {
      // The compressor's output is a fresh ArrayBuffer-backed chunk; the DOM typings only promise ArrayBufferLike.
      for (let next = await reader.read(); !next.done; next = await reader.read()) this.ondata(null, next.value as Uint8Array<ArrayBuffer>, false);
      this.ondata(null, new Uint8Array(0), true);
    })();
  }

  override process(chunk: Uint8Array, final: boolean): void {
    this.written = this.writer.write(chunk);
    if (final) this.written = this.writer.close();
  }

  /** Resolves once the compressor took the last pushed chunk: awaiting it keeps at most one page in flight. */
  taken(): Promise<void> {
    return this.written;
  }
}

const encoder = new TextEncoder();

export interface XlsxExportOptions {
  /** Event rows per sheet below the header; Excel's limit unless a test asks for fewer. */
  rowsPerSheet?: number;
  pageRows?: number;
  exportedAt?: number;
}

/**
 * The workbook as a byte stream. Sheets "Events", "Events 2", … hold the rows oldest first below a frozen, filtered
 * header; "About" (written last, when the count is known) holds the filters, export time and row count. The ZIP's
 * workbook parts are written after the sheets, since only then is the number of sheets known. The first page is read
 * before the stream is returned, so a failing query still becomes an error response.
 */
export async function exportXlsxStream(
  db: D1Database,
  filter: ResolvedEventFilter,
  templates: CatalogTemplates,
  options: XlsxExportOptions = {},
): Promise<ReadableStream<Uint8Array>> {
  const rowsPerSheet = Math.min(options.rowsPerSheet ?? EXCEL_MAX_ROWS - 1, EXCEL_MAX_ROWS - 1);
  const pageRows = options.pageRows ?? EXPORT_PAGE_ROWS;
  const exportedAt = options.exportedAt ?? Date.now();
  const output: Uint8Array[] = [];
  let failure: Error | null = null;
  let zipEnded!: () => void;
  const ended = new Promise<void>((resolve) => (zipEnded = resolve));
  const zip = new Zip((error, chunk, final) => {
    if (error) failure = error;
    else if (chunk.length > 0) output.push(chunk);
    if (final || error) zipEnded();
  });
  const sheets: { name: string; lastRow: number }[] = [];
  let entry: NativeDeflateEntry | null = null;
  let sheetRow = 0;
  let total = 0;

  const writePart = (name: string, text: string) => {
    const part = new ZipDeflate(name, { level: 6 });
    zip.add(part);
    part.push(strToU8(text), true);
  };
  /** Closes the current sheet and waits for its compression, so the next entry never queues behind it in fflate. */
  const endSheet = async () => {
    if (!entry) return;
    const closing = entry;
    closing.push(encoder.encode(`</sheetData><autoFilter ref="A1:${LAST_COLUMN}${sheetRow}"/></worksheet>`), true);
    sheets.push({ name: sheets.length === 0 ? "Events" : `Events ${sheets.length + 1}`, lastRow: sheetRow });
    entry = null;
    await closing.finished;
  };
  const startSheet = () => {
    const sheet = new NativeDeflateEntry(`xl/worksheets/sheet${sheets.length + 1}.xml`);
    zip.add(sheet);
    sheetRow = 1;
    sheet.push(encoder.encode(sheetStart(true, CSV_COLUMNS.map((column) => COLUMN_WIDTHS[column])) + rowXml(1, [...CSV_COLUMNS], STYLE.header)), false);
    entry = sheet;
  };
  const writeRows = async (rows: SelectedEvent[]) => {
    let next = 0;
    while (next < rows.length) {
      if (!entry || sheetRow - 1 >= rowsPerSheet) {
        await endSheet();
        startSheet();
      }
      const sheet: NativeDeflateEntry = entry!;
      const take = Math.min(rows.length - next, rowsPerSheet - (sheetRow - 1));
      let xml = "";
      for (const row of rows.slice(next, next + take)) xml += rowXml(++sheetRow, eventCells(row, templates));
      sheet.push(encoder.encode(xml), false);
      await sheet.taken();
      next += take;
      total += take;
    }
  };
  const finish = async () => {
    if (!entry) startSheet();
    await endSheet();
    writePart(`xl/worksheets/sheet${sheets.length + 1}.xml`, aboutSheet(filter, exportedAt, total, [...sheets.map((sheet) => sheet.name), "About"], rowsPerSheet));
    for (const [name, text] of Object.entries(workbookParts(sheets))) writePart(name, text);
    zip.end();
    await ended;
  };

  const dictionaries = new EventDictionaries(db);
  let page: SelectedEvent[] | null = await exportPage(db, filter, null, pageRows, dictionaries);
  let finished = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (output.length === 0 && !finished) {
        if (page !== null && page.length > 0) {
          const current: SelectedEvent[] = page;
          const last = current.at(-1)!;
          page = await exportPage(db, filter, { occurredAt: last.occurredAt!, id: last.id! }, pageRows, dictionaries);
          await writeRows(current);
        } else {
          await finish();
          finished = true;
        }
        if (failure) throw failure;
      }
      for (const chunk of output.splice(0)) controller.enqueue(chunk);
      if (finished) controller.close();
    },
  });
}
