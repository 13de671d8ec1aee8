// Usage statistics over counted events (never duplicates or denials): whole rolled-up days (the open day too, once the cron
// has rolled it) come from the rollups, everything else (partial days at the edges, events received after a day was rolled
// up) from raw rows, combined inside SQLite. Unique users are counted from the rollups' HyperLogLog sketches (estimated)
// or, on request, exactly from their user sets (sketches only for days whose raw rows were archived).
import { eventIdsOfActorsSql } from "../../db/event-storage";
import { preparedWithinLimits } from "../../db/limits";
import { parseUserHashes, UserCounter } from "./hll";
import { actorKeyFor, normaliseEmail } from "../ledger/ingest";
import { DAY_MS, dayOf, dayStart, monthStart, nextMonthStart, periodLabel, periodsOf, type Interval } from "./periods";
import { ACCESS_METHOD_SQL, grainFor, ROLLUP_VERSION, ROLLUP_WATERMARK, type Grain } from "./rollup";

export interface StatsScope {
  /** Inclusive, epoch ms. */
  from: number;
  /** Exclusive, epoch ms. */
  to: number;
  /** Actions counted; null counts every action. */
  actions: string[] | null;
  resourceType?: string;
  resourceId?: string;
  organisation?: string;
  /** COUNTER access methods counted (regular, machine, robot); every one when absent. */
  accessMethods?: string[];
}

/** Rollups answer the whole days in [spanStart, spanEnd) (the open day among them once rolled up); raw rows answer the rest and what arrived after the rollup. */
interface Coverage {
  watermark: number;
  /** Changes with every write to the rollups. */
  version: number;
  spanStart: number;
  spanEnd: number;
  /** The day after the last day with rollup rows (a day's rows are written with its rollup_days row). */
  rowsEnd: number;
}

async function coverageOf(db: D1Database, scope: StatsScope): Promise<Coverage> {
  const { results } = await db
    .prepare(
      `SELECT name, value FROM maintenance_state WHERE name IN (?1, ?2)
       UNION ALL SELECT 'watermark_day_rolled', 1 FROM rollup_days WHERE day = (SELECT value FROM maintenance_state WHERE name = ?1) / ${DAY_MS}
       UNION ALL SELECT 'last_rolled_day', max(day) FROM rollup_days`,
    )
    .bind(ROLLUP_WATERMARK, ROLLUP_VERSION)
    .all<{ name: string; value: number }>();
  const state = Object.fromEntries(results.map((row) => [row.name, row.value]));
  const watermark = state[ROLLUP_WATERMARK] ?? 0;
  const version = state[ROLLUP_VERSION] ?? 0;
  // The rollup run rolls the open day too: once the watermark's day has a rollup, it holds the day's events received up
  // to the watermark (runs since roll it whenever it receives events), so the rollups answer it like a closed day.
  const rolledDays = dayOf(watermark) + (state.watermark_day_rolled ? 1 : 0);
  const rowsEnd = state.last_rolled_day == null ? 0 : state.last_rolled_day + 1;
  const firstDay = Math.ceil(scope.from / DAY_MS);
  const endDay = Math.min(Math.floor(scope.to / DAY_MS), rolledDays);
  return endDay > firstDay
    ? { watermark, version, spanStart: dayStart(firstDay), spanEnd: dayStart(endDay), rowsEnd }
    : { watermark, version, spanStart: scope.from, spanEnd: scope.from, rowsEnd };
}

/**
 * How a ranking sums the covered days [firstDay, endDay) from the monthly tier (event_rollup_months, whose rows equal the
 * sums of their month's day rows): whole months from the tier; a month the range covers in part either from its days
 * (`plus`), or from the tier less its days outside the range (`minus`), whichever reads fewer days (no day from `rowsEnd`
 * on holds rows). The months read from the tier are consecutive: [firstMonth, endMonth), empty when firstMonth = endMonth.
 */
export interface MonthPlan {
  firstMonth: number;
  endMonth: number;
  plus: [number, number][];
  minus: [number, number][];
}

