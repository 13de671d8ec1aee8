// COUNTER pieces of the overview: the humans / machines / robots split, the countries table, and the monthly COUNTER
// metrics per dataset (TI, UI, TR, UR from the Dataset Report) with the DSR download.
import { useState } from "hono/jsx/dom";
import { downloadFile, errorText, getJson } from "../api";
import { Alert, ScrollTable, useLoad } from "../components";
import { formatNumber } from "../format";
import type { AccessMethod, DatasetReport, Stats } from "../types";

const methodLabels: Record<AccessMethod, string> = { regular: "Humans (regular)", machine: "Machines (scripts)", robot: "Robots (excluded)" };

/** Successful downloads per COUNTER access method, and what the other figures count. */
export function AccessSplitPanel({ stats }: { stats: Stats }) {
  const split = stats.access_split;
  const total = split.regular.successful + split.machine.successful + split.robot.successful;
  return (
    <section class="panel" aria-labelledby="access-split" data-testid="access-split">
      <h2 id="access-split">Who downloads</h2>
      <p class="note">{stats.counted.note}.</p>
      <ul class="cards" aria-label="Downloads by access method">
        {(Object.keys(methodLabels) as AccessMethod[]).map((method) => (
          <li class="card" key={method}>
            <span class="card-label">{method === "robot" && stats.counted.access_methods.includes("robot") ? "Robots" : methodLabels[method]}</span>
            <strong class="card-value" data-split={method}>
              {formatNumber(split[method].successful)}
            </strong>
            <span class="card-note">
              {total === 0 ? "–" : `${Math.round((split[method].successful / total) * 100)} %`} · {formatNumber(split[method].unique_users)} users
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Successful downloads and users per country (what Cloudflare's edge or the portal reported). */
export function CountriesPanel({ stats }: { stats: Stats }) {
  if (stats.countries === null) return null;
  const regions = new Intl.DisplayNames(undefined, { type: "region" });
  const name = (code: string) => {
    try {
      return regions.of(code) ?? code;
    } catch {
      return code;
    }
  };
  return (
    <section class="panel" aria-labelledby="top-countries">
      <h2 id="top-countries">Countries</h2>
      <p class="note">Successful downloads, {stats.counted.access_methods.join(" + ")} access</p>
      {stats.countries.length === 0 ? (
        <p class="empty">No downloads with a known country in this range.</p>
      ) : (
        <ScrollTable label="Countries table">
          <thead>
            <tr>
              <th scope="col">Country</th>
              <th scope="col" class="number">Downloads</th>
              <th scope="col" class="number">Users</th>
            </tr>
          </thead>
          <tbody>
            {stats.countries.map((row) => (
              <tr key={row.country}>
                <td>
                  {name(row.country)} <span class="muted">{row.country}</span>
                </td>
                <td class="number">{formatNumber(row.successful)}</td>
                <td class="number">{formatNumber(row.unique_users)}</td>
              </tr>
            ))}
          </tbody>
        </ScrollTable>
      )}
    </section>
  );
}

interface MetricRow {
  key: string;
  title: string;
  id: string;
  month: string;
  method: "regular" | "machine";
  ti: number;
  ui: number;
  tr: number;
  ur: number;
}

const metricColumns = {
  "total-dataset-investigations": "ti",
  "unique-dataset-investigations": "ui",
  "total-dataset-requests": "tr",
  "unique-dataset-requests": "ur",
} as const;

/** One table row per dataset × month × access method of a Dataset Report. */
function metricRows(report: DatasetReport): MetricRow[] {
  const rows: MetricRow[] = [];
  for (const dataset of report["report-datasets"]) {
    const id = dataset["dataset-id"][0]?.value ?? "";
    for (const performance of dataset.performance) {
      const month = performance.period["begin-date"].slice(0, 7);
      for (const method of ["regular", "machine"] as const) {
        const instances = performance.instance.filter((instance) => instance["access-method"] === method);
        if (instances.length === 0) continue;
        const row: MetricRow = { key: `${id}|${month}|${method}`, title: dataset["dataset-title"], id, month, method, ti: 0, ui: 0, tr: 0, ur: 0 };
        for (const instance of instances) row[metricColumns[instance["metric-type"]]] = instance.count;
        rows.push(row);
      }
    }
  }
  return rows;
}

/** COUNTER metrics of the months the range touches, from GET /v1/reports/counter/dsr, with the report as a download. */
export function CounterPanel({ first, last }: { first: string; last: string }) {
  const period = { begin_date: first.slice(0, 7), end_date: last.slice(0, 7) };
  const report = useLoad(() => getJson<DatasetReport>("/v1/reports/counter/dsr", period), [period.begin_date, period.end_date]);
  const [downloadError, setDownloadError] = useState<string | undefined>();
  const rows = report.data ? metricRows(report.data) : [];
  const exceptions = report.data?.["report-header"].exceptions.filter((exception) => exception.code !== 3030) ?? [];
  const download = () => {
    setDownloadError(undefined);
    downloadFile(`/v1/reports/counter/dsr?begin_date=${period.begin_date}&end_date=${period.end_date}`, `dsr_${period.begin_date}_${period.end_date}.json`).catch(
      (error: unknown) => setDownloadError(errorText(error)),
    );
  };
  return (
    <section class="panel" aria-labelledby="counter-metrics" data-testid="counter-panel">
      <div class="panel-header">
        <h2 id="counter-metrics">
          COUNTER metrics, {period.begin_date === period.end_date ? period.begin_date : `${period.begin_date} to ${period.end_date}`} (UTC)
        </h2>
        <button type="button" class="button" onClick={download}>
          Download DSR (JSON)
        </button>
      </div>
      <p class="note">
        Code of Practice for Research Data: double-clicks within 30 s count once, unique = distinct user-hour sessions, robots never count.
        TI/UI = total/unique investigations, TR/UR = total/unique requests.
      </p>
      {report.error && <Alert>Could not load the COUNTER report: {report.error}</Alert>}
      {downloadError && <Alert>Could not download the report: {downloadError}</Alert>}
      {exceptions.map((exception) => (
        <Alert kind="info" key={exception.code}>
          {exception.message}: {exception.data}
        </Alert>
      ))}
      {report.data && rows.length === 0 && <p class="empty">No COUNTER usage in these months yet.</p>}
      {rows.length > 0 && (
        <ScrollTable label="COUNTER metrics table">
          <thead>
            <tr>
              <th scope="col">Dataset</th>
              <th scope="col">Month</th>
              <th scope="col">Access</th>
              <th scope="col" class="number" title="Total investigations">TI</th>
              <th scope="col" class="number" title="Unique investigations">UI</th>
              <th scope="col" class="number" title="Total requests">TR</th>
              <th scope="col" class="number" title="Unique requests">UR</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.key}>
                <td>
                  {row.title}
                  <span class="doi">{row.id}</span>
                </td>
                <td>{row.month}</td>
                <td>{row.method}</td>
                <td class="number">{formatNumber(row.ti)}</td>
                <td class="number">{formatNumber(row.ui)}</td>
                <td class="number">{formatNumber(row.tr)}</td>
                <td class="number">{formatNumber(row.ur)}</td>
              </tr>
            ))}
          </tbody>
        </ScrollTable>
      )}
    </section>
  );
}
