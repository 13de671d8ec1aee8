// COUNTER fields through archives: written with every row, restored as they were; rows of archives written before the
// COUNTER fields existed are classified from their user agent when restored.
import { env } from "cloudflare:workers";
import { gzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { dayOf } from "../../../src/core/analytics/periods";
import { archiveKey, restoreArchive, writeDayArchive } from "../../../src/core/retention/archive";
import { BROWSER, click, store, uniqueDoi } from "./counter-helpers";

describe("archives and COUNTER fields", () => {
  it("keep file, session id, country and access method through archive and restore", async () => {
    const doi = uniqueDoi("archive");
    const day = dayOf(Date.parse("2026-02-03T00:00:00Z"));
    await store([
      click(doi, "2026-02-03T10:00:00Z", "u1", {
        resource: { type: "dataset", id: "a", doi, file: "data/x.csv" },
        client: { ip: "192.0.2.9", user_agent: "curl/8.5.0", session_id: "sess-1", country: "ke" },
      }),
    ]);
    const before = await env.DB.prepare("SELECT id, access_method, country, file, session_id FROM events WHERE doi = ?1").bind(doi).first();
    // The session id is stored as a pseudonym (HMAC), like every other key of a person.
    expect(before).toMatchObject({ access_method: "machine", country: "KE", file: "data/x.csv", session_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    await writeDayArchive(env.BUCKET, env.DB, day);
    await env.DB.prepare("DELETE FROM events WHERE doi = ?1").bind(doi).run();
    await restoreArchive(env.BUCKET, env.DB, archiveKey(day));
    expect(await env.DB.prepare("SELECT id, access_method, country, file, session_id FROM events WHERE doi = ?1").bind(doi).first()).toEqual(before);
  });

  it("classify rows of an archive written before the COUNTER fields existed", async () => {
    const day = dayOf(Date.parse("2026-02-04T00:00:00Z"));
    const old = (id: string, userAgent: string | null) => ({
      id, occurred_at: Date.parse("2026-02-04T10:00:00Z"), received_at: Date.parse("2026-02-04T10:00:01Z"), action: "download", status: "success",
      resource_type: "dataset", resource_id: "old", doi: "10.5555/old.archive", title: null, actor_key: null, user_key: null, organisation: null,
      ip_prefix: null, ip_hash: null, user_agent: userAgent, bytes: null, message: null, meta: null, duplicate_of: null,
    });
    const lines = [old("old-robot", "Googlebot/2.1"), old("old-browser", BROWSER), old("old-none", null)].map((row) => JSON.stringify(row)).join("\n");
    await env.BUCKET.put(archiveKey(day), gzipSync(new TextEncoder().encode(`${lines}\n`)));
    expect((await restoreArchive(env.BUCKET, env.DB, archiveKey(day))).restored).toBe(3);
    const { results } = await env.DB.prepare("SELECT id, access_method, country, file, session_id FROM events WHERE id LIKE 'old-%' ORDER BY id").all();
    expect(results).toEqual([
      { id: "old-browser", access_method: "regular", country: null, file: null, session_id: null },
      { id: "old-none", access_method: "machine", country: null, file: null, session_id: null },
      { id: "old-robot", access_method: "robot", country: null, file: null, session_id: null },
    ]);
  });
});
