import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { EventFilterSchema, EventInputSchema } from "../../../src/core/ledger/event-schema";
import { ingestEvents } from "../../../src/core/ledger/ingest";
import { decodeCursor, encodeCursor, getEvent, listActions, listEvents, listResourceTypes, resolveEventFilter } from "../../../src/core/ledger/query";
import { getConfig } from "../../../src/lib/config";
import { ApiError } from "../../../src/lib/errors";
import { recordingD1 } from "../../d1-spy";
import { unique } from "../../helpers";

const config = getConfig(env);

describe("cursors", () => {
  it("round-trip and are opaque URL-safe text", () => {
    const cursor = encodeCursor({ occurredAt: 1_700_000_000_123, id: "01a2-ü/+" });
    expect(cursor).toMatch(/^[\w-]+$/);
    expect(decodeCursor(cursor)).toEqual({ occurredAt: 1_700_000_000_123, id: "01a2-ü/+" });
  });

  it("reject anything else as invalid_request on the cursor parameter", () => {
    for (const bad of ["", "%%%", btoa("[1]"), btoa('["x","y"]'), btoa("not json")]) {
      let error: unknown;
      try {
        decodeCursor(bad);
      } catch (caught) {
        error = caught;
      }
      expect(error, bad).toBeInstanceOf(ApiError);
      expect((error as ApiError).code).toBe("invalid_request");
      expect((error as ApiError).details).toEqual([{ path: "cursor", message: expect.any(String) }]);
    }
  });
});

describe("listEvents", () => {
  it("hides dedup repeats unless include_duplicates is set", async () => {
    const resourceType = unique("dups");
    const [counted, repeat] = await ingestEvents(
      env.DB,
      config,
      [EventInputSchema.parse({ action: "download", resource: { type: resourceType, id: "1" } }), EventInputSchema.parse({ action: "download", resource: { type: resourceType, id: "1" } })],
      { keyId: "test-key", receivedAt: Date.now() },
    );
    await env.DB.prepare("UPDATE events SET duplicate_of = ? WHERE id = ?").bind(counted!.id, repeat!.id).run();
    const hidden = await listEvents(env.DB, await resolveEventFilter(config.piiKey, EventFilterSchema.parse({ resource_type: resourceType })), 10);
    expect(hidden.data.map((event) => event.id)).toEqual([counted!.id]);
    const shown = await listEvents(env.DB, await resolveEventFilter(config.piiKey, EventFilterSchema.parse({ resource_type: resourceType, include_duplicates: "true" })), 10);
    expect(shown.data.map((event) => event.id).sort()).toEqual([counted!.id, repeat!.id].sort());
    expect(shown.data.find((event) => event.id === repeat!.id)!.duplicate_of).toBe(counted!.id);
  });
});

/** The plan SQLite chooses for the one statement `read` sends. */
async function planOf(read: (db: D1Database) => Promise<unknown>): Promise<string[]> {
  const spy = recordingD1(env.DB);
  await read(spy.db);
  expect(spy.statements).toHaveLength(1);
  const [{ sql, params }] = spy.statements as [{ sql: string; params: unknown[] }];
  const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params).all<{ detail: string }>();
  return plan.results.map((row) => row.detail);
}

/** The plan of the statement `listEvents` sends for `query`. */
async function planFor(query: Record<string, string>, cursor?: string): Promise<string[]> {
  const filter = await resolveEventFilter(config.piiKey, EventFilterSchema.parse(query));
  return planOf((db) => listEvents(db, filter, 100, cursor));
}

