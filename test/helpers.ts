// Test helpers: call the Worker through its real fetch handler, with keys and JSON bodies.
import { createExecutionContext, listDurableObjectIds, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { app } from "../src/app";

export const ADMIN_KEY = "test-admin-key";

export interface CallOptions {
  key?: string | null;
  body?: unknown;
  rawBody?: BodyInit;
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * Flushes every ledger shard's staged events to D1 now, instead of waiting for its alarm, so that tests can read what
 * was just acknowledged.
 */
export async function flushLedger(): Promise<void> {
  const ids = await listDurableObjectIds(env.LEDGER_SHARD);
  await Promise.all(ids.map((id) => env.LEDGER_SHARD.get(id).flush()));
}

const isIngest = (method: string, path: string) => method === "POST" && /^\/v1\/events(\/batch)?(\?|$)/.test(path);

/** Calls the Worker; except for ingest calls, staged events are flushed first so the call sees all earlier writes. */
export async function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  if (!isIngest(method, path)) await flushLedger();
  return exports.default.fetch(request(method, path, options));
}

/** The request `call` sends: the admin key unless `key` says otherwise, JSON unless `contentType` says otherwise. */
export function request(method: string, path: string, options: CallOptions = {}): Request {
  const headers = new Headers(options.headers);
  const key = options.key === undefined ? ADMIN_KEY : options.key;
  if (key) headers.set("authorization", `Bearer ${key}`);
  let body: BodyInit | undefined = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !headers.has("content-type")) headers.set("content-type", options.contentType ?? "application/json");
  return new Request(`http://localhost${path}`, { method, headers, body });
}

/** Calls the app directly with a modified environment: configuration variations or wrapped bindings. */
export async function callWithEnv(overrides: Record<string, unknown>, method: string, path: string, options: CallOptions = {}): Promise<Response> {
  await flushLedger();
  const context = createExecutionContext();
  const response = await app.fetch(request(method, path, options), { ...env, ...overrides } as Env, context);
  await waitOnExecutionContext(context);
  return response;
}

export async function callJson<T = any>(method: string, path: string, options: CallOptions = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const response = await call(method, path, options);
  return { status: response.status, body: (await response.json()) as T, headers: response.headers };
}

/** Creates a key with the given scopes through the API and returns its secret. */
export async function keyWith(...scopes: string[]): Promise<string> {
  const { status, body } = await callJson("POST", "/v1/keys", { body: { name: `test ${scopes.join("+")}`, scopes } });
  if (status !== 201) throw new Error(`key creation failed: ${status} ${JSON.stringify(body)}`);
  return body.key;
}

export async function countRows(table: string, where = "1 = 1"): Promise<number> {
  await flushLedger();
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).first<{ n: number }>();
  return row!.n;
}

export function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    action: "download",
    resource: { type: "dataset", id: "ds-1", doi: "10.1234/ds.1", title: "Ocean temperatures 2020" },
    actor: { id: "user-1", email: "Ada@Example.org", name: "Ada Lovelace", organisation: "Analytical Engines Ltd" },
    client: { ip: "203.0.113.77", user_agent: "Mozilla/5.0 test" },
    bytes: 1024,
    ...overrides,
  };
}

/** A short unique value, so that tests sharing one database do not see each other's rows. */
export const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

/** Asserts the one error shape: status, code, a message, and a request_id equal to the X-Request-Id header. */
export async function expectError(response: Response, status: number, code: string): Promise<{ code: string; message: string; details?: any; request_id: string }> {
  const body = (await response.json()) as { error: { code: string; message: string; details?: any; request_id: string } };
  if (response.status !== status || body.error?.code !== code)
    throw new Error(`expected ${status} ${code}, got ${response.status} ${JSON.stringify(body)}`);
  if (typeof body.error.message !== "string" || body.error.message === "") throw new Error("error without message");
  if (!body.error.request_id || body.error.request_id !== response.headers.get("x-request-id"))
    throw new Error(`request_id ${body.error.request_id} does not match X-Request-Id ${response.headers.get("x-request-id")}`);
  return body.error;
}
