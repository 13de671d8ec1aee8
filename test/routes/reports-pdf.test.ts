import { extractText, getDocumentProxy } from "unpdf";
import { beforeAll, describe, expect, it } from "vitest";
import { renderUsageReportPdf, type UsageReportDocument } from "../../src/core/analytics/report-pdf";
import { call, callJson, keyWith } from "../helpers";
import { clearLedger, seedRows } from "../stats-fixtures";

const at = (iso: string) => Date.parse(iso);
const event = (id: string, occurredAt: string, overrides: Record<string, unknown> = {}) => ({
  id,
  occurred_at: occurredAt,
  action: "download",
  resource: { type: "dataset", id: "ds-1", doi: "10.1234/ds.1", title: "Ocean temperatures" },
  actor: { id: "user-a", organisation: "CERN" },
  client: { ip: "203.0.113.7" },
  bytes: 2048,
  ...overrides,
});

async function pdfText(response: Response): Promise<string> {
  const { text } = await extractText(await getDocumentProxy(new Uint8Array(await response.arrayBuffer())), { mergePages: true });
  return text.replace(/\s+/g, " ");
}

describe("PDF reports and monthly reports", () => {
  let readKey: string;
  let ingestKey: string;

  beforeAll(async () => {
    await clearLedger();
    readKey = await keyWith("read");
    ingestKey = await keyWith("ingest");
    const row = (input: Record<string, unknown>, denied = false) => ({ input, receivedAt: at(input.occurred_at as string), denied });
    await seedRows([
      row(event("a", "2026-03-10T08:00:00Z")),
      row(event("b", "2026-03-10T09:00:00Z", { status: "failure", actor: { id: "user-b", organisation: "CERN" }, bytes: 0, message: "Storage timeout" })),
      row(event("c", "2026-03-12T10:00:00Z", { actor: { id: "user-d", organisation: "ETH" } })),
      row(event("d", "2026-03-20T10:00:00Z", { resource: { type: "dataset", id: "ds-2", title: "Kelp extent" }, bytes: 4096 })),
      row(event("e", "2026-03-10T11:00:00Z"), true),
      row(event("f", "2026-04-01T00:00:00Z")),
      row(event("g", "2026-02-28T23:59:59Z")),
    ]);
  });

  it("reports a month as JSON and Markdown: only the month's events, a line per day", async () => {
    const { status, body } = await callJson("GET", "/v1/reports/monthly?month=2026-03&format=json", { key: readKey });
    expect(status).toBe(200);
    // a, b, c, d fall in March; e was refused; f and g lie outside. Users with a success: user-a (a, d) and user-d (c).
    expect(body).toMatchObject({
      report: "monthly",
      period: { label: "2026-03", from: "2026-03-01T00:00:00.000Z", to: "2026-04-01T00:00:00.000Z" },
      summary: { events: 4, successful: 3, failed: 1, unique_users: 2, bytes: 8192, denied: 1 },
    });
    expect(body.days).toHaveLength(31);
    expect(body.top_organisations).toEqual([
      { organisation: "CERN", events: 3, unique_users: 1 },
      { organisation: "ETH", events: 1, unique_users: 1 },
    ]);
    const markdown = await (await call("GET", "/v1/reports/monthly?month=2026-03", { key: readKey })).text();
    expect(markdown).toContain("# Monthly downloads report: 2026-03");
    expect(markdown).toContain("| Bytes | 8,192 (8.0 KiB) |");
    expect(markdown).toContain("| 2026-03-20 | 1 | 0 | 4.0 KiB | 1 |");
  });

  it("renders the monthly report as a PDF whose numbers match /v1/stats", async () => {
    const response = await call("GET", "/v1/reports/monthly?month=2026-03&format=pdf", { key: readKey });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/pdf");
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="download-audit_monthly_2026-03.pdf"');
    const text = await pdfText(response);
    const stats = (await callJson("GET", "/v1/stats?from=2026-03-01&to=2026-04-01", { key: readKey })).body;
    expect(stats.totals).toMatchObject({ events: 4, successful: 3, failed: 1, unique_users: 2, bytes: 8192 });
    expect(text).toContain("Monthly downloads report: 2026-03");
    expect(text).toContain("Period: 2026-03-01T00:00:00.000Z to 2026-04-01T00:00:00.000Z");
    expect(text).toContain(`Events ${stats.totals.events} Successful ${stats.totals.successful} (75.0 %) Failed ${stats.totals.failed} (25.0 %)`);
    expect(text).toContain(`Unique users ${stats.totals.unique_users} Bytes 8,192 (8.0 KiB) Refused by rate limit 1`);
    expect(text).toContain("1 dataset/ds-1 10.1234/ds.1 Ocean temperatures 3 2");
    expect(text).toContain("2 dataset/ds-2 – Kelp extent 1 1");
    expect(text).toContain("1 CERN 3 1");
    expect(text).toContain("2026-03-12 1 0 2.0 KiB 1");
    expect(text).toContain("2026-03-10 09:00:00 download failed dataset/ds-1 Storage timeout");
    expect(text).toContain("Counted downloads per day");
    expect(text).toMatch(/Generated \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z by download-audit · page 1 of 2 .* page 2 of 2/);
    // COUNTER, worked out by hand: a, c and d are successful downloads (requests, hence also investigations), each in its
    // own user-hour session (03-10 08h user-a, 03-12 10h user-d, 03-20 10h user-a); b failed and e was refused.
    expect(text).toContain("COUNTER metrics (release rd1)");
    for (const metric of ["total-dataset-investigations", "unique-dataset-investigations", "total-dataset-requests", "unique-dataset-requests"])
      expect(text, metric).toContain(`${metric} 3`);
  });

  it("prints the root of the seal whose window holds the period's end", async () => {
    expect((await callJson("POST", "/v1/integrity/seal")).status).toBe(200);
    const seals = (await callJson("GET", "/v1/integrity/seals", { key: readKey })).body;
    const latest = seals.data.at(-1);
    const text = await pdfText(await call("GET", "/v1/reports/monthly?month=2026-03&format=pdf", { key: readKey }));
    expect(text).toContain(`Seal root (RFC 9162, SHA-256): ${latest.root}`);
  });

  it("renders a daily PDF charting its actions", async () => {
    const text = await pdfText(await call("GET", "/v1/reports/daily?date=2026-03-10&format=pdf", { key: readKey }));
    expect(text).toContain("Daily downloads report: 2026-03-10");
    expect(text).toContain("Events 2 Successful 1 (50.0 %) Failed 1 (50.0 %)");
    expect(text).toContain("Counted events by action");
  });

  it("renders a resource's report over a range with the figures of /v1/stats/resources", async () => {
    const response = await call("GET", "/v1/stats/resources/dataset/ds-1/report.pdf?from=2026-03-01&to=2026-04-01", { key: readKey });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="download-audit_dataset-ds-1_2026-03-01_2026-04-01.pdf"');
    const text = await pdfText(response);
    const figures = (await callJson("GET", "/v1/stats/resources/dataset/ds-1?from=2026-03-01&to=2026-04-01", { key: readKey })).body;
    // a and c succeeded (2 users, 4,096 bytes), b failed.
    expect(figures).toMatchObject({ events: 3, unique_users: 2, bytes: 4096 });
    expect(text).toContain("Usage report: dataset/ds-1");
    expect(text).toContain("Ocean temperatures · https://doi.org/10.1234/ds.1");
    expect(text).toContain(`Events ${figures.events} Successful 2 (66.7 %) Failed 1 (33.3 %) Unique users ${figures.unique_users} Bytes 4,096 (4.0 KiB)`);
    expect(text).toContain("First in period 2026-03-10T08:00:00.000Z Last in period 2026-03-12T10:00:00.000Z");
    expect(text).toContain("2026-03-10 1 1 2.0 KiB 1");
  });

  it("renders the figures of /v1/stats for any range as a PDF, as the dashboard's overview offers it", async () => {
    const response = await call("GET", "/v1/stats/report.pdf?from=2026-03-01&to=2026-03-15&interval=week", { key: readKey });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="download-audit_2026-03-01_2026-03-15.pdf"');
    const text = await pdfText(response);
    // a, b and c fall before 03-15: 2 successful, 1 failed, users user-a and user-d, 4,096 bytes.
    expect(text).toContain("Downloads report");
    // Unique users come from the rollups' sketches, as in /v1/stats; two users in two of 4,096 registers estimate as 2.
    expect(text).toContain("Events 3 Successful 2 (66.7 %) Failed 1 (33.3 %) Unique users 2 (estimated) Bytes 4,096 (4.0 KiB)");
    expect(text).toContain("Counted downloads per week");
    expect(text).toContain("2026-W11 2 1 4.0 KiB 2");
    const exact = await pdfText(await call("GET", "/v1/stats/report.pdf?from=2026-03-01&to=2026-03-15&interval=week&exact=true", { key: readKey }));
    expect(exact).toContain("Events 3 Successful 2 (66.7 %) Failed 1 (33.3 %) Unique users 2 Bytes 4,096 (4.0 KiB)");
  });

  it("draws the optional COUNTER section and the seal root when they are given", async () => {
    const content: UsageReportDocument = {
      title: "T",
      period: "P",
      summary: [["Events", "1"]],
      chart: { heading: "C", points: [{ label: "x", successful: 1, failed: 0 }] },
      tables: [],
    };
    const bytes = await renderUsageReportPdf(content, {
      counter: { release: "5.1", metrics: [{ metric_type: "Total_Item_Requests", value: 1234 }] },
      sealRoot: { root: "ab".repeat(32), sealed_through: "2026-03-31" },
      generatedAt: Date.UTC(2026, 3, 1, 6),
    });
    const text = await pdfText(new Response(bytes));
    expect(text).toContain("COUNTER metrics (release 5.1) Metric type Count Total_Item_Requests 1,234");
    expect(text).toContain(`Seal root (RFC 9162, SHA-256): ${"ab".repeat(32)} · sealed through 2026-03-31`);
    expect(text).toContain("Generated 2026-04-01T06:00:00.000Z by download-audit");
    const plain = await pdfText(new Response(await renderUsageReportPdf(content)));
    expect(plain).not.toContain("COUNTER");
    expect(plain).not.toContain("Seal root");
  });

  it("rejects impossible months and needs the read scope", async () => {
    for (const path of ["/v1/reports/monthly?month=2026-13", "/v1/reports/monthly?month=2026-3", "/v1/reports/monthly?format=xls", "/v1/stats/resources/dataset/ds-1/report.pdf?from=2026-04-01&to=2026-03-01"]) {
      const { status, body } = await callJson("GET", path, { key: readKey });
      expect(status, path).toBe(400);
      expect(body.error.code, path).toBe("invalid_request");
    }
    for (const path of ["/v1/reports/monthly?format=pdf", "/v1/stats/resources/dataset/ds-1/report.pdf", "/v1/stats/report.pdf"]) {
      expect((await call("GET", path, { key: null })).status).toBe(401);
      expect((await call("GET", path, { key: ingestKey })).status).toBe(403);
    }
  });
});
