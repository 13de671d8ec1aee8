// Overview page: totals, the successful-vs-failed time series and the top organisations and records for a date range.
import { useState } from "hono/jsx/dom";
import { getJson } from "../api";
import { SeriesChart } from "../chart";
import { Alert, ScrollTable, useLoad } from "../components";
import { ReportPdfButton } from "../report-pdf-button";
import { addDays, catalogUrl, formatBytes, formatNumber, formatPercent, formatPeriod, lastDays, partialPeriods } from "../format";
import type { Interval, Stats } from "../types";
import { AccessSplitPanel, CounterPanel, CountriesPanel } from "./counter-panel";

const presets = [7, 30, 90] as const;
type Preset = (typeof presets)[number] | "custom";

export function OverviewPage({ catalogRecordUrl }: { catalogRecordUrl: string }) {
  const [preset, setPreset] = useState<Preset>(30);
  const [custom, setCustom] = useState(lastDays(30));
  const [draft, setDraft] = useState(lastDays(30));
  const [interval, setInterval] = useState<Interval>("day");
  const range = preset === "custom" ? custom : lastDays(preset);
  const stats = useLoad(
    () => getJson<Stats>("/v1/stats", { from: range.first, to: addDays(range.last, 1), interval }),
    [range.first, range.last, interval],
  );

  const applyCustom = (event: Event) => {
    event.preventDefault();
    if (draft.first && draft.last && draft.first <= draft.last) setCustom({ ...draft });
  };
  const customInvalid = preset === "custom" && (!draft.first || !draft.last || draft.first > draft.last);

  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <form class="toolbar" onSubmit={applyCustom}>
        <fieldset class="segmented">
          <legend>Date range</legend>
          {[...presets, "custom" as const].map((value) => (
            <label key={String(value)}>
              <input type="radio" name="range" value={String(value)} checked={preset === value} onChange={() => setPreset(value)} />
              <span>{value === "custom" ? "Custom" : `${value} days`}</span>
            </label>
          ))}
        </fieldset>
        {preset === "custom" && (
          <div class="custom-range">
            <label>
              From
              <input type="date" required value={draft.first} onInput={(event: Event) => setDraft({ ...draft, first: (event.target as HTMLInputElement).value })} />
            </label>
            <label>
              Until (inclusive)
              <input type="date" required value={draft.last} onInput={(event: Event) => setDraft({ ...draft, last: (event.target as HTMLInputElement).value })} />
            </label>
            <button type="submit" disabled={customInvalid}>
              Apply
            </button>
          </div>
        )}
        <label>
          Per
          <select aria-label="Per" value={interval} onChange={(event: Event) => setInterval((event.target as HTMLSelectElement).value as Interval)}>
            <option value="day">day</option>
            <option value="week">week</option>
            <option value="month">month</option>
          </select>
        </label>
      </form>
      <ReportPdfButton from={range.first} to={addDays(range.last, 1)} interval={interval} />
      {customInvalid && <Alert>The first day must come before the last day.</Alert>}
      {stats.error && <Alert>Could not load the statistics: {stats.error}</Alert>}
      <p class="sr-only" aria-live="polite">
        {stats.loading ? "Loading statistics" : ""}
      </p>
      {stats.data && <StatsView stats={stats.data} stale={stats.loading} catalogRecordUrl={catalogRecordUrl} />}
      <CounterPanel first={range.first} last={range.last} />
    </section>
  );
}

