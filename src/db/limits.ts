// Production D1 limits, enforced in code because local SQLite is far more permissive.
export const D1_LIMITS = {
  maxBoundParameters: 100,
  maxStatementBytes: 100_000,
  /** D1 caps a string/BLOB/row at 2 MB; JSON payload parameters stay well below it. */
  maxParameterBytes: 1_000_000,
  /** Writes touching more rows than this are split into several statements. */
  maxRowsPerStatement: 1_000,
} as const;

const encoder = new TextEncoder();
const NON_ASCII = /[^\x00-\x7f]/;

/** UTF-8 size of `text`; ASCII (nearly every JSON row) is measured without encoding it. */
function utf8Bytes(text: string): number {
  return NON_ASCII.test(text) ? encoder.encode(text).length : text.length;
}

/** Prepares a statement after checking it against D1's production limits; a violation is a programming error. */
export function preparedWithinLimits(db: D1Database, sql: string, params: unknown[] = []): D1PreparedStatement {
  if (params.length > D1_LIMITS.maxBoundParameters)
    throw new Error(`D1 limit: ${params.length} bound parameters (max ${D1_LIMITS.maxBoundParameters})`);
  const sqlBytes = utf8Bytes(sql);
  if (sqlBytes > D1_LIMITS.maxStatementBytes) throw new Error(`D1 limit: statement of ${sqlBytes} bytes (max ${D1_LIMITS.maxStatementBytes})`);
  for (const param of params) {
    if (typeof param === "string" && param.length > D1_LIMITS.maxParameterBytes / 4 && utf8Bytes(param) > D1_LIMITS.maxParameterBytes)
      throw new Error(`D1 limit: parameter over ${D1_LIMITS.maxParameterBytes} bytes`);
  }
  return db.prepare(sql).bind(...params);
}

/**
 * Splits items into chunks whose JSON encodings stay within `maxBytes` and `maxRows`, so that each chunk can travel as a
 * single JSON parameter of one multi-row statement.
 */
export function chunkForJsonParameter<T>(
  items: T[],
  maxRows: number = D1_LIMITS.maxRowsPerStatement,
  maxBytes: number = D1_LIMITS.maxParameterBytes,
): { items: T[]; json: string }[] {
  const chunks: { items: T[]; json: string }[] = [];
  let current: T[] = [];
  let parts: string[] = [];
  let bytes = 2;
  const flush = () => {
    if (current.length === 0) return;
    chunks.push({ items: current, json: `[${parts.join(",")}]` });
    current = [];
    parts = [];
    bytes = 2;
  };
  for (const item of items) {
    const encoded = JSON.stringify(item);
    const size = utf8Bytes(encoded) + 1;
    if (size + 2 > maxBytes) throw new Error(`D1 limit: one row of ${size} bytes exceeds ${maxBytes}`);
    if (current.length >= maxRows || bytes + size > maxBytes) flush();
    current.push(item);
    parts.push(encoded);
    bytes += size;
  }
  flush();
  return chunks;
}
