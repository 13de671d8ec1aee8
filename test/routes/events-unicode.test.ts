import { describe, expect, it } from "vitest";
import { call, callJson, expectError, unique } from "../helpers";
import { seedRows } from "../stats-fixtures";

/** One text of each kind of Unicode that broke or could break an encoder that assumes Latin-1 or UTF-16 = bytes. */
const samples: Record<string, string> = {
  cjk: "下载-lock 数据集",
  astral: "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓀀 𠜎",
  combining: "Cafe\u0301 n\u0303 a\u030A",
  rtl: "שלום مرحبا \u202Eevil\u202C",
  "zero-width": "a\u200Bb\u200Cc\u200Dd\u2060e\uFEFFf",
  emoji: "👩‍🔬🏳️‍🌈🇩🇪 1️⃣",
  "latin1-edge": "ÿĀ",
};

async function postEvents(tag: string) {
  const start = Date.now() + 4 * 60_000;
  const posted: { id: string; label: string; text: string }[] = [];
  const entries = Object.entries(samples);
  // Stored as rows from before client ids were scoped to keys (migration 0005), whose stored ids are the clients' own:
  // the only ids outside ASCII a cursor can still carry, since new ids are UUIDs.
  for (const [index, [label, text]] of entries.entries()) {
    const id = `${tag}-${label}-${text}`;
    await seedRows([{
      receivedAt: Date.now(),
      input: {
        id,
        // A few minutes ahead, one second apart: the newest (first listed) is the CJK id, as in the probe.
        occurred_at: new Date(start - index * 1000).toISOString(),
        action: "record.view",
        resource: { type: tag, id: `res-${text}`, title: `Title ${text}` },
        actor: { id: `actor-${text}`, name: `Name ${text}`, organisation: `Org ${text}` },
        client: { user_agent: `Agent ${text}` },
        message: `Message ${text}`,
      },
    }]);
    posted.push({ id, label, text });
  }
  return posted;
}

describe("finding 2: 10.2: ids and text outside Latin-1 in cursors, listing, detail and export", () => {
  it("lists one event per page through every Unicode class (was 500 from btoa in the cursor encoder)", async () => {
    const tag = unique("uni");
    const posted = await postEvents(tag);

    // The dashboard signs in with this request; the newest event is the CJK one.
    expect((await call("GET", "/v1/events?limit=1")).status).toBe(200);

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const query: URLSearchParams = new URLSearchParams({ resource_type: tag, limit: "1", ...(cursor ? { cursor } : {}) });
      const page: { status: number; body: any } = await callJson("GET", `/v1/events?${query}`);
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      seen.push(...page.body.data.map((item: { id: string }) => item.id));
      cursor = page.body.next_cursor;
      if (!cursor) break;
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    expect(seen).toEqual(posted.map((item) => item.id));
  });

  it("returns every text field unchanged in the detail and both exports", async () => {
    const tag = unique("uni");
    const posted = await postEvents(tag);
    const ndjson = await call("GET", `/v1/events/export.ndjson?resource_type=${tag}`);
    expect(ndjson.status).toBe(200);
    const exported = new Map(
      (await ndjson.text())
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { id: string })
        .map((row) => [row.id, row]),
    );
    const csv = await call("GET", `/v1/events/export.csv?resource_type=${tag}`);
    expect(csv.status).toBe(200);
    const csvText = await csv.text();

    for (const { id, label, text } of posted) {
      const detail = await callJson("GET", `/v1/events/${encodeURIComponent(id)}`);
      expect(detail.status, label).toBe(200);
      expect(detail.body.id).toBe(id);
      expect(detail.body.resource).toMatchObject({ id: `res-${text}`, title: `Title ${text}` });
      expect(detail.body.actor).toMatchObject({ id: `actor-${text}`, name: `Name ${text}`, organisation: `Org ${text}` });
      expect(detail.body.client.user_agent).toBe(`Agent ${text}`);
      expect(detail.body.message).toBe(`Message ${text}`);
      expect(exported.get(id), label).toMatchObject({ id, message: `Message ${text}` });
      expect(csvText, label).toContain(id);
      expect(csvText, label).toContain(`Title ${text}`);
    }
  });

  it("pages past the longest id (128 CJK characters)", async () => {
    const tag = unique("uni");
    const longId = `${tag}-`.padEnd(128, "载");
    const later = Date.now() + 3 * 60_000;
    for (const [id, offset] of [[longId, 0], [`${tag}-older`, 1000]] as const)
      await seedRows([{ receivedAt: Date.now(), input: { id, occurred_at: new Date(later - offset).toISOString(), action: "record.view", resource: { type: tag, id: "r" } } }]);
    const first = await callJson("GET", `/v1/events?resource_type=${tag}&limit=1`);
    expect(first.body.data[0].id).toBe(longId);
    const second = await callJson("GET", `/v1/events?resource_type=${tag}&limit=1&cursor=${first.body.next_cursor}`);
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body.data.map((item: { id: string }) => item.id)).toEqual([`${tag}-older`]);
  });

  it("answers 400 for a cursor that is not exactly one this API wrote", async () => {
    const valid = btoa(JSON.stringify([1, "a"])).replace(/=+$/, "");
    const bad = [
      "!!!",
      `${valid}=`, // padding
      `${valid.slice(0, -1)}${String.fromCharCode(valid.charCodeAt(valid.length - 1) + 1)}`, // stray bits in the last character
      " " + valid, // whitespace
      "_w", // one byte 0xFF: not UTF-8
      btoa(JSON.stringify({ at: 1 })).replace(/=+$/, ""), // JSON of the wrong shape
      btoa(JSON.stringify([1.5, "a"])).replace(/=+$/, ""), // not an integer time
      btoa("not json").replace(/=+$/, ""),
    ];
    expect((await call("GET", `/v1/events?cursor=${valid}`)).status).toBe(200);
    for (const cursor of bad) {
      for (const path of ["/v1/events", "/v1/jobs", "/v1/records"]) {
        const response = await call("GET", `${path}?${new URLSearchParams({ cursor })}`);
        expect(response.status, `${path} cursor=${JSON.stringify(cursor)}`).toBe(400);
        await expectError(response, 400, "invalid_request");
      }
    }
  });
});
