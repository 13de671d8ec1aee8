// The Code of Practice's counting of one UTC day: double-clicks (30 s, sliding, the later click kept), sessions (user key
// + UTC hour), totals and uniques per dataset × access method, with per-country counts.
import { DOUBLE_CLICK_MS, SESSION_MS } from "./rules";

export type CountedAccessMethod = "regular" | "machine";

export interface DatasetRef {
  /** DOI, else `type:id`. */
  key: string;
  doi: string | null;
  resource_type: string | null;
  resource_id: string | null;
  title: string | null;
}

/** One successful investigation (or request) of one dataset, by one user key, at one instant. */
export interface Click {
  at: number;
  user: string;
  action: string;
  dataset: DatasetRef;
  file: string | null;
  request: boolean;
  accessMethod: CountedAccessMethod;
  /** ISO alpha-2, or '' when unknown. */
  country: string;
}

/** A day's counts of a dataset × access method × country; country `*` is the total over all countries. */
export interface CounterRollupRow {
  day: number;
  dataset: string;
  access_method: CountedAccessMethod;
  country: string;
  doi: string | null;
  resource_type: string | null;
  resource_id: string | null;
  title: string | null;
  total_investigations: number;
  unique_investigations: number;
  total_requests: number;
  unique_requests: number;
}

export const ALL_COUNTRIES = "*";

interface Cell {
  investigations: number;
  requests: number;
  investigationSessions: Set<string>;
  requestSessions: Set<string>;
}

const newCell = (): Cell => ({ investigations: 0, requests: 0, investigationSessions: new Set(), requestSessions: new Set() });

/**
 * Counts the clicks of the day [start, end). Clicks must arrive in time order and include those up to `end + 30 s`: a
 * click just after midnight may make one just before it a double-click. Memory holds one pending click per open
 * (user, item) pair and the day's distinct sessions per dataset.
 */
export class DayTally {
  private readonly pending = new Map<string, Click>();
  private readonly cells = new Map<string, Cell>();
  private readonly datasets = new Map<string, DatasetRef>();
  private lastSweep = -Infinity;

  constructor(
    readonly day: number,
    private readonly start: number,
    private readonly end: number,
  ) {}

  add(click: Click): void {
    const item = JSON.stringify([click.user, click.action, click.dataset.key, click.file]);
    const previous = this.pending.get(item);
    // A repeat within the window replaces the earlier click (the later one is kept; the window slides with it).
    if (previous && click.at - previous.at > DOUBLE_CLICK_MS) this.commit(previous);
    this.pending.set(item, click);
    if (click.at - this.lastSweep > DOUBLE_CLICK_MS) this.sweep(click.at);
  }

  /** Commits pending clicks that no later click can replace any more. */
  private sweep(now: number): void {
    for (const [item, click] of this.pending)
      if (now - click.at > DOUBLE_CLICK_MS) {
        this.commit(click);
        this.pending.delete(item);
      }
    this.lastSweep = now;
  }

  private cell(key: string): Cell {
    let cell = this.cells.get(key);
    if (!cell) this.cells.set(key, (cell = newCell()));
    return cell;
  }

  private commit(click: Click): void {
    if (click.at < this.start || click.at >= this.end) return;
    const known = this.datasets.get(click.dataset.key);
    if (!known) this.datasets.set(click.dataset.key, { ...click.dataset });
    else {
      known.doi ??= click.dataset.doi;
      known.resource_type ??= click.dataset.resource_type;
      known.resource_id ??= click.dataset.resource_id;
      if (click.dataset.title && (!known.title || click.dataset.title > known.title)) known.title = click.dataset.title;
    }
    const session = `${click.user}|${Math.floor(click.at / SESSION_MS)}`;
    for (const country of [ALL_COUNTRIES, click.country]) {
      const cell = this.cell(JSON.stringify([click.dataset.key, click.accessMethod, country]));
      cell.investigations++;
      cell.investigationSessions.add(session);
      if (click.request) {
        cell.requests++;
        cell.requestSessions.add(session);
      }
    }
  }

  /** The day's rows, after every click up to `end + 30 s` was added. */
  finish(): CounterRollupRow[] {
    for (const click of this.pending.values()) this.commit(click);
    this.pending.clear();
    const rows: CounterRollupRow[] = [];
    for (const [key, cell] of this.cells) {
      const [dataset, accessMethod, country] = JSON.parse(key) as [string, CountedAccessMethod, string];
      const ref = this.datasets.get(dataset)!;
      rows.push({
        day: this.day,
        dataset,
        access_method: accessMethod,
        country,
        doi: ref.doi,
        resource_type: ref.resource_type,
        resource_id: ref.resource_id,
        title: ref.title,
        total_investigations: cell.investigations,
        unique_investigations: cell.investigationSessions.size,
        total_requests: cell.requests,
        unique_requests: cell.requestSessions.size,
      });
    }
    return rows;
  }
}
