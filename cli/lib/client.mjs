// HTTP client of the CLI: base URL and API key from flags or DOWNLOAD_AUDIT_URL / DOWNLOAD_AUDIT_KEY, and the service's
// JSON errors turned into CliError (its message, never a stack trace) with the CLI's documented exit codes.

/** Exit codes scripts can rely on (docs/tools.md). */
export const EXIT = {
  ok: 0,
  /** The service answered with an error (4xx/5xx). */
  service: 1,
  /** Bad arguments or missing configuration. */
  usage: 2,
  /** The service could not be reached. */
  unreachable: 3,
  /** Finished, but some lines or files were rejected (import: invalid lines). */
  partial: 4,
  /** verify: the ledger does not match its seals. */
  verificationFailed: 5,
};

export class CliError extends Error {
  constructor(message, exitCode, details) {
    super(message);
    this.exitCode = exitCode;
    this.details = details;
  }
}

export function connection(options) {
  const url = options.url ?? process.env.DOWNLOAD_AUDIT_URL;
  const key = options.key ?? process.env.DOWNLOAD_AUDIT_KEY;
  if (!url) throw new CliError("No service URL: pass --url or set DOWNLOAD_AUDIT_URL", EXIT.usage);
  if (!/^https?:\/\//.test(url)) throw new CliError(`The service URL must start with http:// or https:// (got ${url})`, EXIT.usage);
  if (!key) throw new CliError("No API key: pass --key or set DOWNLOAD_AUDIT_KEY", EXIT.usage);
  return { url: url.replace(/\/+$/, ""), key };
}

/** The query string of the defined values, in order. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== false) search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * Sends a request; a non-2xx answer becomes a CliError carrying the service's message and request id.
 * @param {{ url: string, key: string }} conn
 * @param {string} method
 * @param {string} path
 * @param {{ body?: any, contentType?: string, accept?: string }} [options] body: a JSON value, or raw BodyInit when contentType is given
 */
export async function request(conn, method, path, { body, contentType, accept } = {}) {
  const headers = { authorization: `Bearer ${conn.key}` };
  if (body !== undefined) headers["content-type"] = contentType ?? "application/json";
  if (accept) headers.accept = accept;
  let response;
  try {
    response = await fetch(`${conn.url}${path}`, { method, headers, body: body === undefined ? undefined : contentType ? body : JSON.stringify(body) });
  } catch (error) {
    throw new CliError(`Could not reach ${conn.url}: ${error.cause?.message ?? error.message}`, EXIT.unreachable);
  }
  if (response.ok) return response;
  const text = await response.text();
  let message = `${response.status} ${response.statusText}`;
  let details;
  try {
    const parsed = JSON.parse(text);
    if (parsed?.error?.message) {
      message = `${parsed.error.message} (${parsed.error.code}, HTTP ${response.status}${parsed.error.request_id ? `, request ${parsed.error.request_id}` : ""})`;
      details = parsed.error.details;
    }
  } catch {
    if (text) message += `: ${text.slice(0, 200)}`;
  }
  throw new CliError(message, EXIT.service, details);
}

export async function requestJson(conn, method, path, options) {
  return (await request(conn, method, path, options)).json();
}
