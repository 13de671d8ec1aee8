// Locale-aware formatting (the browser's languages) and the date arithmetic of the range pickers (UTC calendar days, as the API counts them).
const locales = [...navigator.languages];

const integer = new Intl.NumberFormat(locales, { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat(locales, { style: "percent", maximumFractionDigits: 1 });
const dateTime = new Intl.DateTimeFormat(locales, { dateStyle: "medium", timeStyle: "medium" });
const day = new Intl.DateTimeFormat(locales, { dateStyle: "medium", timeZone: "UTC" });

export const formatNumber = (value: number): string => integer.format(value);

/** `rate` as the API gives it: a fraction between 0 and 1. */
export const formatPercent = (rate: number | null): string => (rate === null ? "–" : percent.format(rate));

const byteUnits = ["byte", "kilobyte", "megabyte", "gigabyte", "terabyte", "petabyte"] as const;

/** Bytes in decimal (SI) units, e.g. 1.5 GB, in the user's locale. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "–";
  if (bytes < 1000) return `${integer.format(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < byteUnits.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return new Intl.NumberFormat(locales, {
    style: "unit",
    unit: byteUnits[unit],
    unitDisplay: "short",
    maximumFractionDigits: value >= 100 ? 0 : 1,
  }).format(value);
}

export const formatDateTime = (iso: string | null): string => (iso ? dateTime.format(new Date(iso)) : "–");

/** A YYYY-MM-DD calendar day, displayed in the user's locale. */
export const formatDay = (isoDay: string): string => day.format(new Date(`${isoDay}T00:00:00Z`));

export const isoDay = (date: Date): string => date.toISOString().slice(0, 10);

export function addDays(isoDate: string, days: number): string {
  const date = new Date(`${isoDate}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return isoDay(date);
}

/** The last `days` calendar days, today included: inclusive first and last day. */
export function lastDays(days: number): { first: string; last: string } {
  const today = isoDay(new Date());
  return { first: addDays(today, -(days - 1)), last: today };
}

export function catalogUrl(template: string, doi: string): string {
  return template.replace("{doi}", encodeURIComponent(doi).replace(/%2F/gi, "/"));
}

const monthYear = new Intl.DateTimeFormat(locales, { month: "short", year: "numeric", timeZone: "UTC" });

/** A stats period (2026-11-20, 2026-W47 or 2026-11) in the user's locale. */
export function formatPeriod(period: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(period)) return formatDay(period);
  if (/^\d{4}-\d{2}$/.test(period)) return monthYear.format(new Date(`${period}-01T00:00:00Z`));
  const week = /^(\d{4})-W(\d{2})$/.exec(period);
  return week ? `W${week[2]} ${week[1]}` : period;
}

/** The first and last calendar day (inclusive, YYYY-MM-DD) of a stats period: a day, an ISO week (Monday first) or a month. */
export function periodBounds(period: string): { first: string; last: string } {
  const week = /^(\d{4})-W(\d{2})$/.exec(period);
  if (week) {
    // ISO 8601: week 1 is the week with 4 January in it.
    const january4 = new Date(Date.UTC(Number(week[1]), 0, 4));
    const monday = addDays(isoDay(january4), -((january4.getUTCDay() + 6) % 7) + (Number(week[2]) - 1) * 7);
    return { first: monday, last: addDays(monday, 6) };
  }
  if (/^\d{4}-\d{2}$/.test(period)) {
    const first = `${period}-01`;
    const next = new Date(`${first}T00:00:00Z`);
    next.setUTCMonth(next.getUTCMonth() + 1);
    return { first, last: addDays(isoDay(next), -1) };
  }
  return { first: period, last: period };
}

/**
 * Periods the chart shows only in part: cut by the range's first or last day, or not over yet (today is in them).
 * Their lower counts are not a drop in use, so the page marks them.
 */
export function partialPeriods(periods: string[], range: { first: string; last: string }, today = isoDay(new Date())): Set<string> {
  return new Set(
    periods.filter((period) => {
      const bounds = periodBounds(period);
      return bounds.first < range.first || bounds.last > range.last || bounds.last >= today;
    }),
  );
}
