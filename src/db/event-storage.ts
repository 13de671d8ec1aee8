// How a ledger row is stored compactly in `event_rows` and read back through the `events` view, byte for byte as written.
//
// Readers see the logical columns (the `events` view of migration 0012), bulk readers the same plus the stored dictionary
// ids (eventsWithStoredIdsSql, resolved by event-dictionaries.ts); this module is the one place that knows the physical
// encoding. Every encoding is lossless and type-preserving, so the canonical bytes that seals cover
// are the same before and after the migration:
// - a resource (type, id, DOI, title, file) becomes one id into the `event_resources` dictionary; other repeated strings
//   (action, organisation, user agent, key id) become ids into the `event_strings` dictionary;
// - lowercase hex pseudonyms (HMACs: actor_key, user_key, ip_hash, session_id) and content hashes become BLOBs of half
//   the size, lowercase canonical UUIDs in client_id become 16-byte BLOBs; any other value is kept as it is;
// - status and access_method become small integers (SQLite stores 0 and 1 in no bytes); other text is kept;
// - user_key equal to actor_key (every event with a known actor) is stored as integer 0;
// - an IPv4 /24 prefix written by the service ("a.b.c.0") is stored as the integer a·2^16 + b·2^8 + c (storedValue).
// `id` stays TEXT: seal leaves are ordered by (received_at, id) over the text, and legacy non-UUID ids sort among UUIDs.

/** Columns of `events` that are ids into `event_strings`. */
export const DICTIONARY_COLUMNS = ["action", "organisation", "user_agent", "key_id"] as const;

/** Columns of `events` that `event_resources` holds, as one tuple per distinct resource; `event_rows.resource` is its id. */
export const RESOURCE_COLUMNS = ["resource_type", "resource_id", "doi", "title", "file"] as const;
type ResourceColumn = (typeof RESOURCE_COLUMNS)[number];

type Encoding = "plain" | "dictionary" | "resource" | "hex" | "uuid" | "status" | "access_method" | "user_key" | "ipv4_prefix";

/** The physical encoding of each logical column, in the view's (and canonical encoding's) column order. */
export const COLUMN_ENCODINGS = {
  id: "plain",
  occurred_at: "plain",
  received_at: "plain",
  action: "dictionary",
  status: "status",
  resource_type: "resource",
  resource_id: "resource",
  doi: "resource",
  title: "resource",
  actor_key: "hex",
  user_key: "user_key",
  organisation: "dictionary",
  ip_prefix: "ipv4_prefix",
  ip_hash: "hex",
  user_agent: "dictionary",
  bytes: "plain",
  message: "plain",
  meta: "plain",
  duplicate_of: "plain",
  key_id: "dictionary",
  client_id: "uuid",
  content_hash: "hex",
  denied_count: "plain",
  access_method: "access_method",
  country: "plain",
  file: "resource",
  session_id: "hex",
} as const satisfies Record<string, Encoding>;

export type EventColumn = keyof typeof COLUMN_ENCODINGS;
export const EVENT_COLUMNS = Object.keys(COLUMN_ENCODINGS) as EventColumn[];

/** Columns of `event_rows`: the logical ones, with the five resource columns replaced by `resource`. */
export type PhysicalColumn = Exclude<EventColumn, ResourceColumn> | "resource";
export const PHYSICAL_COLUMNS = EVENT_COLUMNS.flatMap((column): PhysicalColumn[] =>
  column === "resource_type" ? ["resource"] : (RESOURCE_COLUMNS as readonly string[]).includes(column) ? [] : [column as PhysicalColumn],
);

const STATUS_CODES = { success: 1, failure: 0, denied: 2 } as const;
const ACCESS_METHOD_CODES = { regular: 1, robot: 0, machine: 2 } as const;

const codeCase = (input: string, codes: Record<string, number>) =>
  `CASE ${input} ${Object.entries(codes).map(([text, code]) => `WHEN '${text}' THEN ${code}`).join(" ")} ELSE ${input} END`;
const textCase = (stored: string, codes: Record<string, number>) =>
  `CASE ${stored} ${Object.entries(codes).map(([text, code]) => `WHEN ${code} THEN '${text}'`).join(" ")} ELSE ${stored} END`;

const hexToBlob = (input: string) =>
  `CASE WHEN typeof(${input}) = 'text' AND length(${input}) IN (32, 64) AND NOT ${input} GLOB '*[^0-9a-f]*' THEN unhex(${input}) ELSE ${input} END`;
const blobToHex = (stored: string) => `CASE WHEN typeof(${stored}) = 'blob' THEN lower(hex(${stored})) ELSE ${stored} END`;

