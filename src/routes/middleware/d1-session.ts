// One D1 session per request (the Sessions API): reads may be answered by a nearby read replica, and a client that sends
// back the `X-D1-Bookmark` of an earlier answer reads at least everything that answer had written.
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../app-env";
import { ApiError } from "../../lib/errors";

export const BOOKMARK_HEADER = "X-D1-Bookmark";

/** D1 bookmarks as D1 writes them (the same form as Time Travel's): four hex fields, 8-8-8-32 digits. */
const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

/**
 * The session as the `D1Database` the core functions take, opened by `open` on its first query (a request that never
 * touches D1 opens none). The core functions only prepare and batch on a request's path (a session has no `exec`, `dump`
 * or nested sessions), so those three say so instead of reaching the primary behind the session's back.
 */
function sessionDatabase(open: () => D1DatabaseSession): D1Database {
  const unsupported = (what: string) => () => {
    throw new Error(`${what} is not available on a request's D1 session; use prepare/batch`);
  };
  return {
    prepare: (query: string) => open().prepare(query),
    batch: <T>(statements: D1PreparedStatement[]) => open().batch<T>(statements),
    exec: unsupported("exec"),
    dump: unsupported("dump"),
    withSession: unsupported("withSession"),
  };
}

/**
 * Opens the request's session: from the client's bookmark when it sent one (read your writes), else anywhere for reads
 * (`first-unconstrained`: the nearest replica) and at the primary for writing requests (`first-primary`). The answer
 * carries the session's latest bookmark. A bookmark that is not one is a 400 before anything is read.
 */
export const d1Session = createMiddleware<AppEnv>(async (c, next) => {
  const bookmark = c.req.header(BOOKMARK_HEADER);
  if (bookmark !== undefined && !BOOKMARK.test(bookmark))
    throw new ApiError("invalid_request", `${BOOKMARK_HEADER} must be a bookmark this service returned (8-8-8-32 hexadecimal digits)`, {
      details: { header: BOOKMARK_HEADER },
    });
  const readOnly = c.req.method === "GET" || c.req.method === "HEAD";
  let session: D1DatabaseSession | undefined;
  c.set("db", sessionDatabase(() => (session ??= c.env.DB.withSession(bookmark ?? (readOnly ? "first-unconstrained" : "first-primary")))));
  await next();
  const latest = session?.getBookmark();
  if (latest) c.res.headers.set(BOOKMARK_HEADER, latest);
});

/** The Worker's bindings with `DB` as the request's session, for core functions that take the whole environment. */
export const sessionEnv = (c: Context<AppEnv>): Env => ({ ...c.env, DB: c.var.db });
