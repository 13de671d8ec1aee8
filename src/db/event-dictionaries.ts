// Resolves `event_strings` and `event_resources` ids in the Worker for bulk readers (exports), from caches bounded in size.
//
// Decoding every row through the `events` view costs D1 four string look-ups and a resource join per row, and repeats
// the same user agent or title in every row it sends. A reader that selects the stored ids instead
// (eventsWithStoredIdsSql) resolves them here: each id is fetched once per reader and then read from memory.
import { RESOURCE_COLUMNS } from "./event-storage";
import { preparedWithinLimits } from "./limits";

export type StoredResource = Record<(typeof RESOURCE_COLUMNS)[number], string | null>;

/** Characters of cached values (plus a per-entry overhead) kept per dictionary: about 4 MB of strings at most. */
const MAX_CACHED_CHARS = 2_000_000;
const ENTRY_OVERHEAD_CHARS = 32;
/**
 * Ids per look-up statement: a string is at most a 1,024-character user agent and a resource about 2,600 characters,
 * so one statement's JSON answer stays far below D1's 2 MB value limit even at 3 UTF-8 bytes per character.
 */
const STRINGS_PER_STATEMENT = 200;
const RESOURCES_PER_STATEMENT = 100;

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

function chunks(ids: number[], size: number): string[] {
  const parts: string[] = [];
  for (let start = 0; start < ids.length; start += size) parts.push(JSON.stringify(ids.slice(start, start + size)));
  return parts;
}

export class EventDictionaries {
  private readonly strings: BoundedCache<string>;
  private readonly resources: BoundedCache<StoredResource>;

  /** `maxCachedChars` bounds each cache (tests pass 0: every page looks its ids up again). */
  constructor(
    private readonly db: D1Database,
    maxCachedChars = MAX_CACHED_CHARS,
  ) {
    this.strings = new BoundedCache((value) => value.length, maxCachedChars);
    this.resources = new BoundedCache((resource) => RESOURCE_COLUMNS.reduce((sum, column) => sum + (resource[column]?.length ?? 0), 0), maxCachedChars);
  }

  /** Fetches the strings and resources among the given ids that are not cached yet, in one round trip. */
  async load(stringIds: Iterable<unknown>, resourceIds: Iterable<unknown>): Promise<void> {
    const missing = (ids: Iterable<unknown>, cache: { has(id: number): boolean }) => {
      const wanted = new Set<number>();
      for (const id of ids) if (isId(id) && !cache.has(id)) wanted.add(id);
      return [...wanted];
    };
    const strings = chunks(missing(stringIds, this.strings), STRINGS_PER_STATEMENT);
    const resources = chunks(missing(resourceIds, this.resources), RESOURCES_PER_STATEMENT);
    if (strings.length + resources.length === 0) return;
    const statements = [
      ...strings.map((ids) =>
        preparedWithinLimits(this.db, "SELECT json_group_array(json_array(id, value)) AS entries FROM event_strings WHERE id IN (SELECT value FROM json_each(?))", [ids]),
      ),
      ...resources.map((ids) =>
        preparedWithinLimits(
          this.db,
          `SELECT json_group_array(json_array(id, ${RESOURCE_COLUMNS.join(", ")})) AS entries FROM event_resources WHERE id IN (SELECT value FROM json_each(?))`,
          [ids],
        ),
      ),
    ];
    const answers = await this.db.batch<{ entries: string }>(statements);
    answers.forEach((answer, index) => {
      const entries = JSON.parse(answer.results[0]?.entries ?? "[]") as [number, ...(string | null)[]][];
      for (const [id, ...values] of entries) {
        if (index < strings.length) this.strings.set(id, values[0] as string);
        else this.resources.set(id, Object.fromEntries(RESOURCE_COLUMNS.map((column, position) => [column, values[position] ?? null])) as StoredResource);
      }
    });
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