export function monthPlan(firstDay: number, endDay: number, rowsEnd: number): MonthPlan {
  const months: number[] = [];
  const plus: [number, number][] = [];
  const minus: [number, number][] = [];
  for (let month = monthStart(firstDay); month < endDay; month = nextMonthStart(month)) {
    const next = nextMonthStart(month);
    const from = Math.max(firstDay, month);
    const to = Math.min(endDay, next);
    const after = Math.max(0, Math.min(next, rowsEnd) - to);
    if (from - month + after >= to - from) {
      plus.push([from, to]);
      continue;
    }
    months.push(month);
    if (from > month) minus.push([month, from]);
    if (after > 0) minus.push([to, to + after]);
  }
  return months.length > 0
    ? { firstMonth: months[0]!, endMonth: nextMonthStart(months.at(-1)!), plus, minus }
    : { firstMonth: 0, endMonth: 0, plus, minus };
}

/** Numbered parameters of one statement; a named value is bound once however often the SQL mentions it. */
class Parameters {
  readonly values: unknown[] = [];
  private readonly named = new Map<string, string>();

  add(name: string, value: unknown): string {
    let placeholder = this.named.get(name);
    if (!placeholder) {
      this.values.push(value);
      placeholder = `?${this.values.length}`;
      this.named.set(name, placeholder);
    }
    return placeholder;
  }
}

/** Builds the two sources of one statement: rollup rows of a grain, and the counted raw rows not in the rollups. */
class Sources {
  readonly params = new Parameters();

  constructor(
    private readonly scope: StatsScope,
    private readonly coverage: Coverage,
  ) {}

  private dimensionConditions(): string[] {
    const { scope, params } = this;
    const conditions: string[] = [];
    if (scope.actions) conditions.push(`action IN (SELECT value FROM json_each(${params.add("actions", JSON.stringify(scope.actions))}))`);
    if (scope.resourceType) conditions.push(`resource_type = ${params.add("resourceType", scope.resourceType)}`);
    if (scope.resourceId) conditions.push(`resource_id = ${params.add("resourceId", scope.resourceId)}`);
    if (scope.organisation) conditions.push(`organisation = ${params.add("organisation", scope.organisation)}`);
    if (scope.accessMethods) conditions.push(`${ACCESS_METHOD_SQL} IN (SELECT value FROM json_each(${params.add("accessMethods", JSON.stringify(scope.accessMethods))}))`);
    return conditions;
  }

  get hasRollups(): boolean {
    return this.coverage.spanEnd > this.coverage.spanStart;
  }

  /** `SELECT <columns> FROM event_rollups WHERE …` for the covered days, or null when no whole rolled-up day is in range. */
  rollups(grain: Grain, columns: string, extra: string[] = []): string | null {
    if (!this.hasRollups) return null;
    const { params, coverage } = this;
    const conditions = [
      `grain = '${grain}'`,
      `day >= ${params.add("firstDay", dayOf(coverage.spanStart))}`,
      `day < ${params.add("endDay", dayOf(coverage.spanEnd))}`,
      ...this.dimensionConditions(),
      ...extra,
    ];
    return `SELECT ${columns} FROM event_rollups WHERE ${conditions.join(" AND ")}`;
  }

  /** Counted raw rows the rollups do not hold, as a subquery with normalised columns ('' for absent dimensions). */
  raw(): string {
    const { params, scope, coverage } = this;
    const base = `SELECT occurred_at / 86400000 AS day, occurred_at, received_at, action, status, coalesce(resource_type, '') AS resource_type,
      coalesce(resource_id, '') AS resource_id, coalesce(organisation, '') AS organisation, doi, title, user_key,
      coalesce(bytes, 0) AS bytes, ${ACCESS_METHOD_SQL} AS access_method, coalesce(country, '') AS country
      FROM events WHERE ${["status IN ('success', 'failure')", "duplicate_of IS NULL", ...this.dimensionConditions()].join(" AND ")}`;
    const parts: string[] = [];
    const spanStart = () => params.add("spanStart", coverage.spanStart);
    const spanEnd = () => params.add("spanEnd", coverage.spanEnd);
    if (coverage.spanStart > scope.from) parts.push(`${base} AND occurred_at >= ${params.add("from", scope.from)} AND occurred_at < ${spanStart()}`);
    if (scope.to > coverage.spanEnd) parts.push(`${base} AND occurred_at >= ${spanEnd()} AND occurred_at < ${params.add("to", scope.to)}`);
    // Events received after the watermark are few: the unary + keeps the planner off the occurred_at index, so it seeks
    // the receipt order (event_rows' primary key) instead of walking the whole span by occurred_at.
    if (this.hasRollups)
      parts.push(
        `${base} AND received_at > ${params.add("watermark", coverage.watermark)} AND +occurred_at >= ${spanStart()} AND +occurred_at < ${spanEnd()}
         AND received_at > coalesce((SELECT rolled_through FROM rollup_days WHERE rollup_days.day = events.occurred_at / 86400000), -1)`,
      );
    return `(${parts.join(" UNION ALL ")})`;
  }

