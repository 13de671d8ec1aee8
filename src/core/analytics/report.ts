// Daily, weekly and monthly reports: counted downloads, users and bytes, what was downloaded and by whom (organisations),
// and the failures and refusals of the period in order. One JSON structure, rendered as Markdown (and PDF in report-pdf.ts).
import { preparedWithinLimits } from "../../db/limits";
import { ApiError } from "../../lib/errors";
import { DAY_MS, dayLabel, dayOf, dayStart, isoWeekLabel, isoWeekMonday, monthLabel } from "./periods";
import { actionCounts, computeStats, type Stats } from "./stats";

const NOTABLE_LIMIT = 100;

export interface ReportPeriod {
  kind: "daily" | "weekly" | "monthly";
  label: string;
  from: number;
  to: number;
}

export function dailyPeriod(date: string): ReportPeriod {
  const from = Date.parse(`${date}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !Number.isFinite(from) || dayLabel(dayOf(from)) !== date)
    throw new ApiError("invalid_request", "The date is not valid", { details: [{ path: "date", message: "must be a calendar date YYYY-MM-DD" }] });
  return { kind: "daily", label: date, from, to: from + DAY_MS };
}

export function weeklyPeriod(week: string): ReportPeriod {
  const monday = isoWeekMonday(week);
  if (monday === undefined)
    throw new ApiError("invalid_request", "The week is not valid", { details: [{ path: "week", message: "must be an ISO week YYYY-Www that exists" }] });
  return { kind: "weekly", label: week, from: dayStart(monday), to: dayStart(monday + 7) };
}

export function monthlyPeriod(month: string): ReportPeriod {
  const match = /^(\d{4})-(\d{2})$/.exec(month);
  const [year, monthNumber] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  if (!match || year < 1970 || monthNumber < 1 || monthNumber > 12)
    throw new ApiError("invalid_request", "The month is not valid", { details: [{ path: "month", message: "must be a calendar month YYYY-MM from 1970 on" }] });
  return { kind: "monthly", label: month, from: Date.UTC(year, monthNumber - 1, 1), to: Date.UTC(year, monthNumber, 1) };
}

/** The report period that holds an instant: its UTC day, its ISO week or its UTC month. */
export function currentLabel(kind: ReportPeriod["kind"], now = Date.now()): string {
  if (kind === "daily") return dayLabel(dayOf(now));
  return kind === "weekly" ? isoWeekLabel(dayOf(now)) : monthLabel(dayOf(now));
}

export interface NotableEvent {
  id: string;
  occurred_at: string;
  action: string;
  status: "failure" | "denied";
  resource_type: string | null;
  resource_id: string | null;
  organisation: string | null;
  message: string | null;
}

export interface Report {
  report: ReportPeriod["kind"];
  period: { label: string; from: string; to: string };
  summary: {
    events: number;
    successful: number;
    failed: number;
    success_rate: number | null;
    unique_users: number;
    unique_users_estimated: boolean;
    bytes: number;
    denied: number;
    actions: { action: string; successful: number; failed: number }[];
  };
  top_resources: Stats["top_resources"];
  top_organisations: Stats["top_organisations"];
  days: Stats["series"];
  notable_events: { total: number; shown: NotableEvent[] };
}

/** Builds a report: counts of the download actions, every action seen, and failures/refusals from raw rows. */
export async function buildReport(db: D1Database, period: ReportPeriod, downloadActions: string[]): Promise<Report> {
  const range = [period.from, period.to];
  const [stats, actions, [notableCount, notable]] = await Promise.all([
    computeStats(db, { from: period.from, to: period.to, actions: downloadActions, interval: "day", topOrganisations: 10, topResources: 10 }),
    actionCounts(db, period.from, period.to),
    db.batch([
      preparedWithinLimits(
        db,
        `SELECT count(*) AS total, coalesce(sum(CASE WHEN status = 'denied' THEN coalesce(denied_count, 1) ELSE 0 END), 0) AS denied FROM events
         WHERE occurred_at >= ?1 AND occurred_at < ?2 AND status IN ('failure', 'denied') AND duplicate_of IS NULL`,
        range,
      ),
      preparedWithinLimits(
        db,
        `SELECT id, occurred_at, action, status, resource_type, resource_id, organisation, message FROM events
         WHERE occurred_at >= ?1 AND occurred_at < ?2 AND status IN ('failure', 'denied') AND duplicate_of IS NULL
         ORDER BY occurred_at, id LIMIT ?3`,
        [...range, NOTABLE_LIMIT],
      ),
    ]),
  ]);
  const counts = notableCount!.results[0] as { total: number; denied: number };
  return {
    report: period.kind,
    period: { label: period.label, from: stats.from, to: stats.to },
    summary: { ...stats.totals, unique_users_estimated: stats.unique_users_estimated, denied: counts.denied, actions },
    top_resources: stats.top_resources,
    top_organisations: stats.top_organisations,
    days: stats.series,
    notable_events: {
      total: counts.total,
      shown: (notable!.results as (Omit<NotableEvent, "occurred_at"> & { occurred_at: number })[]).map((row) => ({
        ...row,
        occurred_at: new Date(row.occurred_at).toISOString(),
      })),
    },
  };
}

export const number = (value: number) => value.toLocaleString("en-US");
export const percent = (part: number, whole: number) => (whole === 0 ? "–" : `${((part / whole) * 100).toFixed(1)} %`);

export function bytesText(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A table cell: pipes escaped, line breaks flattened, long text shortened. */
function cell(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return "–";
  const text = String(value).replace(/\s+/g, " ").trim();
  return (text.length > 160 ? `${text.slice(0, 157)}...` : text).replace(/\\/g, "\\\\").replace(/\|/g, "\\|");
}

function table(header: string[], rows: (string | number | null)[][], alignRight: number[] = []): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const rule = header.map((_, index) => (alignRight.includes(index) ? "---:" : "---"));
  return [line(header), line(rule), ...rows.map((row) => line(row.map(cell)))].join("\n");
}

const TITLES: Record<ReportPeriod["kind"], string> = { daily: "Daily", weekly: "Weekly", monthly: "Monthly" };

export const reportTitle = (report: Report) => `${TITLES[report.report]} downloads report: ${report.period.label}`;

/** The summary table's rows, as the Markdown and PDF reports show them. */
export function summaryRows(report: Report): [string, string][] {
  const { summary } = report;
  return [
    ["Events", number(summary.events)],
    ["Successful", `${number(summary.successful)} (${percent(summary.successful, summary.events)})`],
    ["Failed", `${number(summary.failed)} (${percent(summary.failed, summary.events)})`],
    ["Unique users", `${number(summary.unique_users)}${summary.unique_users_estimated ? " (estimated)" : ""}`],
    ["Bytes", `${number(summary.bytes)} (${bytesText(summary.bytes)})`],
    ["Refused by rate limit", number(summary.denied)],
  ];
}

export function reportMarkdown(report: Report): string {
  const { summary } = report;
  const lines = [
    `# ${reportTitle(report)}`,
    "",
    `Period: ${report.period.from} to ${report.period.to} (UTC, end exclusive). Counted events exclude duplicates and refused attempts.`,
    "",
    "## Summary",
    "",
    table(["Measure", "Value"], summaryRows(report), [1]),
    "",
    `Actions seen: ${summary.actions.length === 0 ? "none" : summary.actions.map((row) => `${row.action} (${number(row.successful)} successful, ${number(row.failed)} failed)`).join(", ")}.`,
    "",
    "## Top resources",
    "",
    report.top_resources.length === 0
      ? "No downloads."
      : table(
          ["#", "Resource", "DOI", "Title", "Events", "Unique users"],
          report.top_resources.map((row, index) => [index + 1, `${row.resource_type}/${row.resource_id}`, row.doi, row.title, number(row.events), number(row.unique_users)]),
          [0, 4, 5],
        ),
    "",
    "## Top organisations",
    "",
    report.top_organisations.length === 0
      ? "No downloads by known organisations."
      : table(
          ["#", "Organisation", "Events", "Unique users"],
          report.top_organisations.map((row, index) => [index + 1, row.organisation, number(row.events), number(row.unique_users)]),
          [0, 2, 3],
        ),
    "",
  ];
  if (report.report !== "daily")
    lines.push(
      "## Days",
      "",
      table(
        ["Day", "Successful", "Failed", "Bytes", "Unique users"],
        report.days.map((row) => [row.period, number(row.successful), number(row.failed), bytesText(row.bytes), number(row.unique_users)]),
        [1, 2, 3, 4],
      ),
      "",
    );
  const { notable_events: notable } = report;
  lines.push("## Notable events", "");
  if (notable.total === 0) lines.push("No failures or refused attempts.");
  else {
    lines.push(
      table(
        ["Time (UTC)", "Action", "Status", "Resource", "Organisation", "Message"],
        notable.shown.map((row) => [
          row.occurred_at,
          row.action,
          row.status === "denied" ? "refused (rate limit)" : "failed",
          row.resource_id ? `${row.resource_type}/${row.resource_id}` : null,
          row.organisation,
          row.message,
        ]),
      ),
    );
    if (notable.total > notable.shown.length) lines.push("", `…and ${number(notable.total - notable.shown.length)} more (see \`GET /v1/events?status=failure\`).`);
  }
  return `${lines.join("\n")}\n`;
}