const uuidToBlob = (input: string) =>
  `CASE WHEN typeof(${input}) = 'text' AND ${input} GLOB '????????-????-????-????-????????????' AND NOT replace(${input}, '-', '') GLOB '*[^0-9a-f]*' THEN unhex(replace(${input}, '-', '')) ELSE ${input} END`;
const blobToUuid = (stored: string) =>
  `CASE WHEN typeof(${stored}) = 'blob' THEN lower(substr(hex(${stored}), 1, 8) || '-' || substr(hex(${stored}), 9, 4) || '-' || substr(hex(${stored}), 13, 4) || '-' || substr(hex(${stored}), 17, 4) || '-' || substr(hex(${stored}), 21)) ELSE ${stored} END`;

/** The stored form of the actor key in SQL expression `input`, to compare with `event_rows.actor_key` (its index). */
export const storedActorKeySql = (input: string) => hexToBlob(input);

/**
 * The ids of the events whose actor key is among those `keysSql` (a SELECT of one text column) returns, found through
 * event_rows_actor: the view's decoded `actor_key` cannot reach that index itself.
 */
export const eventIdsOfActorsSql = (keysSql: string) =>
  `(SELECT id FROM event_rows WHERE actor_key IS NOT NULL AND actor_key IN (SELECT ${storedActorKeySql("keys.actor_key")} FROM (${keysSql}) AS keys))`;

/**
 * The SQL expression that stores logical column `column`, given the SQL expression of each logical input value.
 * `coerceText` is for inputs of any type (SQL written by hand): the old table's TEXT affinity turned numbers into text,
 * and the BLOB-affinity physical columns do the same with it. The service's inputs are already text.
 */
export function encodeSql(column: PhysicalColumn, input: (column: EventColumn) => string, { coerceText = false } = {}): string {
  const text = (value: string) => (coerceText ? `CASE WHEN typeof(${value}) IN ('integer', 'real') THEN CAST(${value} AS TEXT) ELSE ${value} END` : value);
  if (column === "resource") return `(SELECT id FROM event_resources WHERE ${resourceMatch((resourceColumn) => text(input(resourceColumn)))})`;
  const value = input(column);
  const asText = text(value);
  switch (COLUMN_ENCODINGS[column]) {
    case "plain":
      return value;
    case "dictionary":
      return `(SELECT id FROM event_strings WHERE value = ${value})`;
    case "hex":
      return hexToBlob(asText);
    case "uuid":
      return uuidToBlob(asText);
    case "status":
      return codeCase(asText, STATUS_CODES);
    case "access_method":
      return codeCase(asText, ACCESS_METHOD_CODES);
    case "user_key": {
      const actorKey = input("actor_key");
      return `CASE WHEN ${value} = ${actorKey} THEN 0 ELSE ${hexToBlob(asText)} END`;
    }
    case "ipv4_prefix":
      // The integer form comes from storedValue (parsing dotted text is no job for SQL); text is kept as written.
      return asText;
  }
}

/**
 * The tuple of `event_resources` equal to the given values, NULL matching NULL: the expressions of its unique index
 * `event_resources_key` (migration 0012), where NULL is integer 0, which no text value equals.
 */
const resourceMatch = (input: (column: ResourceColumn) => string) =>
  RESOURCE_COLUMNS.map((column) => `coalesce(${column}, 0) = coalesce(${input(column)}, 0)`).join(" AND ");

const IPV4_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const IPV4_PREFIX = new RegExp(`^${IPV4_OCTET}\\.${IPV4_OCTET}\\.${IPV4_OCTET}\\.0$`);

/**
 * The value of `column` as the service hands it to the insert statement: the logical value, except an IPv4 /24 prefix
 * in canonical dotted form, which becomes its integer (decodeSql spells it back, digit for digit).
 */
export function storedValue(column: EventColumn, value: string | number | null): string | number | null {
  if (column !== "ip_prefix" || typeof value !== "string") return value;
  const octets = IPV4_PREFIX.exec(value);
  return octets ? Number(octets[1]) * 65_536 + Number(octets[2]) * 256 + Number(octets[3]) : value;
}

/**
 * The SQL expression of logical column `column` read from `event_rows` AS `r`. A string is a correlated sub-select, so a
 * query that does not read it (a count, say) never looks it up; the resource is one left join for its five columns.
 */