function StatsView({ stats, stale, catalogRecordUrl }: { stats: Stats; stale: boolean; catalogRecordUrl: string }) {
  const { totals } = stats;
  const per = stats.interval;
  const partial = partialPeriods(
    stats.series.map((entry) => entry.period),
    { first: stats.from.slice(0, 10), last: addDays(stats.to.slice(0, 10), -1) },
  );
  return (
    <div class={stale ? "stale" : ""} data-testid="stats">
      <ul class="cards" aria-label="Totals">
        <li class="card">
          <span class="card-label">Downloads</span>
          <strong class="card-value" data-card="downloads">{formatNumber(totals.events)}</strong>
          <span class="card-note">
            {formatNumber(totals.successful)} successful, {formatNumber(totals.failed)} failed
          </span>
        </li>
        <li class="card">
          <span class="card-label">Unique users</span>
          <strong class="card-value" data-card="users">
            {stats.unique_users_estimated ? "≈ " : ""}
            {formatNumber(totals.unique_users)}
          </strong>
          {stats.unique_users_estimated && <span class="card-note">estimated from sketches (±1.6 %)</span>}
        </li>
        <li class="card">
          <span class="card-label">Data volume</span>
          <strong class="card-value" data-card="bytes">{formatBytes(totals.bytes)}</strong>
        </li>
        <li class="card">
          <span class="card-label">Success rate</span>
          <strong class="card-value" data-card="success-rate">{formatPercent(totals.success_rate)}</strong>
        </li>
      </ul>
      <AccessSplitPanel stats={stats} />

      <figure class="panel">
        <figcaption>Successful and failed downloads per {per}</figcaption>
        <SeriesChart series={stats.series} periodLabel={formatPeriod} partial={partial} />
        {partial.size > 0 && (
          <p class="chart-note" data-testid="partial-note">
            * Partial {per} (shaded): only part of it lies in the range, or it is not over yet, so its counts are lower ({[...partial].map(formatPeriod).join(", ")}).
          </p>
        )}
        <details>
          <summary>Chart data as a table</summary>
          <ScrollTable label={`Downloads per ${per}`}>
            <thead>
              <tr>
                <th scope="col">Period</th>
                <th scope="col" class="number">Successful</th>
                <th scope="col" class="number">Failed</th>
                <th scope="col" class="number">Data</th>
                <th scope="col" class="number">Users</th>
              </tr>
            </thead>
            <tbody>
              {stats.series.map((entry) => (
                <tr key={entry.period}>
                  <th scope="row">
                    {formatPeriod(entry.period)}
                    {partial.has(entry.period) ? " (partial)" : ""}
                  </th>
                  <td class="number">{formatNumber(entry.successful)}</td>
                  <td class="number">{formatNumber(entry.failed)}</td>
                  <td class="number">{formatBytes(entry.bytes)}</td>
                  <td class="number">{formatNumber(entry.unique_users)}</td>
                </tr>
              ))}
            </tbody>
          </ScrollTable>
        </details>
      </figure>

      <div class="two-columns">
        <section class="panel" aria-labelledby="top-organisations">
          <h2 id="top-organisations">Top organisations</h2>
          <p class="note">Successful downloads, {stats.counted.access_methods.join(" + ")} access</p>
          {stats.top_organisations.length === 0 ? (
            <p class="empty">No downloads in this range.</p>
          ) : (
            <ScrollTable label="Top organisations table">
              <thead>
                <tr>
                  <th scope="col">Organisation</th>
                  <th scope="col" class="number">Downloads</th>
                  <th scope="col" class="number">Users</th>
                </tr>
              </thead>
              <tbody>
                {stats.top_organisations.map((row) => (
                  <tr key={row.organisation ?? "(none)"}>
                    <td>{row.organisation ?? <span class="muted">(not given)</span>}</td>
                    <td class="number">{formatNumber(row.events)}</td>
                    <td class="number">{formatNumber(row.unique_users)}</td>
                  </tr>
                ))}
              </tbody>
            </ScrollTable>
          )}
        </section>
        <section class="panel" aria-labelledby="top-records">
          <h2 id="top-records">Top records</h2>
          <p class="note">Successful downloads, {stats.counted.access_methods.join(" + ")} access</p>
          {stats.top_resources.length === 0 ? (
            <p class="empty">No downloads in this range.</p>
          ) : (
            <ScrollTable label="Top records table">
              <thead>
                <tr>
                  <th scope="col">Record</th>
                  <th scope="col" class="number">Downloads</th>
                  <th scope="col" class="number">Users</th>
                </tr>
              </thead>
              <tbody>
                {stats.top_resources.map((row) => {
                  const title = row.title ?? row.resource_id ?? "(untitled)";
                  return (
                    <tr key={`${row.resource_type}/${row.resource_id}`}>
                      <td>
                        {row.doi ? (
                          <a href={catalogUrl(catalogRecordUrl, row.doi)} target="_blank" rel="noopener noreferrer">
                            {title}
                          </a>
                        ) : (
                          title
                        )}
                        <span class="doi">{row.doi ? `DOI ${row.doi}` : `${row.resource_type ?? ""} ${row.resource_id ?? ""}`.trim()}</span>
                      </td>
                      <td class="number">{formatNumber(row.events)}</td>
                      <td class="number">{formatNumber(row.unique_users)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </ScrollTable>
          )}
        </section>
      </div>
      <CountriesPanel stats={stats} />
    </div>
  );
}
