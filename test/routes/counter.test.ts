// HTTP surface of COUNTER: the DSR (validated against DataCite's schema), the SUSHI endpoints, the monthly reports and
// their submission to a fake DataCite hub; authentication and bad input.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildMonthlyDsr, previousMonth, runMonthlyDsr } from "../../src/core/counter/reports";
import { getConfig } from "../../src/lib/config";
import validateDsr from "../fixtures/counter/dsr-validator.generated.mjs";
import { createRecord, uniqueId } from "../catalog-helpers";
import { call, callJson, callWithEnv, keyWith } from "../helpers";
import { BROWSER, click, dsr, roll, store, uniqueDoi } from "../core/counter/counter-helpers";

/** DataCite's hub flattens the SUSHI form's header before validating against sushi_usage_schema.json; so do the tests. */
const flattened = (report: any) => ({ ...report["report-header"], "report-datasets": report["report-datasets"] });

function expectValid(report: any): void {
  const valid = validateDsr(flattened(report));
  expect(validateDsr.errors ?? [], JSON.stringify(validateDsr.errors)).toEqual([]);
  expect(valid).toBe(true);
}

async function gunzipText(bytes: ArrayBuffer): Promise<string> {
  return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
}

describe("GET /v1/reports/counter/dsr", () => {
  it("is a DSR that validates against DataCite's schema, with catalog title, YOP, URI and both access methods", async () => {
    const recordId = uniqueId("counter");
    await createRecord(recordId, { title: "Algoa Bay moorings" });
    const doi = uniqueDoi("dsr");
    await store([
      click(doi, "2026-08-03T10:00:00Z", "u1", { client: { ip: "198.51.100.7", user_agent: BROWSER, country: "ZA" } }),
      click(doi, "2026-08-03T10:00:00Z", null, { client: { ip: "198.51.100.9", user_agent: "python-requests/2.31.0" } }),
      { action: "view", occurred_at: "2026-08-04T09:00:00Z", resource: { type: "dataset", id: recordId }, actor: { id: "u2" }, client: { user_agent: BROWSER } },
    ]);
    await roll("2026-08-03", "2026-08-04");
    const report = await dsr("begin_date=2026-08&end_date=2026-08");
    expectValid(report);
    // The validator is not a formality: DataCite's example spelling (capitalised enums) is refused.
    const capitalised = structuredClone(report);
    capitalised["report-datasets"][0].performance[0].instance[0]["metric-type"] = "Total-Dataset-Requests";
    expect(validateDsr(flattened(capitalised))).toBe(false);
    const header = report["report-header"];
    expect(header).toMatchObject({
      "report-name": "dataset report",
      "report-id": "dsr",
      release: "rd1",
      "created-by": "download-audit",
      "reporting-period": { "begin-date": "2026-08-01", "end-date": "2026-08-31" },
      "report-attributes": [{ name: "time-zone", value: "UTC" }],
    });
    const byDoi = report["report-datasets"].find((item: any) => item["dataset-id"][0].value === doi);
    // One regular download from ZA and one machine download: each 1 investigation and 1 request, 1 session.
    expect(byDoi.performance).toEqual([
      {
        period: { "begin-date": "2026-08-01", "end-date": "2026-08-31" },
        instance: [
          { "access-method": "regular", "metric-type": "total-dataset-investigations", count: 1, "country-counts": { za: 1 } },
          { "access-method": "regular", "metric-type": "unique-dataset-investigations", count: 1, "country-counts": { za: 1 } },
          { "access-method": "regular", "metric-type": "total-dataset-requests", count: 1, "country-counts": { za: 1 } },
          { "access-method": "regular", "metric-type": "unique-dataset-requests", count: 1, "country-counts": { za: 1 } },
          { "access-method": "machine", "metric-type": "total-dataset-investigations", count: 1 },
          { "access-method": "machine", "metric-type": "unique-dataset-investigations", count: 1 },
          { "access-method": "machine", "metric-type": "total-dataset-requests", count: 1 },
          { "access-method": "machine", "metric-type": "unique-dataset-requests", count: 1 },
        ],
      },
    ]);
    const fromCatalog = report["report-datasets"].find((item: any) => item["dataset-title"] === "Algoa Bay moorings");
    expect(fromCatalog).toMatchObject({
      "dataset-id": [
        { type: "doi", value: "10.15493/saeon.ocean.2021.001" },
        { type: "uri", value: "https://doi.org/10.15493/saeon.ocean.2021.001" },
      ],
      yop: "2021",
      platform: "download-audit",
      publisher: "download-audit",
      "data-type": "dataset",
    });
    // A view only: one investigation, no request.
    expect(fromCatalog.performance[0].instance).toEqual([
      { "access-method": "regular", "metric-type": "total-dataset-investigations", count: 1 },
      { "access-method": "regular", "metric-type": "unique-dataset-investigations", count: 1 },
    ]);
  });

  it("reports partial data for days not yet rolled up, and no usage for an empty period (still valid)", async () => {
    const report = await dsr("begin_date=2031-01-01&end_date=2031-01-02");
    expectValid(report);
    expect(report["report-datasets"]).toEqual([]);
    expect(report["report-header"].exceptions.map((exception: any) => exception.code)).toEqual([3040, 3030]);
  });

  it("filters by dataset_id (a DOI in any spelling) and platform", async () => {
    const doi = uniqueDoi("filter");
    await store([click(doi, "2026-08-05T10:00:00Z", "u1")]);
    await roll("2026-08-05");
    const only = await dsr(`begin_date=2026-08-05&end_date=2026-08-05&dataset_id=${encodeURIComponent(`https://doi.org/${doi.toUpperCase()}`)}`);
    expect(only["report-datasets"].map((item: any) => item["dataset-id"][0].value)).toEqual([doi]);
    expect(only["report-datasets"][0].performance[0].period).toEqual({ "begin-date": "2026-08-05", "end-date": "2026-08-05" });
    const otherPlatform = await dsr(`begin_date=2026-08&end_date=2026-08&platform=elsewhere`);
    expect(otherPlatform["report-datasets"]).toEqual([]);
  });

  it("is gzip-compressed on request", async () => {
    const response = await call("GET", "/v1/reports/counter/dsr?begin_date=2026-08&end_date=2026-08", { headers: { accept: "application/gzip" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/gzip");
    expectValid(JSON.parse(await gunzipText(await response.arrayBuffer())));
  });

  it("refuses bad periods with 400 and the error shape", async () => {
    for (const query of ["begin_date=2026-13&end_date=2026-14", "begin_date=2026-09&end_date=2026-08", "end_date=2026-08", "begin_date=2026-02-30&end_date=2026-03"]) {
      const { status, body } = await callJson("GET", `/v1/reports/counter/dsr?${query}`);
      expect(status, query).toBe(400);
      expect(body.error.code).toBe("invalid_request");
    }
  });

  it("security suite finding: a date that is no date at all is a 400, not a 500 (the fuzzer sent end_date=b)", async () => {
    for (const query of ["begin_date=2026-01&end_date=b", "begin_date=b&end_date=2026-01", "begin_date=2026-13&end_date=2026-01"]) {
      const response = await callJson("GET", `/v1/reports/counter/dsr?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body.error.code, query).toBe("invalid_request");
    }
  });

  it("needs the read scope (401 without a key, 403 with an ingest-only key)", async () => {
    expect((await call("GET", "/v1/reports/counter/dsr?begin_date=2026-08&end_date=2026-08", { key: null })).status).toBe(401);
    const ingestOnly = await keyWith("ingest");
    for (const path of ["/v1/reports/counter/dsr?begin_date=2026-08&end_date=2026-08", "/v1/sushi/status", "/v1/sushi/reports", "/v1/reports/counter"])
      expect((await call("GET", path, { key: ingestOnly })).status, path).toBe(403);
    const reader = await keyWith("read");
    expect((await call("GET", "/v1/sushi/status", { key: reader })).status).toBe(200);
    expect((await call("POST", "/v1/reports/counter/2026-08", { key: reader })).status).toBe(403);
  });
});

describe("SUSHI endpoints", () => {
  it("status and report list", async () => {
    const status = await callJson("GET", "/v1/sushi/status");
    expect(status.body).toEqual([expect.objectContaining({ serviceactive: true, alerts: [] })]);
    const reports = await callJson("GET", "/v1/sushi/reports");
    expect(reports.body).toEqual([
      { "report-name": "dataset report", "report-id": "dsr", release: "rd1", "report-description": "Usage by month and dataset", path: "/v1/sushi/reports/dsr" },
    ]);
  });

  it("/v1/sushi/reports/dsr takes SUSHI parameter names and answers the same report", async () => {
    const doi = uniqueDoi("sushi");
    await store([click(doi, "2026-08-06T10:00:00Z", "u1")]);
    await roll("2026-08-06");
    const sushi = await callJson("GET", `/v1/sushi/reports/dsr?begin_date=2026-08&end_date=2026-08&item_id=${encodeURIComponent(doi)}&customer_id=x`);
    const plain = await dsr(`begin_date=2026-08&end_date=2026-08&dataset_id=${encodeURIComponent(doi)}`);
    expect(sushi.status).toBe(200);
    expectValid(sushi.body);
    expect(sushi.body["report-datasets"]).toEqual(plain["report-datasets"]);
    expect(sushi.body["report-datasets"]).toHaveLength(1);
  });
});

describe("monthly DSR in R2 and submission to DataCite", () => {
  afterEach(() => vi.restoreAllMocks());

  /** A fake DataCite hub: POST /reports creates a report id, PUT /reports/{id} replaces it; answers 401 to a wrong token. */
  function fakeHub() {
    const received: { method: string; url: string; report: any; auth: string | null }[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const request = new Request(input as RequestInfo, init);
      if (!request.url.startsWith("https://hub.test/")) throw new Error(`unexpected network call to ${request.url}`);
      const report = JSON.parse(await gunzipText(await request.arrayBuffer()));
      received.push({ method: request.method, url: request.url, report, auth: request.headers.get("authorization") });
      if (request.headers.get("authorization") !== "Bearer hub-token") return new Response('{"errors":[{"title":"bad token"}]}', { status: 401 });
      if (request.method === "POST") return Response.json({ report: { id: "report-1" } }, { status: 201 });
      return Response.json({ report: { id: request.url.split("/").pop() } }, { status: 200 });
    });
    return received;
  }

  const hubEnv = (token = "hub-token") => ({ ...env, DATACITE_USAGE_URL: "https://hub.test/", DATACITE_USAGE_TOKEN: token }) as Env;

  it("the cron builds last month's DSR once into R2 and submits it; a resubmission replaces the report (PUT with its id)", async () => {
    const received = fakeHub();
    const doi = uniqueDoi("cron");
    await store([click(doi, "2026-07-15T10:00:00Z", "u1")]);
    await roll("2026-07-15");
    const now = Date.parse("2026-08-01T03:30:00Z");
    expect(previousMonth(now)).toBe("2026-07");
    const configured = hubEnv();
    const first = await runMonthlyDsr(configured, getConfig(configured), now);
    expect(first).toEqual({ month: "2026-07", built: "reports/dsr/2026-07.json.gz", submission: "submitted" });
    const object = await env.BUCKET.get("reports/dsr/2026-07.json.gz");
    const stored = JSON.parse(await gunzipText(await object!.arrayBuffer()));
    expectValid(stored);
    expect(stored["report-datasets"].some((item: any) => item["dataset-id"][0].value === doi)).toBe(true);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: "POST", url: "https://hub.test/reports", auth: "Bearer hub-token" });
    expect(received[0]!.report).toEqual(stored);
    // The next daily run does nothing: built and accepted.
    expect(await runMonthlyDsr(configured, getConfig(configured), now + 86_400_000)).toEqual({ month: "2026-07", built: null, submission: "submitted" });
    expect(received).toHaveLength(1);
    // A rebuild on demand resubmits with PUT to the same report id.
    const response = await callWithEnv({ DATACITE_USAGE_URL: "https://hub.test/", DATACITE_USAGE_TOKEN: "hub-token" }, "POST", "/v1/reports/counter/2026-07");
    expect(response.status).toBe(200);
    expect(((await response.json()) as any).submission).toMatchObject({ status: "submitted", report_id: "report-1", error: null });
    expect(received.map((call) => `${call.method} ${call.url}`)).toEqual(["POST https://hub.test/reports", "PUT https://hub.test/reports/report-1"]);
    const { body } = await callJson("GET", "/v1/reports/counter");
    expect(body.data.find((report: any) => report.month === "2026-07")).toMatchObject({
      object_key: "reports/dsr/2026-07.json.gz",
      submission: { status: "submitted", report_id: "report-1" },
    });
  });

  it("a refused submission is recorded as failed and retried by the next run", async () => {
    const received = fakeHub();
    const now = Date.parse("2026-07-01T03:30:00Z");
    const wrong = hubEnv("wrong-token");
    const first = await runMonthlyDsr(wrong, getConfig(wrong), now);
    expect(first).toEqual({ month: "2026-06", built: "reports/dsr/2026-06.json.gz", submission: "failed" });
    const { body } = await callJson("GET", "/v1/reports/counter");
    expect(body.data.find((report: any) => report.month === "2026-06").submission.error).toMatch(/401/);
    const right = hubEnv();
    expect(await runMonthlyDsr(right, getConfig(right), now + 86_400_000)).toEqual({ month: "2026-06", built: null, submission: "submitted" });
    expect(received.map((call) => call.method)).toEqual(["POST", "POST"]);
  });

  it("refuses to build a month that has not ended (400) or is not a month", async () => {
    const now = new Date();
    const current = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
    for (const month of [current, "2026-13", "26-01"]) {
      const { status, body } = await callJson("POST", `/v1/reports/counter/${month}`);
      expect(status, month).toBe(400);
      expect(body.error.code).toBe("invalid_request");
    }
  });

  it("without DATACITE_USAGE_URL the report is built and nothing is sent", async () => {
    const spy = vi.spyOn(globalThis, "fetch");
    const key = await buildMonthlyDsr(env, getConfig(env), "2026-05");
    expect(key).toBe("reports/dsr/2026-05.json.gz");
    expect(spy).not.toHaveBeenCalled();
    const { body } = await callJson("GET", "/v1/reports/counter");
    expect(body.data.find((report: any) => report.month === "2026-05").submission.status).toBe("not_configured");
  });
});

describe("large reports", () => {
  it("page through more datasets than one page, merging rolled-up days with days counted live", async () => {
    const prefix = uniqueDoi("page");
    const rolled = Array.from({ length: 1_050 }, (_, index) => `${prefix}.${String(index).padStart(4, "0")}`);
    const liveOnly = Array.from({ length: 30 }, (_, index) => `${prefix}.live${index}`);
    await store(rolled.map((doi) => click(doi, "2026-05-20T10:00:00Z", "u1")));
    await roll("2026-05-20");
    // The next day is never rolled up: counted from raw rows when the report is made. 30 overlap day one.
    await store([...rolled.slice(0, 30), ...liveOnly].map((doi) => click(doi, "2026-05-21T10:00:00Z", "u1")));
    const report = await dsr("begin_date=2026-05&end_date=2026-05");
    expectValid(report);
    const mine = report["report-datasets"].filter((item: any) => item["dataset-id"][0].value.startsWith(prefix));
    const requests = new Map<string, number>(
      mine.map((item: any) => [item["dataset-id"][0].value, item.performance[0].instance.find((i: any) => i["metric-type"] === "total-dataset-requests").count]),
    );
    // 1,050 + 30 datasets (over a page of 1,000), each once; the 30 overlapping ones have a request on each day (2).
    expect(requests.size).toBe(1_080);
    expect([...requests.values()].reduce((sum, count) => sum + count, 0)).toBe(1_050 + 30 + 30);
    expect(requests.get(rolled[0]!)).toBe(2);
    expect(requests.get(rolled[1_049]!)).toBe(1);
    expect(requests.get(liveOnly[0]!)).toBe(1);
    // Keys arrive in order, each once.
    const keys = mine.map((item: any) => item["dataset-id"][0].value);
    expect(keys).toEqual([...keys].sort());
  });
});
