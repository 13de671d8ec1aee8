// /v1/stats by COUNTER access method: robots excluded by default (and said so), the humans / machines / robots split,
// and the countries table; the same answers from raw rows and from rollups.
import { describe, expect, it } from "vitest";
import { callJson, keyWith } from "../helpers";
import { BROWSER, click, roll, store, uniqueDoi } from "../core/counter/counter-helpers";

const ROBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

async function seed(date = "2026-07-10"): Promise<{ id: string }> {
  const doi = uniqueDoi("stats");
  const id = `id-${doi}`;
  await store([
    click(doi, `${date}T10:00:00Z`, "h1", { client: { ip: "192.0.2.1", user_agent: BROWSER, country: "IS" } }),
    click(doi, `${date}T11:00:00Z`, "h2", { client: { ip: "192.0.2.2", user_agent: BROWSER, country: "IS" } }),
    click(doi, `${date}T12:00:00Z`, "h3", { client: { ip: "192.0.2.3", user_agent: BROWSER, country: "NZ" } }),
    click(doi, `${date}T13:00:00Z`, null, { client: { ip: "192.0.2.4", user_agent: "curl/8.5.0", country: "NZ" } }),
    click(doi, `${date}T14:00:00Z`, null, { client: { ip: "192.0.2.5", user_agent: ROBOT } }),
    click(doi, `${date}T15:00:00Z`, null, { client: { ip: "192.0.2.5", user_agent: ROBOT } }),
  ]);
  return { id };
}

const query = (id: string, extra = "") => `/v1/stats?from=2026-07-10&to=2026-07-11&resource_type=dataset&resource_id=${encodeURIComponent(id)}${extra}`;

describe("GET /v1/stats access methods", () => {
  it("excludes robots by default and says so; access_method selects; the split shows all three (raw rows, then rollups)", async () => {
    const { id } = await seed();
    for (const phase of ["raw", "rollups"]) {
      if (phase === "rollups") await roll("2026-07-10");
      const byDefault = await callJson("GET", query(id));
      expect(byDefault.status).toBe(200);
      // 3 browser downloads + 1 curl download; the two Googlebot downloads are left out.
      expect(byDefault.body.totals.successful, phase).toBe(4);
      expect(byDefault.body.counted.access_methods).toEqual(["regular", "machine"]);
      expect(byDefault.body.counted.note).toMatch(/robots .* excluded by default/);
      expect(byDefault.body.access_split).toEqual({
        regular: { successful: 3, unique_users: 3 },
        machine: { successful: 1, unique_users: 1 },
        robot: { successful: 2, unique_users: 1 },
      });
      const robotsOnly = await callJson("GET", query(id, "&access_method=robot"));
      expect(robotsOnly.body.totals).toMatchObject({ successful: 2, unique_users: 1 });
      const everyone = await callJson("GET", query(id, "&access_method=regular,machine,robot"));
      expect(everyone.body.totals.successful).toBe(6);
      expect(everyone.body.top_resources[0].events).toBe(6);
    }
  });

  it("has a countries table (unknown left out) when not filtered by resource", async () => {
    await seed("2026-07-12");
    const { body } = await callJson("GET", "/v1/stats?from=2026-07-12&to=2026-07-13&top=100");
    // IS: h1 and h2 (2 downloads, 2 users); NZ: h3 and the curl client (2, 2); the robots sent no country.
    expect(body.countries).toEqual([
      { country: "IS", successful: 2, unique_users: 2 },
      { country: "NZ", successful: 2, unique_users: 2 },
    ]);
    const filtered = await callJson("GET", query("anything"));
    expect(filtered.body.countries).toBeNull();
  });

  it("refuses an unknown access method with 400, and needs the read scope", async () => {
    const bad = await callJson("GET", "/v1/stats?access_method=regular,alien");
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe("access_method");
    const ingestOnly = await keyWith("ingest");
    expect((await callJson("GET", "/v1/stats?access_method=robot", { key: ingestOnly })).status).toBe(403);
  });
});
