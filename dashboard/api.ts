// The dashboard's HTTP client: every call carries the signed-in key, and failures become ApiFailure with the API's own message.
const KEY_STORAGE = "download-audit.api-key";
const ADMIN_STORAGE = "download-audit.is-admin";
const ACCESS_STORAGE = "download-audit.access";

/** The scopes beyond `read` that pages depend on, found out at sign-in (an admin key has them all). */
export interface Access {
  admin: boolean;
  ingest: boolean;
  catalog: boolean;
}

/** The key lives in this tab's session storage only: closing the tab signs out. */
export const session = {
  key: (): string | null => sessionStorage.getItem(KEY_STORAGE),
  isAdmin: (): boolean => sessionStorage.getItem(ADMIN_STORAGE) === "true",
  access(): Access {
    const stored = JSON.parse(sessionStorage.getItem(ACCESS_STORAGE) ?? "null") as Partial<Access> | null;
    const admin = session.isAdmin();
    return { admin, ingest: admin || stored?.ingest === true, catalog: admin || stored?.catalog === true };
  },
  save(key: string, access: Access) {
    sessionStorage.setItem(KEY_STORAGE, key);
    sessionStorage.setItem(ADMIN_STORAGE, String(access.admin));
    sessionStorage.setItem(ACCESS_STORAGE, JSON.stringify(access));
  },
  clear() {
    sessionStorage.removeItem(KEY_STORAGE);
    sessionStorage.removeItem(ADMIN_STORAGE);
    sessionStorage.removeItem(ACCESS_STORAGE);
  },
};

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiFailure";
  }

  /** The message followed by per-field problems, when the API listed them. */
  describe(): string {
    if (!Array.isArray(this.details)) return this.message;
    const problems = this.details
      .map((item) => (item && typeof item === "object" && "message" in item ? `${(item as { path?: string }).path ?? ""} ${(item as { message: string }).message}`.trim() : ""))
      .filter(Boolean);
    return problems.length > 0 ? `${this.message}: ${problems.join("; ")}` : this.message;
  }
}

let unauthorizedListener: ((message: string) => void) | undefined;

/** Called when a signed-in key stops working (revoked while the tab was open). */
export function onUnauthorized(listener: (message: string) => void) {
  unauthorizedListener = listener;
}

export type QueryValue = string | number | boolean | null | undefined;

export function queryString(params: Record<string, QueryValue>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function failureFrom(response: Response): Promise<ApiFailure> {
  const body = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string; details?: unknown } } | null;
  return new ApiFailure(
    response.status,
    body?.error?.code ?? "http_error",
    body?.error?.message ?? `The service answered ${response.status} ${response.statusText}`,
    body?.error?.details,
  );
}

/**
 * The newest D1 bookmark an answer carried (`X-D1-Bookmark`), sent with every request so that the dashboard reads its own
 * writes even when a read replica answers (docs/api.md). Bookmarks of one database sort as text, as D1's own sessions
 * compare them.
 */
let newestBookmark: string | null = null;

/** A request with the given key (default: the signed-in one); non-2xx answers throw ApiFailure. */
export async function request(method: string, path: string, options: { body?: unknown; key?: string } = {}): Promise<Response> {
  const key = options.key ?? session.key();
  const headers = new Headers({ accept: "application/json" });
  if (key) headers.set("authorization", `Bearer ${key}`);
  if (options.body !== undefined) headers.set("content-type", "application/json");
  if (newestBookmark) headers.set("x-d1-bookmark", newestBookmark);
  const response = await fetch(path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const bookmark = response.headers.get("x-d1-bookmark");
  if (bookmark && (newestBookmark === null || bookmark > newestBookmark)) newestBookmark = bookmark;
  if (response.ok) return response;
  const failure = await failureFrom(response);
  if (response.status === 401 && options.key === undefined) unauthorizedListener?.(failure.message);
  throw failure;
}

export async function getJson<T>(path: string, params: Record<string, QueryValue> = {}): Promise<T> {
  return (await (await request("GET", `${path}${queryString(params)}`)).json()) as T;
}

export async function sendJson<T>(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<T> {
  const response = await request(method, path, { body });
  const text = await response.text();
  return (text ? JSON.parse(text) : null) as T;
}

/** Fetches a file with the key and hands it to the browser as a download. */
export async function downloadFile(path: string, fallbackName: string): Promise<{ name: string; bytes: number }> {
  const response = await request("GET", path);
  const disposition = response.headers.get("content-disposition") ?? "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { name, bytes: blob.size };
}

export function errorText(error: unknown): string {
  if (error instanceof ApiFailure) return error.describe();
  if (error instanceof TypeError) return "The service could not be reached. Is it running?";
  return error instanceof Error ? error.message : String(error);
}