  /** Rollup rows and raw rows combined: `SELECT … FROM (<rollups> UNION ALL <raw>)`; `rollupSql` replaces the plain rollup rows. */
  union(grain: Grain, rollupColumns: string, rawColumns: string, extra: { rollup?: string[]; raw?: string; rollupSql?: string | null } = {}): string {
    const rawSql = `SELECT ${rawColumns} FROM ${this.raw()}${extra.raw ? ` WHERE ${extra.raw}` : ""}`;
    const rollupSql = extra.rollupSql !== undefined ? extra.rollupSql : this.rollups(grain, rollupColumns, extra.rollup);
    return `(${rollupSql ? `${rollupSql} UNION ALL ` : ""}${rawSql})`;
  }

  /** Whole rolled-up days the rollups answer. */
  get coveredDays(): number {
    return dayOf(this.coverage.spanEnd) - dayOf(this.coverage.spanStart);
  }

  /**
   * `SELECT <keys>, events` with each key's events summed over the covered days (0 for keys without any: a ranking leaves
   * them out with `HAVING events > 0`), from the monthly tier (monthPlan): its rows of the months that overlap the range
   * are grouped by key in primary-key order (no sort), which lists every key with an event in the range and sums the
   * months the plan reads whole; the days of a partly covered month are then added, or those outside the range taken
   * away, by one seek per key into the keyed day index (grain, key…, day, action, access_method, events). Summing every
   * day row instead reads about one row per event of a long range at the resource grain; grouping them sorts each one.
   */
  keyedSums(grain: "resource" | "organisation", keys: string[], extra: string[]): string | null {
    if (!this.hasRollups) return null;
    const { params, coverage } = this;
    const firstDay = dayOf(coverage.spanStart);
    const endDay = dayOf(coverage.spanEnd);
    const plan = monthPlan(firstDay, endDay, coverage.rowsEnd);
    // The columns a grain leaves empty complete the prefix of the monthly tier's primary key.
    const emptyColumns = grain === "resource" ? ["organisation = ''"] : ["resource_type = ''", "resource_id = ''"];
    const conditions = [`grain = '${grain}'`, ...this.dimensionConditions(), ...extra];
    const perKey = [...conditions, ...keys.map((key) => `${key} = months.${key}`)].join(" AND ");
    const days = ([from, to]: [number, number], name: string) =>
      `coalesce((SELECT sum(events) FROM event_rollups WHERE day >= ${params.add(`${name}From`, from)} AND day < ${params.add(`${name}To`, to)} AND ${perKey}), 0)`;
    const planned = `month >= ${params.add("firstMonth", plan.firstMonth)} AND month < ${params.add("endMonth", plan.endMonth)}`;
    const months = `SELECT ${keys.join(", ")}, sum(CASE WHEN ${planned} THEN events ELSE 0 END) AS events FROM event_rollup_months
      WHERE ${[...conditions, ...emptyColumns].join(" AND ")} AND month >= ${params.add("monthsFrom", monthStart(firstDay))} AND month < ${params.add("monthsTo", endDay)}
      GROUP BY ${keys.join(", ")}`;
    const edges = [
      ...plan.plus.map((range, index) => ` + ${days(range, `plus${index}`)}`),
      ...plan.minus.map((range, index) => ` - ${days(range, `minus${index}`)}`),
    ].join("");
    return `SELECT ${keys.map((key) => `months.${key} AS ${key}`).join(", ")}, months.events${edges} AS events FROM (${months}) AS months`;
  }

