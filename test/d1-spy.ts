// A D1 binding wrapper that records every statement's SQL and bound parameters, to check production D1 limits in tests.
export interface RecordedStatement {
  sql: string;
  params: unknown[];
}

const encoder = new TextEncoder();

export function recordingD1(db: D1Database): { db: D1Database; statements: RecordedStatement[] } {
  const statements: RecordedStatement[] = [];
  const passThrough = <T extends object>(target: T, property: string | symbol) => {
    const value = Reflect.get(target, property);
    return typeof value === "function" ? value.bind(target) : value;
  };
  const recording = new Proxy(db, {
    get(target, property) {
      if (property !== "prepare") return passThrough(target, property);
      return (sql: string) => {
        const statement = target.prepare(sql);
        const record: RecordedStatement = { sql, params: [] };
        statements.push(record);
        let bound = false;
        return new Proxy(statement, {
          get(inner, name) {
            if (name !== "bind") return passThrough(inner, name);
            return (...params: unknown[]) => {
              if (bound) statements.push({ sql, params });
              else record.params = params;
              bound = true;
              return inner.bind(...params);
            };
          },
        });
      };
    },
  });
  return { db: recording, statements };
}

/** The largest SQL text (bytes), bound-parameter count and single parameter (bytes) among recorded statements. */
export function statementMaxima(statements: RecordedStatement[]): { sqlBytes: number; params: number; paramBytes: number } {
  let sqlBytes = 0;
  let params = 0;
  let paramBytes = 0;
  for (const statement of statements) {
    sqlBytes = Math.max(sqlBytes, encoder.encode(statement.sql).length);
    params = Math.max(params, statement.params.length);
    for (const param of statement.params)
      if (typeof param === "string") paramBytes = Math.max(paramBytes, encoder.encode(param).length);
  }
  return { sqlBytes, params, paramBytes };
}