describe("query plans of GET /v1/events filters", () => {
  beforeAll(async () => {
    const inputs = Array.from({ length: 500 }, (_, index) =>
      EventInputSchema.parse({
        action: ["download", "metadata.download", "auth.login"][index % 3],
        occurred_at: new Date(Date.UTC(2025, 0, 1) + index * 3_600_000).toISOString(),
        resource: { type: "dataset", id: `ds-${index % 50}`, doi: `10.1234/ds.${index % 50}`, title: `Record ${index % 50}` },
        actor: { id: `plan-user-${index % 40}`, email: `plan${index % 40}@example.org`, organisation: `Org ${index % 7}` },
      }),
    );
    await ingestEvents(env.DB, config, inputs, { keyId: "test-key", receivedAt: Date.now() });
  });

  // Migration 0012 keeps four indexes on event_rows: the time filter seeks event_rows_occurred; resource_id and doi find
  // their resources by event_resources' indexes and the record's events by event_rows_resource, actor_id and email the
  // actor's events by event_rows_actor (sorting only those); every other filter rides event_rows_occurred newest first
  // (stopping after a page of matches), reading a walked row's string or resource by its integer key.
  it("seeks the time index for from/to", async () => {
    const plan = await planFor({ from: "2025-01-02", to: "2025-01-05" });
    expect(plan.join("\n")).toMatch(/SEARCH r USING INDEX event_rows_occurred \(occurred_at>\? AND occurred_at<\?\)/);
    expect(plan.join("\n")).not.toMatch(/TEMP B-TREE/);
  });

  // [name, query, dictionary strings the filter compares]
  const riding: [string, Record<string, string>, string[]][] = [
    ["action", { action: "download" }, ["action"]],
    ["status", { status: "failure" }, []],
    ["resource_type", { resource_type: "dataset" }, []],
    ["organisation", { organisation: "Org 1" }, ["organisation"]],
    ["user_key", { user_key: "a".repeat(64) }, []],
  ];

  for (const [name, query, dictionary] of riding) {
    it(`rides the time index newest first for ${name}, never sorting or scanning the table`, async () => {
      const plan = await planFor(query);
      expect(plan, plan.join("\n")).toContain("SCAN r USING INDEX event_rows_occurred");
      expect(plan.filter((detail) => /^SCAN (r|event_rows)$/.test(detail))).toEqual([]);
      expect(plan.join("\n")).not.toMatch(/TEMP B-TREE/);
      if (dictionary.length > 0) expect(plan, plan.join("\n")).toContain("SEARCH event_strings USING INTEGER PRIMARY KEY (rowid=?)");
      if (Object.keys(query).some((filter) => ["resource_type", "resource_id", "doi"].includes(filter)))
        expect(plan, plan.join("\n")).toContain("SEARCH resources USING INTEGER PRIMARY KEY (rowid=?)");
    });
  }

  const byResource: [string, Record<string, string>, RegExp][] = [
    ["resource_type + resource_id", { resource_type: "dataset", resource_id: "ds-1" }, /SEARCH resources USING INDEX event_resources_resource_id \(resource_id=\?\)/],
    ["resource_id", { resource_id: "ds-1" }, /SEARCH resources USING INDEX event_resources_resource_id \(resource_id=\?\)/],
    ["doi", { doi: "10.1234/ds.1" }, /SEARCH resources USING INDEX event_resources_doi \(doi=\?\)/],
  ];

  for (const [name, query, resources] of byResource) {
    it(`finds the record's events by event_rows_resource for ${name}, never walking the ledger`, async () => {
      const plan = await planFor(query);
      expect(plan.join("\n")).toMatch(resources);
      expect(plan).toContain("SEARCH r USING INDEX event_rows_resource (resource=?)");
      expect(plan.filter((detail) => /^SCAN (r|event_rows|resources|event_resources)\b/.test(detail))).toEqual([]);
    });
  }

  for (const [name, query] of [["actor_id", { actor_id: "plan-user-1" }], ["email", { email: "plan1@example.org" }]] as const) {
    it(`finds the actor's events by event_rows_actor and the id index for ${name}, never walking the ledger`, async () => {
      const plan = await planFor(query);
      expect(plan).toContain("SEARCH event_rows USING COVERING INDEX event_rows_actor (actor_key=?)");
      expect(plan).toContain("SEARCH r USING INDEX event_rows_id (id=?)");
      expect(plan.filter((detail) => /^SCAN /.test(detail))).toEqual([]);
    });
  }

  it("bounds a record's events by from/to in event_rows_resource", async () => {
    const plan = await planFor({ doi: "10.1234/ds.1", from: "2025-01-02" });
    expect(plan).toContain("SEARCH r USING INDEX event_rows_resource (resource=? AND occurred_at>?)");
  });

  it("rides the time index for action + from, seeking the lower bound", async () => {
    const plan = await planFor({ action: "download", from: "2025-01-02" });
    expect(plan.join("\n")).toMatch(/SEARCH r USING INDEX event_rows_occurred \(occurred_at>\?\)/);
    expect(plan.join("\n")).not.toMatch(/TEMP B-TREE/);
  });

  it("looks up actors for actor_id by the key it hashes to (no actor_id index) and for email through its index", async () => {
    expect(await planFor({ actor_id: "plan-user-1" })).toContain("SEARCH actors USING PRIMARY KEY (actor_key=?)");
    expect((await planFor({ email: "plan1@example.org" })).join("\n")).toMatch(/SEARCH actors USING (COVERING )?INDEX actors_email \(email=\?\)/);
  });

  it("finds an actor_id's events by the key it hashes to only while the actors row naming the id exists (erasure)", async () => {
    // plan-user-3 is the actor of events 3, 43, 83, …, 483 of the 500 above: 13 of them (index % 40 === 3).
    const filter = await resolveEventFilter(config.piiKey, EventFilterSchema.parse({ actor_id: "plan-user-3", include_duplicates: "true" }));
    expect((await listEvents(env.DB, filter, 100)).data).toHaveLength(13);
    const other = await resolveEventFilter(config.piiKey, EventFilterSchema.parse({ actor_id: "plan-user-2", include_duplicates: "true" }));
    expect((await listEvents(env.DB, other, 100)).data.every((event) => event.actor?.id === "plan-user-2")).toBe(true);
    // Erasure deletes the actors row; the events stay, pseudonymous, and the id no longer finds them.
    await env.DB.prepare("DELETE FROM actors WHERE actor_id = 'plan-user-3'").run();
    expect((await listEvents(env.DB, filter, 100)).data).toEqual([]);
  });

  it("continues a page by index range, not by re-reading earlier rows", async () => {
    const cursor = encodeCursor({ occurredAt: Date.UTC(2025, 0, 10), id: "zzz" });
    const plain = await planFor({}, cursor);
    expect(plain.join("\n")).toMatch(/SEARCH r USING INDEX event_rows_occurred \(\(occurred_at,id\)<\(\?,\?\)\)/);
    const byAction = await planFor({ action: "download" }, cursor);
    expect(byAction.join("\n")).toMatch(/SEARCH r USING INDEX event_rows_occurred \(\(occurred_at,id\)<\(\?,\?\)\)/);
  });

  it("walks the time index without sorting when there is no filter, and for q (a documented scan)", async () => {
    for (const query of [{}, { q: "Record 1" }] as Record<string, string>[]) {
      const plan = await planFor(query);
      expect(plan.join("\n")).toMatch(/SCAN r USING INDEX event_rows_occurred/);
      expect(plan.join("\n")).not.toMatch(/TEMP B-TREE/);
    }
  });

  it("finds one event and replays by the unique id index", async () => {
    const plan = await planOf((db) => getEvent(db, "no-such-event", "test-key").catch(() => undefined));
    expect(plan.join("\n")).toMatch(/SEARCH r USING INDEX event_rows_id \(id=\?\)/);
  });

  it("reads /v1/actions by grouping the stored string ids (a documented scan) and /v1/resource-types from event_rows_resource", async () => {
    const actions = await planOf(listActions);
    expect(actions.join("\n")).toMatch(/SCAN event_rows/);
    expect(actions.join("\n")).toMatch(/SEARCH strings USING INTEGER PRIMARY KEY/);
    const types = await planOf(listResourceTypes);
    expect(types.join("\n")).toMatch(/(SCAN|SEARCH) event_rows USING COVERING INDEX event_rows_resource/);
    expect(types.join("\n")).toMatch(/SEARCH resources USING INTEGER PRIMARY KEY/);
    expect(await listActions(env.DB)).toEqual(expect.arrayContaining([expect.objectContaining({ action: "auth.login" })]));
    expect(await listResourceTypes(env.DB)).toEqual(expect.arrayContaining([expect.objectContaining({ resource_type: "dataset" })]));
});
});