  statement(db: D1Database, sql: string): D1PreparedStatement {
    return preparedWithinLimits(db, sql, this.params.values);
  }
}

/**
 * How unique users are counted: `exact` reads each rollup row's user set (a sketch only where the set is gone: archived
 * days); `estimated` reads each row's sketch (its user set only while a sketch is missing, before the backfill reached it).
 */
export type UserCounting = "exact" | "estimated";

const rollupUserSet: Record<UserCounting, string> = {
  exact: "users, CASE WHEN users IS NULL THEN sketch END AS sketch",
  estimated: "CASE WHEN sketch IS NULL THEN users END AS users, sketch",
};
const rawUserSet = "group_concat(DISTINCT substr(user_key, 1, 13)) AS users, NULL AS sketch";

interface UserSetRow {
  users: string | null;
  sketch: string | null;
}

function countInto(counters: UserCounter[], row: UserSetRow): void {
  if (row.sketch) {
    for (const counter of counters) counter.addSerialised(row.sketch);
  } else if (row.users) {
    const hashes = parseUserHashes(row.users);
    for (const counter of counters) counter.addHashes(hashes);
  }
}

/** User sets of successful events per group key, from rollups and raw rows. */
function userSetsSql(sources: Sources, grain: Grain, keyColumns: string, rollupCondition: string[], rawCondition: string, counting: UserCounting): string {
  const rollups = sources.rollups(grain, `${keyColumns}, ${rollupUserSet[counting]}`, [
    "status = 'success'",
    "(users IS NOT NULL OR sketch IS NOT NULL)",
    ...rollupCondition,
  ]);
  const raw = `SELECT ${keyColumns}, ${rawUserSet} FROM ${sources.raw()}
    WHERE status = 'success' AND user_key IS NOT NULL AND ${rawCondition} GROUP BY ${keyColumns}`;
  return rollups ? `${rollups} UNION ALL ${raw}` : raw;
}

/**
 * Covered days from which top lists are ranked from the monthly tier (Sources.keyedSums). That costs a pass over the
 * grain's monthly rows of the months the range touches and a seek per key for a partly covered month, whatever the range;
 * grouping costs a sort of every day row in the range: over 90 days of the 1,000,000-event bench ledger (5,000 resources,
 * ~6,000 resource rows a day, ~15,000 resource rows a month) grouping took four times as long as summing each key's day
 * rows, which took ten times as long as the monthly tier; below about a month the range's rows are few enough that
 * grouping them is the safer choice for a grain with many keys.
 */
const KEYED_RANKING_MIN_DAYS = 28;

export interface StatsRequest extends StatsScope {
  interval: Interval;
  topOrganisations: number;
  topResources: number;
  /** Length of the countries table; no table when 0 (or when the request filters by resource or organisation). */
  topCountries?: number;
  /** Default `exact`. */
  userCounting?: UserCounting;
}

export type AccessSplit = Record<"regular" | "machine" | "robot", { successful: number; unique_users: number }>;

export interface Stats {
  from: string;
  to: string;
  interval: Interval;
  unique_users_estimated: boolean;
  totals: { events: number; successful: number; failed: number; success_rate: number | null; unique_users: number; bytes: number };
  top_organisations: { organisation: string; events: number; unique_users: number }[];
  top_resources: { resource_type: string; resource_id: string; doi: string | null; title: string | null; events: number; unique_users: number }[];
  series: { period: string; successful: number; failed: number; bytes: number; unique_users: number }[];
  /** Successful events and users per access method, whatever `accessMethods` selects: humans, machines and robots. */
  access_split: AccessSplit;
  /** Successful events and users per country (unknown left out); null when the request filters by resource or organisation. */
  countries: { country: string; successful: number; unique_users: number }[] | null;
}

const rate = (part: number, whole: number) => (whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000);

/**
 * Answers already computed in this isolate, keyed by the request and by what they were computed from: the rollups'
 * version and a fingerprint of the raw rows they read. A changed rollup or a new, late or deleted raw row changes the
 * key, so a reused answer is always exactly what computing it again would give.
 */
const answers = new Map<string, Stats>();
const MAX_ANSWERS = 32;

