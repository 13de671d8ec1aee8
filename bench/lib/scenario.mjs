// The scenario contract and the context every scenario receives. One file per scenario in bench/scenarios/ default-exports
// a Scenario; the runner discovers the files, so adding a scenario touches no other file.

/**
 * @typedef {object} Target
 * @property {keyof Figures} metric  Figure the target is about (`ratio` is rps ÷ the baseline's rps in the same run).
 * @property {">=" | "<="} op
 * @property {number} value
 * @property {string} label           As the issue states it, e.g. "≥ 0.5× bare-Hono rps".
 * @property {number} [atEvents]      Size the target is defined at; smaller runs report the verdict with that caveat.
 */

/**
 * @typedef {object} Figures  Absolute figures of one row; omit what does not apply.
 * @property {number} [rps]                Completed requests per second.
 * @property {number} [p50Ms]
 * @property {number} [p99Ms]
 * @property {number} [eventsPerSecond]
 * @property {number} [rowsPerSecond]
 * @property {number} [statementsPerEvent] D1 statements per event, counted from the runtime's D1 spans.
 * @property {number} [bytesPerEvent]      D1 bytes (events table + its indexes) per stored event, from dbstat.
 * @property {number} [rowsWrittenPerEvent] D1 rows written (index entries included) per stored event.
 * @property {number} [peakRssMb]          Peak VmRSS of the workerd process while the load ran.
 * @property {number} [workerdCpuPercent]  CPU the workerd process used meanwhile (100 = one core); all workers share it.
 * @property {number} [ratio]              Filled by the runner from `compareTo`.
 */

/**
 * @typedef {object} Row
 * @property {string} [label]        Defaults to the scenario's name.
 * @property {Figures} figures
 * @property {string[]} [notes]      Facts a reader needs (status mix, sizes, drain times).
 * @property {object} [details]      Anything else, kept in results.json only.
 * @property {"get" | "post"} [compareTo]  Baseline for `ratio` (bare Hono GET /, or POST / with a JSON body).
 * @property {Target[]} [targets]
 */

/**
 * @typedef {object} Scenario
 * @property {string} name           Flag value: `npm run bench -- --scenario <name>`.
 * @property {string} description
 * @property {number} order          Run order (baseline is 0; it always runs first because ratios need it).
 * @property {boolean} [defaultRun]  Included when no --scenario is given (default true).
 * @property {(ctx: Context) => Promise<Row | Row[]>} run
 */

/**
 * @typedef {object} Context
 * @property {{ duration: number, connections: number, warmup: number, full: boolean, events: number }} options
 *   `events` is the seeded-ledger size for read scenarios (100,000 by default, 1,000,000 with --full).
 * @property {{ appUrl: string, baselineUrl: string, workerdPid: number | null }} server
 * @property {ReturnType<import("./workload.mjs").createApi>} api   Admin-key client of the app.
 * @property {{ ingest: string[], read: string[] }} keys           Several keys, so no single key's limiter object is hot.
 * @property {typeof import("./workload.mjs").eventGenerator} events
 * @property {(options: object) => ReturnType<typeof import("./load.mjs").runLoad>} load
 *   runLoad with the run's url/duration/connections/warm-up and workerd pid filled in (each overridable).
 * @property {(resourceType: string) => Promise<number>} countStored  Recorded attempts in D1 with that resource type (a counted refusal row adds its denied_count; harness-side).
 * @property {(resourceType: string, expected: number) => Promise<{ stored: number, expected: number, afterMs: number, complete: boolean, note: string }>} waitForStored
 *   Waits until D1 holds `expected` rows of that resource type: how long acknowledged events take to be flushed.
 * @property {(count: number) => Promise<{ count: number, seconds: number, finishedAt: number }>} ensureSeeded
 *   Makes sure the ledger holds `count` seeded events (resource type "dataset", ids `seed-N`, 90 days of history) in D1,
 *   imported once per run through POST /v1/events/import and shared by every read scenario; `finishedAt` (epoch ms)
 *   is when the last seeded event was stored.
 * @property {<T>(fn: (traced: TracedServer) => Promise<T>) => Promise<T>} traced
 *   Runs `fn` against a separate, freshly started instance whose D1 statements are counted (never time it).
 * @property {{ get?: Figures, post?: Figures }} baseline
 * @property {(message: string) => void} log
 */

/**
 * @typedef {object} TracedServer
 * @property {string} appUrl
 * @property {ReturnType<import("./workload.mjs").createApi>} api
 * @property {string} ingestKey
 * @property {() => Promise<{ calls: number, statements: number, rowsWritten: number }>} d1Totals
 * @property {string} stateDir  Miniflare's state directory of the instance (D1's SQLite files are below it).
 * @property {(resourceType: string) => Promise<number>} countStored
 */

export const SEEDED_RESOURCE_TYPE = "dataset";
