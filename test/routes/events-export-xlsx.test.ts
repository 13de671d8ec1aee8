import { env } from "cloudflare:workers";
import { strFromU8, unzipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { excelSerialDate, exportXlsxStream, xmlText } from "../../src/core/ledger/export-xlsx";
import { recordingD1 } from "../d1-spy";
import { call, callJson, keyWith } from "../helpers";
import { clearLedger, seedRows, type SeedRow } from "../stats-fixtures";

const START = Date.UTC(2026, 6, 1);
const templates = { recordUrl: "https://doi.org/{doi}", searchUrl: "https://commons.datacite.org/doi.org?query={dois}" };

async function workbook(response: Response | ReadableStream<Uint8Array>): Promise<Record<string, string>> {
  const bytes = new Uint8Array(await new Response(response instanceof Response ? response.body : response).arrayBuffer());
  return Object.fromEntries(Object.entries(unzipSync(bytes)).map(([name, data]) => [name, strFromU8(data)]));
}

const rowsOf = (sheet: string) => [...sheet.matchAll(/<row r="(\d+)">/g)].map((match) => Number(match[1]));

describe("GET /v1/events/export.xlsx", () => {
  let readKey: string;
  let ingestKey: string;

  beforeAll(async () => {
    await clearLedger();
    readKey = await keyWith("read");
    ingestKey = await keyWith("ingest");
    const rows: SeedRow[] = [];
    for (let index = 0; index < 7; index++)
      rows.push({
        input: {
          id: `x-${index}`,
          occurred_at: new Date(START + index * 60_000).toISOString(),
          action: index === 6 ? "view" : "download",
          status: "success",
          resource: { type: "dataset", id: `ds-${index}`, doi: `10.1234/x.${index}`, title: index === 0 ? "=cmd|' /C calc'!A0" : `Title <${index}> & more` },
          actor: { id: `user-${index}`, organisation: "Org" },
          bytes: 1000 + index,
        },
        receivedAt: START,
      });
    await seedRows(rows);
  });

  it("answers a workbook attachment with the sheet parts, a frozen header, an autofilter and column widths", async () => {
    const response = await call("GET", "/v1/events/export.xlsx?from=2026-07-01&to=2026-07-02&action=download", { key: readKey });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="download-audit_2026-07-01_2026-07-02.xlsx"');
    const parts = await workbook(response);
    expect(Object.keys(parts).sort()).toEqual([
      "[Content_Types].xml", "_rels/.rels", "xl/_rels/workbook.xml.rels", "xl/styles.xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml",
    ]);
    const sheet = parts["xl/worksheets/sheet1.xml"]!;
    expect(sheet).toContain('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>');
    // 6 downloads below the header: rows 1-7; the filter covers A1:U7.
    expect(rowsOf(sheet)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(sheet).toContain('<autoFilter ref="A1:U7"/>');
    expect(sheet).toContain('<col min="1" max="1" width="38" customWidth="1"/>');
    // Dates are serial numbers with the date style: 2026-07-01T00:00Z is day 46204 since 1899-12-30.
    expect(sheet).toContain('<c r="B2" s="2"><v>46204</v></c>');
    // bytes is a number; text is an inline string, escaped, and formulas are neutralised like the CSV.
    expect(sheet).toContain('<c r="O2"><v>1000</v></c>');
    expect(sheet).toContain(`<c r="H2" t="inlineStr"><is><t xml:space="preserve">'=cmd|' /C calc'!A0</t></is></c>`);
    expect(sheet).toContain("Title &lt;1&gt; &amp; more");
    const workbookXml = parts["xl/workbook.xml"]!;
    expect(workbookXml).toContain('<sheet name="Events" sheetId="1" r:id="rId1"/><sheet name="About" sheetId="2" r:id="rId2"/>');
    expect(workbookXml).toContain(`<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'Events'!$A$1:$U$7</definedName>`);
    const about = parts["xl/worksheets/sheet2.xml"]!;
    expect(about).toContain('<t xml:space="preserve">Rows</t></is></c><c r="B3"><v>6</v></c>');
    expect(about).toContain('<t xml:space="preserve">action</t></is></c><c r="B');
    expect(about).toContain(">2026-07-01T00:00:00.000Z<");
  });

  it("continues on further sheets when one is full and says so in About", async () => {
    // The seeded events are all of type "dataset"; the filter leaves out the admin.* events that creating the keys recorded.
    const stream = await exportXlsxStream(env.DB, { resource_type: "dataset", include_duplicates: false }, templates, { rowsPerSheet: 3, pageRows: 2, exportedAt: START });
    const parts = await workbook(stream);
    // 7 events at 3 per sheet: Events (3), Events 2 (3), Events 3 (1), then About as sheet 4.
    expect(rowsOf(parts["xl/worksheets/sheet1.xml"]!)).toEqual([1, 2, 3, 4]);
    expect(rowsOf(parts["xl/worksheets/sheet2.xml"]!)).toEqual([1, 2, 3, 4]);
    expect(rowsOf(parts["xl/worksheets/sheet3.xml"]!)).toEqual([1, 2]);
    expect(parts["xl/worksheets/sheet3.xml"]).toContain(">x-6<");
    expect(parts["xl/worksheets/sheet2.xml"]).toContain('<autoFilter ref="A1:U4"/>');
    expect(parts["xl/workbook.xml"]).toContain('<sheet name="Events 3" sheetId="3" r:id="rId3"/><sheet name="About" sheetId="4" r:id="rId4"/>');
    const about = parts["xl/worksheets/sheet4.xml"]!;
    expect(about).toContain("Events, Events 2, Events 3, About");
    expect(about).toContain("the events continue from sheet to sheet");
    expect(about).toContain('<c r="B3"><v>7</v></c>');
  });

  it("streams page by page: reading the start of the workbook does not read the rest", async () => {
    await seedRows(
      Array.from({ length: 2_000 }, (_, index) => ({
        input: { id: `bulk-${String(index).padStart(4, "0")}`, occurred_at: new Date(START + 86_400_000 + index * 1000).toISOString(), action: "download", resource: { type: "bulk", id: `b-${index}`, title: `Bulk title ${index}` } },
        receivedAt: START,
      })),
    );
    const { db, statements } = recordingD1(env.DB);
    const stream = await exportXlsxStream(db, { resource_type: "bulk", include_duplicates: false }, templates, { pageRows: 500 });
    const reader = stream.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    // 2,000 events are 4 pages of 500 (~250 KB of sheet XML each) and an empty one: the first compressed bytes leave while
    // the reader is at most one page ahead of the compressor, and the rest stays unread.
    // (Page reads; dictionary look-ups read event_strings and event_resources, once per id per export.)
    expect(statements.filter((statement) => statement.sql.includes("FROM event_rows")).length).toBeLessThanOrEqual(3);
    await reader.cancel();
    await env.DB.prepare("DELETE FROM events WHERE resource_type = 'bulk'").run();
  });

  it("writes an empty export as a header row and a row count of zero", async () => {
    const parts = await workbook(await call("GET", "/v1/events/export.xlsx?from=2020-01-01&to=2020-01-02", { key: readKey }));
    expect(rowsOf(parts["xl/worksheets/sheet1.xml"]!)).toEqual([1]);
    expect(parts["xl/worksheets/sheet2.xml"]).toContain('<c r="B3"><v>0</v></c>');
  });

  it("escapes characters XML cannot carry as OOXML _xHHHH_ and keeps text that looks like an escape", () => {
    expect(xmlText("a\u0001b")).toBe("a_x0001_b");
    expect(xmlText("_x0041_")).toBe("_x005F_x0041_");
    expect(xmlText('<"&>')).toBe("&lt;&quot;&amp;&gt;");
    expect(excelSerialDate(Date.UTC(1970, 0, 1, 12))).toBe(25569.5);
  });

  it("rejects bad filters with 400 and needs the read scope", async () => {
    const bad = await callJson("GET", "/v1/events/export.xlsx?status=maybe", { key: readKey });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    expect((await call("GET", "/v1/events/export.xlsx", { key: null })).status).toBe(401);
    expect((await call("GET", "/v1/events/export.xlsx", { key: ingestKey })).status).toBe(403);
  });
});