async function rawFingerprint(db: D1Database, sources: Sources): Promise<string> {
  const row = await sources
    .statement(db, `SELECT count(*) AS n, max(received_at) AS latest, total(occurred_at) AS occurred, total(received_at) AS received FROM ${sources.raw()}`)
    .first<{ n: number; latest: number | null; occurred: number; received: number }>();
  return JSON.stringify(row);
}

/** Totals, top organisations and resources, and a series with one entry per period of the range (zeros included). */
export async function computeStats(db: D1Database, request: StatsRequest): Promise<Stats> {
  const coverage = await coverageOf(db, request);
  const key = JSON.stringify([request, coverage, await rawFingerprint(db, new Sources(request, coverage))]);
  const cached = answers.get(key);
  if (cached) {
    answers.delete(key);
    answers.set(key, cached);
    return cached;
  }
  const stats = await aggregateStats(db, request, coverage);
  answers.set(key, stats);
  if (answers.size > MAX_ANSWERS) answers.delete(answers.keys().next().value!);
  return stats;
}

async function aggregateStats(db: D1Database, request: StatsRequest, coverage: Coverage): Promise<Stats> {
  const sources = () => new Sources(request, coverage);
  const seriesGrain = grainFor({ resource: Boolean(request.resourceType || request.resourceId), organisation: Boolean(request.organisation) });
  const organisationGrain = grainFor({ resource: Boolean(request.resourceType || request.resourceId), organisation: true });
  const resourceGrain = grainFor({ resource: true, organisation: Boolean(request.organisation) });

  const byDay = sources();
  const byDaySql = `SELECT day, status, sum(events) AS events, sum(bytes) AS bytes FROM ${byDay.union(
    seriesGrain,
    "day, status, events, bytes",
    "day, status, 1 AS events, bytes",
  )} GROUP BY day, status`;
  const counting = request.userCounting ?? "exact";
  const newCounter = () => new UserCounter(counting === "estimated");
  // Long ranges are ranked from the monthly tier (Sources.keyedSums) where it holds the grain; short ones by grouping the
  // range's rows through the day-first rank indexes.
  const keyed = (source: Sources, grain: Grain) => source.coveredDays >= KEYED_RANKING_MIN_DAYS && (grain === "resource" || grain === "organisation");
  const organisations = sources();
  const organisationsSql = `SELECT organisation, sum(events) AS events FROM ${organisations.union(
    organisationGrain,
    "organisation, events",
    "organisation, 1 AS events",
    {
      rollup: ["organisation <> ''"],
      raw: "organisation <> ''",
      ...(keyed(organisations, organisationGrain) ? { rollupSql: organisations.keyedSums("organisation", ["organisation"], ["organisation <> ''"]) } : {}),
    },
  )} GROUP BY organisation HAVING events > 0 ORDER BY events DESC, organisation LIMIT ${organisations.params.add("limit", request.topOrganisations)}`;
  const resources = sources();
  const resourcesSql = `SELECT resource_type, resource_id, sum(events) AS events FROM ${resources.union(
    resourceGrain,
    "resource_type, resource_id, events",
    "resource_type, resource_id, 1 AS events",
    {
      rollup: ["resource_id <> ''"],
      raw: "resource_id <> ''",
      ...(keyed(resources, resourceGrain) ? { rollupSql: resources.keyedSums("resource", ["resource_type", "resource_id"], ["resource_id <> ''"]) } : {}),
    },
  )} GROUP BY resource_type, resource_id HAVING events > 0 ORDER BY events DESC, resource_type, resource_id LIMIT ${resources.params.add("limit", request.topResources)}`;

  // The split ignores the access-method filter: it shows what the filter keeps and what it leaves out.
  const allMethods = () => new Sources({ ...request, accessMethods: undefined }, coverage);
  const split = allMethods();
  const splitSql = `SELECT access_method, sum(events) AS events FROM ${split.union(seriesGrain, "access_method, events", "access_method, 1 AS events", {
    rollup: ["status = 'success'"],
    raw: "status = 'success'",
  })} GROUP BY access_method`;
  // One read of the day's user sets per access method serves the totals, the series and the split.
  const dayUsers = allMethods();
  const dayUsersSql = userSetsSql(dayUsers, seriesGrain, "day, access_method", [], "true", counting);
  const countriesWanted = (request.topCountries ?? 0) > 0 && !request.resourceType && !request.resourceId && !request.organisation;
  const countries = sources();
  const countriesSql = `SELECT country, sum(events) AS events FROM ${countries.union("country", "country, events", "country, 1 AS events", {
    rollup: ["status = 'success'", "country <> ''"],
    raw: "status = 'success' AND country <> ''",
  })} GROUP BY country ORDER BY events DESC, country LIMIT ${countries.params.add("limit", request.topCountries ?? 0)}`;

  const [dayRows, dayUserRows, organisationRows, resourceRows, splitRows, countryRows] = await db.batch<any>([
    byDay.statement(db, byDaySql),
    dayUsers.statement(db, dayUsersSql),
    organisations.statement(db, organisationsSql),
    resources.statement(db, resourcesSql),
    split.statement(db, splitSql),
    ...(countriesWanted ? [countries.statement(db, countriesSql)] : []),
  ]);
  const topCountries = countriesWanted ? (countryRows!.results as { country: string; events: number }[]) : [];
  const topOrganisations = organisationRows!.results as { organisation: string; events: number }[];
  const topResources = resourceRows!.results as { resource_type: string; resource_id: string; events: number }[];

  const organisationUsers = new Map(topOrganisations.map((row) => [row.organisation, newCounter()]));
  const resourceKey = (type: string, id: string) => JSON.stringify([type, id]);
  const resourceUsers = new Map(topResources.map((row) => [resourceKey(row.resource_type, row.resource_id), newCounter()]));
  const followUps: D1PreparedStatement[] = [];
  if (topOrganisations.length > 0) {
    const users = sources();
    const list = users.params.add("top", JSON.stringify(topOrganisations.map((row) => row.organisation)));
    const inList = `organisation IN (SELECT value FROM json_each(${list}))`;
    followUps.push(users.statement(db, userSetsSql(users, organisationGrain, "organisation", [inList], inList, counting)));
  }
  if (topResources.length > 0) {
    const users = sources();
    const list = users.params.add("top", JSON.stringify(topResources.map((row) => [row.resource_type, row.resource_id])));
    const inList = `(resource_type, resource_id) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(${list}))`;
    followUps.push(users.statement(db, userSetsSql(users, resourceGrain, "resource_type, resource_id", [inList], inList, counting)));
    const labels = sources();
    const labelList = labels.params.add("top", JSON.stringify(topResources.map((row) => [row.resource_type, row.resource_id])));
    const labelInList = `(resource_type, resource_id) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(${labelList}))`;
    followUps.push(
      labels.statement(
        db,
        `SELECT resource_type, resource_id, max(doi) AS doi, max(title) AS title FROM ${labels.union(
          resourceGrain,
          "resource_type, resource_id, doi, title",
          "resource_type, resource_id, doi, title",
          { rollup: [labelInList], raw: labelInList },
        )} GROUP BY resource_type, resource_id`,
      ),
    );
  }
  const countryUsers = new Map(topCountries.map((row) => [row.country, newCounter()]));
  if (topCountries.length > 0) {
    const users = sources();
    const inList = `country IN (SELECT value FROM json_each(${users.params.add("top", JSON.stringify(topCountries.map((row) => row.country)))}))`;
    followUps.push(users.statement(db, userSetsSql(users, "country", "country", [inList], inList, counting)));
  }
  const followUpResults = followUps.length > 0 ? await db.batch<any>(followUps) : [];
  let next = 0;
  if (topOrganisations.length > 0)
    for (const row of followUpResults[next++]!.results as ({ organisation: string } & UserSetRow)[]) countInto([organisationUsers.get(row.organisation)!], row);
  const resourceLabels = new Map<string, { doi: string | null; title: string | null }>();
  if (topResources.length > 0) {
    for (const row of followUpResults[next++]!.results as ({ resource_type: string; resource_id: string } & UserSetRow)[])
      countInto([resourceUsers.get(resourceKey(row.resource_type, row.resource_id))!], row);
    for (const row of followUpResults[next++]!.results as { resource_type: string; resource_id: string; doi: string | null; title: string | null }[])
      resourceLabels.set(resourceKey(row.resource_type, row.resource_id), { doi: row.doi, title: row.title });
  }
  if (topCountries.length > 0)
    for (const row of followUpResults[next++]!.results as ({ country: string } & UserSetRow)[]) countInto([countryUsers.get(row.country)!], row);
  const accessSplit: AccessSplit = { regular: { successful: 0, unique_users: 0 }, machine: { successful: 0, unique_users: 0 }, robot: { successful: 0, unique_users: 0 } };
  const splitCounters = new Map(Object.keys(accessSplit).map((method) => [method, newCounter()]));
  for (const row of splitRows!.results as { access_method: keyof AccessSplit; events: number }[])
    if (accessSplit[row.access_method]) accessSplit[row.access_method].successful = row.events;

  const series = new Map(
    periodsOf(request.interval, request.from, request.to).map((period) => [
      period,
      { period, successful: 0, failed: 0, bytes: 0, users: newCounter() },
    ]),
  );
  const entryOf = (day: number) => series.get(periodLabel(request.interval, day))!;
  for (const row of dayRows!.results as { day: number; status: string; events: number; bytes: number }[]) {
    const entry = entryOf(row.day);
    if (row.status === "success") {
      entry.successful += row.events;
      entry.bytes += row.bytes;
    } else entry.failed += row.events;
  }
  const totalUsers = newCounter();
  const counted = new Set(request.accessMethods ?? Object.keys(accessSplit));
  for (const row of dayUserRows!.results as ({ day: number; access_method: string } & UserSetRow)[]) {
    const split = splitCounters.get(row.access_method);
    const counters = counted.has(row.access_method) ? [totalUsers, entryOf(row.day).users] : [];
    countInto(split ? [...counters, split] : counters, row);
  }
  for (const [method, counter] of splitCounters) accessSplit[method as keyof AccessSplit].unique_users = counter.count();

  const entries = [...series.values()];
  const successful = entries.reduce((sum, entry) => sum + entry.successful, 0);
  const failed = entries.reduce((sum, entry) => sum + entry.failed, 0);
  const counters = [
    totalUsers, ...entries.map((entry) => entry.users), ...organisationUsers.values(), ...resourceUsers.values(), ...countryUsers.values(),
    ...splitCounters.values(),
  ];
  return {
    from: new Date(request.from).toISOString(),
    to: new Date(request.to).toISOString(),
    interval: request.interval,
    unique_users_estimated: counters.some((counter) => counter.estimated),
    totals: {
      events: successful + failed,
      successful,
      failed,
      success_rate: rate(successful, successful + failed),
      unique_users: totalUsers.count(),
      bytes: entries.reduce((sum, entry) => sum + entry.bytes, 0),
    },
    top_organisations: topOrganisations.map((row) => ({
      organisation: row.organisation,
      events: row.events,
      unique_users: organisationUsers.get(row.organisation)!.count(),
    })),
    top_resources: topResources.map((row) => ({
      resource_type: row.resource_type,
      resource_id: row.resource_id,
      doi: resourceLabels.get(resourceKey(row.resource_type, row.resource_id))?.doi ?? null,
      title: resourceLabels.get(resourceKey(row.resource_type, row.resource_id))?.title ?? null,
      events: row.events,
      unique_users: resourceUsers.get(resourceKey(row.resource_type, row.resource_id))!.count(),
    })),
    series: entries.map(({ users, ...entry }) => ({ ...entry, unique_users: users.count() })),
    access_split: accessSplit,
    countries: countriesWanted
      ? topCountries.map((row) => ({ country: row.country, successful: row.events, unique_users: countryUsers.get(row.country)!.count() }))
      : null,
  };
}

