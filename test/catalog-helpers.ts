// Test helpers for the catalog and downloads: records from the fixture samples, file uploads, events of a resource.
import { env } from "cloudflare:workers";
import datacite from "./fixtures/metadata/datacite4-dataset.json";
import iso from "./fixtures/metadata/iso19115-odp.json";
import { call, callJson, flushLedger } from "./helpers";

export const samples = { datacite, iso };

let counter = 0;
/** A record id unique to this test run, so tests never see each other's records or events. */
export const uniqueId = (prefix = "rec") => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

export async function createRecord(id: string, overrides: Record<string, unknown> = {}): Promise<any> {
  const { status, body } = await callJson("PUT", `/v1/records/${id}`, {
    body: { title: `Record ${id}`, schema: "datacite4", metadata: datacite, public: true, ...overrides },
  });
  if (status !== 201 && status !== 200) throw new Error(`record creation failed: ${status} ${JSON.stringify(body)}`);
  return body;
}

export async function uploadFile(recordId: string, name: string, bytes: Uint8Array, contentType = "text/csv"): Promise<any> {
  const response = await call("PUT", `/v1/records/${recordId}/files/${encodeURIComponent(name)}`, { rawBody: bytes, contentType });
  const body = await response.json();
  if (response.status !== 201 && response.status !== 200) throw new Error(`upload failed: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** Deterministic pseudo-random bytes (incompressible enough to make real parts), seeded so reruns match. */
export function bytesOf(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

export async function sha256(bytes: Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export interface StoredEvent {
  id: string;
  action: string;
  status: string;
  resource_type: string | null;
  resource_id: string | null;
  doi: string | null;
  bytes: number | null;
  message: string | null;
  meta: string | null;
  actor_key: string | null;
}

/** Every ledger row about a resource (after flushing the staged events). */
export async function eventsFor(resourceId: string): Promise<StoredEvent[]> {
  await flushLedger();
  const { results } = await env.DB.prepare("SELECT * FROM events WHERE resource_id = ? ORDER BY received_at, id").bind(resourceId).all<StoredEvent>();
  return results;
}

export async function createLink(body: Record<string, unknown>, key?: string): Promise<string> {
  const { status, body: link } = await callJson("POST", "/v1/download-links", { body, key });
  if (status !== 201) throw new Error(`link creation failed: ${status} ${JSON.stringify(link)}`);
  return new URL(link.url).pathname;
}
