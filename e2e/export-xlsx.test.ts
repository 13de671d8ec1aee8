// The Excel export read back by an independent reader (exceljs) and compared cell by cell with the CSV export.
import ExcelJS from "exceljs";
import Papa from "papaparse";
import { beforeAll, describe, expect, inject, it } from "vitest";

const e2e = inject("e2e");

/**
 * ECMA-376 §22.9.2.19 (ST_Xstring): `_xHHHH_` in cell text stands for the character HHHH. Excel and SheetJS decode it;
 * exceljs returns it verbatim, so the comparison decodes it as the standard says.
 */
const decodeXstring = (value: unknown) => (typeof value === "string" ? value.replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))) : value);

const tricky = [
  "=HYPERLINK(\"http://evil.example\",\"click\")",
  "+1+2",
  "@SUM(A1:A2)",
  "line\nbreak",
  "unicode: Zürich, 東京, 👩‍🔬",
  "<tag> & \"quotes\"",
  " leading and trailing spaces ",
  "looks like an escape: _x0041_",
];

describe.skipIf(e2e === null)("GET /v1/events/export.xlsx read back with exceljs", () => {
  const { baseUrl = "", adminKey = "" } = e2e ?? {};
  const get = (path: string) => fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${adminKey}` } });

  beforeAll(async () => {
    const events = tricky.map((text, index) => ({
      id: `xlsx-tricky-${index}`,
      occurred_at: new Date(Date.UTC(2018, 0, 1, 12, 0, index, 123)).toISOString(),
      action: "download",
      resource: { type: "dataset", id: `tricky-${index}`, title: text },
      actor: { id: `xlsx-user-${index}`, name: text, organisation: "Org, Inc." },
      client: { ip: "198.51.100.200", user_agent: text },
      bytes: index * 1_000_000_007,
      message: text,
    }));
    const response = await fetch(`${baseUrl}/v1/events/import`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/x-ndjson" },
      body: events.map((event) => JSON.stringify(event)).join("\n"),
    });
    expect(response.status).toBe(200);
  });

  async function compare(filters: string): Promise<{ rows: number; sheet: ExcelJS.Worksheet; about: ExcelJS.Worksheet }> {
    const [csvResponse, xlsxResponse] = await Promise.all([get(`/v1/events/export.csv${filters}`), get(`/v1/events/export.xlsx${filters}`)]);
    expect(xlsxResponse.status).toBe(200);
    const csv = Papa.parse<string[]>(await csvResponse.text(), { skipEmptyLines: true }).data;
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(await xlsxResponse.arrayBuffer());
    const sheet = workbook.getWorksheet("Events")!;
    const about = workbook.getWorksheet("About")!;
    expect(sheet.rowCount).toBe(csv.length);
    csv.forEach((csvRow, rowIndex) => {
      const row = sheet.getRow(rowIndex + 1);
      csvRow.forEach((expected, columnIndex) => {
        const value = decodeXstring(row.getCell(columnIndex + 1).value);
        const where = `row ${rowIndex + 1}, column ${csv[0]![columnIndex]}`;
        if (rowIndex > 0 && csv[0]![columnIndex] === "occurred_at") {
          expect(value, where).toBeInstanceOf(Date);
          // A serial date carries the instant to well under a millisecond.
          expect(Math.abs((value as Date).getTime() - Date.parse(expected)), where).toBeLessThanOrEqual(1);
        } else if (rowIndex > 0 && csv[0]![columnIndex] === "bytes") expect(value, where).toBe(expected === "" ? null : Number(expected));
        else expect(value ?? "", where).toBe(expected);
      });
    });
    return { rows: csv.length - 1, sheet, about };
  }

  it("matches the CSV of the same filters in every cell, formulas neutralised alike", async () => {
    const { rows, sheet, about } = await compare("?from=2018-01-01&to=2018-01-02");
    expect(rows).toBe(tricky.length);
    expect(sheet.getCell("H2").value).toBe(`'${tricky[0]}`);
    expect(sheet.getCell("P5").value).toBe("line\nbreak");
    expect(sheet.views[0]).toMatchObject({ state: "frozen", ySplit: 1 });
    expect(sheet.autoFilter).toBe("A1:U9");
    expect(sheet.getColumn(1).width).toBe(38);
    expect(about.getCell("A3").value).toBe("Rows");
    expect(about.getCell("B3").value).toBe(tricky.length);
    const aboutText = about.getSheetValues().flat().map(String).join(" | ");
    expect(aboutText).toContain("from | 2018-01-01T00:00:00.000Z");
  });

  it("matches the CSV for the whole seeded ledger", async () => {
    const { rows } = await compare("");
    expect(rows).toBeGreaterThan(1_000);
  });
});