export interface ResourceStats {
  resource_type: string;
  resource_id: string;
  events: number;
  unique_users: number;
  unique_users_estimated: boolean;
  bytes: number;
  first_at: string | null;
  last_at: string | null;
}

/** Counted events, unique users, bytes and first/last occurrence of one resource within the scope (all time by default). */
export async function computeResourceStats(
  db: D1Database,
  scope: StatsScope & { resourceType: string; resourceId: string },
  counting: UserCounting = "exact",
): Promise<ResourceStats> {
  const coverage = await coverageOf(db, scope);
  const totals = new Sources(scope, coverage);
  const totalsSql = `SELECT coalesce(sum(events), 0) AS events, coalesce(sum(CASE WHEN status = 'success' THEN bytes ELSE 0 END), 0) AS bytes,
    min(first_at) AS first_at, max(last_at) AS last_at
    FROM ${totals.union("resource", "status, events, bytes, first_at, last_at", "status, 1 AS events, bytes, occurred_at AS first_at, occurred_at AS last_at")}`;
  const users = new Sources(scope, coverage);
  const usersSql = userSetsSql(users, "resource", "resource_type, resource_id", [], "true", counting);
  const [totalRows, userRows] = await db.batch<any>([totals.statement(db, totalsSql), users.statement(db, usersSql)]);
  const row = totalRows!.results[0] as { events: number; bytes: number; first_at: number | null; last_at: number | null };
  const counter = new UserCounter(counting === "estimated");
  for (const userRow of userRows!.results as UserSetRow[]) countInto([counter], userRow);
  return {
    resource_type: scope.resourceType,
    resource_id: scope.resourceId,
    events: row.events,
    unique_users: counter.count(),
    unique_users_estimated: counter.estimated,
    bytes: row.bytes,
    first_at: row.first_at === null ? null : new Date(row.first_at).toISOString(),
    last_at: row.last_at === null ? null : new Date(row.last_at).toISOString(),
  };
}

