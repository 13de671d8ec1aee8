// Calendar arithmetic in UTC: day numbers, ISO weeks, months, and the zero-filled list of periods of a range.
export const DAY_MS = 86_400_000;

export type Interval = "day" | "week" | "month";

/** Days since 1970-01-01 (UTC) of an epoch-millisecond instant. */
export const dayOf = (ms: number) => Math.floor(ms / DAY_MS);

export const dayStart = (day: number) => day * DAY_MS;

/** YYYY-MM-DD of a day number. */
export const dayLabel = (day: number) => new Date(dayStart(day)).toISOString().slice(0, 10);

/** ISO 8601 week of a day number: weeks start on Monday, and week 1 holds the year's first Thursday. */
export function isoWeekOf(day: number): { year: number; week: number } {
  const mondayBased = (day + 3) % 7; // 1970-01-01 was a Thursday
  const thursday = day - mondayBased + 3;
  const year = new Date(dayStart(thursday)).getUTCFullYear();
  const firstDay = dayOf(Date.UTC(year, 0, 1));
  return { year, week: Math.floor((thursday - firstDay) / 7) + 1 };
}

export function isoWeekLabel(day: number): string {
  const { year, week } = isoWeekOf(day);
  return `${year}-W${String(week).padStart(2, "0")}`;
}

/** The Monday (day number) of an ISO week "YYYY-Www", or undefined when the year has no such week. */
export function isoWeekMonday(label: string): number | undefined {
  const match = /^(\d{4})-W(\d{2})$/.exec(label);
  if (!match) return undefined;
  const year = Number(match[1]);
  const week = Number(match[2]);
  const jan4 = dayOf(Date.UTC(year, 0, 4));
  const monday = jan4 - ((jan4 + 3) % 7) + (week - 1) * 7;
  return week >= 1 && isoWeekOf(monday).year === year && isoWeekOf(monday).week === week ? monday : undefined;
}

export const monthLabel = (day: number) => dayLabel(day).slice(0, 7);

/** The first day (day number) of the month holding `day`. */
export function monthStart(day: number): number {
  const date = new Date(dayStart(day));
  return dayOf(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1));
}

/** The first day of the month after the one holding `day`. */
export function nextMonthStart(day: number): number {
  const date = new Date(dayStart(day));
  return dayOf(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1));
}

export function periodLabel(interval: Interval, day: number): string {
  if (interval === "week") return isoWeekLabel(day);
  if (interval === "month") return monthLabel(day);
  return dayLabel(day);
}

/** Every period that overlaps [from, to), in order, so a series can be zero-filled. */
export function periodsOf(interval: Interval, from: number, to: number): string[] {
  const labels: string[] = [];
  for (let day = dayOf(from); day <= dayOf(to - 1); day++) {
    const label = periodLabel(interval, day);
    if (labels.at(-1) !== label) labels.push(label);
  }
  return labels;
}
