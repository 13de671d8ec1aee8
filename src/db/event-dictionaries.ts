// Resolves `event_strings` and `event_resources` ids in the Worker for bulk readers (exports), from caches bounded in size.
//
// Decoding every row through the `events` view costs D1 four string look-ups and a resource join per row, and repeats
// the same user agent or title in every row it sends. A reader that selects the stored ids instead
// (eventsWithStoredIdsSql) resolves them here: each id is fetched once per reader and then read from memory (again only
// after the bounded cache has forgotten it). The dictionaries are append-only, so a cached entry cannot go stale.
import { RESOURCE_COLUMNS } from "./event-storage";
import { jsonPage } from "./json-pages";

export type StoredResource = Record<(typeof RESOURCE_COLUMNS)[number], string | null>;

/** Characters of cached values (plus a per-entry overhead) kept per dictionary: about 4 MB of strings at most. */
const MAX_CACHED_CHARS = 2_000_000;
const ENTRY_OVERHEAD_CHARS = 32;

/** A map that forgets its oldest entries once its values exceed a character budget. */
class BoundedCache<V> {
  private readonly entries = new Map<number, V>();
  private chars = 0;

  constructor(
    private readonly size: (value: V) => number,
    private readonly maxChars: number,
  ) {}

  get(id: number): V | undefined {
    return this.entries.get(id);
  }

  has(id: number): boolean {
    return this.entries.has(id);
  }

  set(id: number, value: V): void {
    if (this.entries.has(id)) return;
    this.entries.set(id, value);
    this.chars += this.size(value) + ENTRY_OVERHEAD_CHARS;
  }

  /** Drops the oldest entries until the budget holds (a page's ids are read before this runs). */
  trim(): void {
    for (const [id, value] of this.entries) {
      if (this.chars <= this.maxChars) break;
      this.entries.delete(id);
      this.chars -= this.size(value) + ENTRY_OVERHEAD_CHARS;
    }
  }
}

/** Only integers can be dictionary ids; any other stored value matches no entry, as the view's look-up finds none. */
const isId = (value: unknown): value is number => Number.isSafeInteger(value);

export class EventDictionaries {
  private readonly strings: BoundedCache<string | null>;
  private readonly resources: BoundedCache<StoredResource | null>;

  /** `maxCachedChars` bounds each cache (tests pass 0: every page looks its ids up again). */
  constructor(
    private readonly db: D1Database,
    maxCachedChars = MAX_CACHED_CHARS,
  ) {
    this.strings = new BoundedCache((value) => value?.length ?? 0, maxCachedChars);
    this.resources = new BoundedCache((resource) => RESOURCE_COLUMNS.reduce((sum, column) => sum + (resource?.[column]?.length ?? 0), 0), maxCachedChars);
  }

  /**
   * Fetches the strings and resources among the given ids that are not cached yet: one statement per dictionary (both
   * at once), more only when an answer would pass ~1.5 MB. D1 counts statements per invocation (1,000 on Workers Paid),
   * so a page usually costs three at most (its own and one per dictionary), however many new ids it meets.
   */
  async load(stringIds: Iterable<unknown>, resourceIds: Iterable<unknown>): Promise<void> {
    const missing = (ids: Iterable<unknown>, cache: { has(id: number): boolean }) => {
      const wanted = new Set<number>();
      for (const id of ids) if (isId(id) && !cache.has(id)) wanted.add(id);
      return [...wanted].sort((a, b) => a - b);
    };
    await Promise.all([
      this.fetch("event_strings", ["value"], missing(stringIds, this.strings), (id, values) => this.strings.set(id, values && (values[0] as string))),
      this.fetch("event_resources", RESOURCE_COLUMNS, missing(resourceIds, this.resources), (id, values) =>
        this.resources.set(
          id,
          values && (Object.fromEntries(RESOURCE_COLUMNS.map((column, position) => [column, (values[position] as string | null) ?? null])) as StoredResource),
        ),
      ),
    ]);
  }

  /**
   * Reads the rows of `ids` (ascending) in pages of at most ~1.5 MB of JSON. An id without a row is stored as `null`
   * (only SQL written by hand can leave one), so it is not asked for again.
   */
  private async fetch(table: string, columns: readonly string[], ids: number[], store: (id: number, values: unknown[] | null) => void): Promise<void> {
    let remaining = ids;
    while (remaining.length > 0) {
      const page = await jsonPage(
        this.db,
        `SELECT id, ${columns.join(", ")} FROM ${table} WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`,
        [JSON.stringify(remaining)],
        ["id", ...columns],
        ["id"],
      );
      const found = new Map(page.map(([id, ...values]) => [id as number, values]));
      const last = page.length === 0 ? Infinity : (page.at(-1)![0] as number);
      for (const id of remaining) if (id <= last) store(id, found.get(id) ?? null);
      remaining = remaining.filter((id) => id > last);
    }
  }

  /** The string of a stored id, or null for NULL or an id the dictionary does not hold (as the view reads it). */
  string(id: unknown): string | null {
    return isId(id) ? (this.strings.get(id) ?? null) : null;
  }

  /** The resource of a stored id, or null (every resource column NULL, as the view's left join reads it). */
  resource(id: unknown): StoredResource | null {
    return isId(id) ? (this.resources.get(id) ?? null) : null;
  }

  /** Forgets the oldest entries beyond the budget; call after the page that needed them is decoded. */
  trim(): void {
    this.strings.trim();
    this.resources.trim();
  }
}