export interface UserStats {
  events: number;
  resources: number;
  bytes: number;
  last_at: string | null;
}

/**
 * Counted events of one person (by email or actor id), from raw rows only: rollups keep no per-person data, so this covers
 * the retention window.
 */
export async function computeUserStats(
  db: D1Database,
  piiKey: string,
  person: { email?: string; actorId?: string },
  actions: string[] | null,
): Promise<UserStats> {
  const params = new Parameters();
  // An actor_id is found by the key it hashes to (no actor_id index); the row naming it must still exist (erasure).
  const actor = person.email
    ? `email = ${params.add("email", normaliseEmail(person.email))}`
    : `actor_key = ${params.add("actorKey", await actorKeyFor(piiKey, { id: person.actorId }))} AND actor_id = ${params.add("actorId", person.actorId)}`;
  const actionCondition = actions ? `AND action IN (SELECT value FROM json_each(${params.add("actions", JSON.stringify(actions))}))` : "";
  const row = await preparedWithinLimits(
    db,
    `SELECT count(*) AS events,
       count(DISTINCT CASE WHEN resource_id IS NOT NULL THEN coalesce(resource_type, '') || char(31) || resource_id END) AS resources,
       coalesce(sum(CASE WHEN status = 'success' THEN coalesce(bytes, 0) ELSE 0 END), 0) AS bytes, max(occurred_at) AS last_at
     FROM events
     WHERE id IN ${eventIdsOfActorsSql(`SELECT actor_key FROM actors WHERE ${actor}`)}
       AND duplicate_of IS NULL AND status IN ('success', 'failure') ${actionCondition}`,
    params.values,
  ).first<{ events: number; resources: number; bytes: number; last_at: number | null }>();
  return {
    events: row?.events ?? 0,
    resources: row?.resources ?? 0,
    bytes: row?.bytes ?? 0,
    last_at: row?.last_at == null ? null : new Date(row.last_at).toISOString(),
  };
}

/** Counted events per action and status in [from, to), every action included: what a report lists as "actions seen". */
export async function actionCounts(db: D1Database, from: number, to: number): Promise<{ action: string; successful: number; failed: number }[]> {
  const scope: StatsScope = { from, to, actions: null };
  const sources = new Sources(scope, await coverageOf(db, scope));
  const { results } = await sources
    .statement(
      db,
      `SELECT action, sum(CASE WHEN status = 'success' THEN events ELSE 0 END) AS successful,
         sum(CASE WHEN status = 'failure' THEN events ELSE 0 END) AS failed
       FROM ${sources.union("all", "action, status, events", "action, status, 1 AS events")} GROUP BY action ORDER BY successful + failed DESC, action`,
    )
    .all<{ action: string; successful: number; failed: number }>();
  return results;
}