function decodeSql(column: EventColumn): string {
  const stored = `r.${column}`;
  switch (COLUMN_ENCODINGS[column]) {
    case "plain":
      return stored;
    case "dictionary":
      return `(SELECT value FROM event_strings WHERE id = ${stored})`;
    case "resource":
      return `resources.${column}`;
    case "hex":
      return blobToHex(stored);
    case "uuid":
      return blobToUuid(stored);
    case "status":
      return textCase(stored, STATUS_CODES);
    case "access_method":
      return textCase(stored, ACCESS_METHOD_CODES);
    case "user_key":
      return `CASE WHEN typeof(${stored}) = 'integer' THEN ${blobToHex("r.actor_key")} ELSE ${blobToHex(stored)} END`;
    case "ipv4_prefix":
      return `CASE WHEN typeof(${stored}) = 'integer' THEN (${stored} >> 16) || '.' || ((${stored} >> 8) & 255) || '.' || (${stored} & 255) || '.0' ELSE ${stored} END`;
  }
}

/** The `events` view: the 27 logical columns of every stored row. */
export function eventsViewSql(): string {
  const columns = EVENT_COLUMNS.map((column) => `${decodeSql(column)} AS ${column}`).join(",\n  ");
  return `CREATE VIEW events AS SELECT\n  ${columns}\nFROM event_rows AS r\nLEFT JOIN event_resources AS resources ON resources.id = r.resource`;
}

/** Columns of `eventsWithStoredIdsSql` holding a dictionary id: `stored_<column>` for each string, `stored_resource`. */
export const STORED_ID_COLUMNS = [...DICTIONARY_COLUMNS.map((column) => `stored_${column}` as const), "stored_resource"] as const;

/**
 * The `events` view's SELECT with the stored dictionary ids beside the 27 logical columns, for bulk readers that resolve
 * strings and resources themselves (exports, through EventDictionaries): a reader selects `stored_*` instead of the
 * decoded columns and filters on the logical ones as on the view. SQLite flattens it into the outer query, so a decoded
 * column that the outer query does not name is never computed.
 */
export function eventsWithStoredIdsSql(): string {
  const columns = [
    ...EVENT_COLUMNS.map((column) => `${decodeSql(column)} AS ${column}`),
    ...DICTIONARY_COLUMNS.map((column) => `r.${column} AS stored_${column}`),
    "r.resource AS stored_resource",
  ];
  return `SELECT ${columns.join(", ")} FROM event_rows AS r LEFT JOIN event_resources AS resources ON resources.id = r.resource`;
}

/** A statement adding the strings among `values` (SQL expressions) that the dictionary does not hold yet. */
function dictionaryInsertSql(values: string[]): string {
  return `INSERT OR IGNORE INTO event_strings (value) SELECT value FROM json_each(json_array(${values.join(", ")})) WHERE value IS NOT NULL`;
}

/** A statement adding the resource of `values` (SQL expressions) unless known or all NULL. */
function resourceInsertSql(value: (column: ResourceColumn) => string): string {
  return `INSERT OR IGNORE INTO event_resources (${RESOURCE_COLUMNS.join(", ")}) SELECT ${RESOURCE_COLUMNS.map(value).join(", ")} WHERE coalesce(${RESOURCE_COLUMNS.map(value).join(", ")}) IS NOT NULL`;
}

/**
 * Triggers that keep the `events` view writable for SQL run by hand (operators, tests): the service itself writes
 * `event_rows` directly (src/core/ledger/ingest.ts) and deletes from it (src/core/retention/archive.ts).
 */
export function eventsViewTriggersSql(): string[] {
  const newValue = (column: EventColumn) => (column === "key_id" ? "coalesce(NEW.key_id, 'legacy')" : `NEW.${column}`);
  const newText = (column: EventColumn) => `CASE WHEN typeof(NEW.${column}) IN ('integer', 'real') THEN CAST(NEW.${column} AS TEXT) ELSE NEW.${column} END`;
  const dictionary = `${dictionaryInsertSql(DICTIONARY_COLUMNS.map(newValue))};\n${resourceInsertSql(newText)};`;
  const physical = PHYSICAL_COLUMNS.join(", ");
  const encoded = PHYSICAL_COLUMNS.map((column) => encodeSql(column, newValue, { coerceText: true })).join(", ");
  const assignments = PHYSICAL_COLUMNS.map((column) => `${column} = ${encodeSql(column, newValue, { coerceText: true })}`).join(", ");
  const oldRow = "received_at = OLD.received_at AND id = OLD.id";
  return [
    `CREATE TRIGGER events_insert INSTEAD OF INSERT ON events BEGIN\n${dictionary}\nINSERT INTO event_rows (${physical}) VALUES (${encoded});\nEND`,
    `CREATE TRIGGER events_update INSTEAD OF UPDATE ON events BEGIN\n${dictionary}\nUPDATE event_rows SET ${assignments} WHERE ${oldRow};\nEND`,
    `CREATE TRIGGER events_delete INSTEAD OF DELETE ON events BEGIN\nDELETE FROM event_rows WHERE ${oldRow};\nEND`,
  ];
}
