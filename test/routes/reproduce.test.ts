import { beforeAll, describe, expect, it } from "vitest";
import { call, callJson, keyWith } from "../helpers";
import { bytesOf, createLink, createRecord, sha256, uniqueId, uploadFile } from "../catalog-helpers";
import { seedRows } from "../stats-fixtures";

describe("GET /v1/reproduce", () => {
  const person = uniqueId("person");
  const other = uniqueId("other");
  const ids = { open: uniqueId("open"), closed: uniqueId("closed"), replaced: uniqueId("replaced"), deleted: uniqueId("deleted"), bundled: uniqueId("bundled") };
  const bytes = { open: bytesOf(3000, 1), closed: bytesOf(2000, 2), replaced: bytesOf(1000, 3), deleted: bytesOf(500, 4), bundled: bytesOf(700, 5) };
  let readKey: string;
  let ingestKey: string;
  const path = (query = "") => `/v1/reproduce?actor_id=${person}${query}`;

  const download = async (recordId: string, file: string, user: string) => {
    const response = await call("GET", await createLink({ record_id: recordId, file, user: { id: user } }), { key: null });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  };

  beforeAll(async () => {
    readKey = await keyWith("read");
    ingestKey = await keyWith("ingest");
    await createRecord(ids.open, { public: true });
    await createRecord(ids.closed, { public: false, title: "Closed record\n rm -rf / # sneaky" });
    await createRecord(ids.replaced, { public: true });
    await createRecord(ids.deleted, { public: true, title: "Gone record" });
    await createRecord(ids.bundled, { public: true });
    for (const [key, id] of Object.entries(ids)) await uploadFile(id, `${key}.csv`, bytes[key as keyof typeof bytes]);
    await download(ids.open, "open.csv", person);
    await download(ids.closed, "closed.csv", person);
    await download(ids.replaced, "replaced.csv", person);
    await download(ids.deleted, "deleted.csv", person);
    await download(ids.open, "open.csv", other);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await uploadFile(ids.replaced, "replaced.csv", bytesOf(1000, 99));
    expect((await call("DELETE", `/v1/records/${ids.deleted}`)).status).toBe(204);
    // A bundle download as the bundle job records it: its data files listed with their size at the time.
    await seedRows([
      {
        input: {
          id: uniqueId("bundle-event"),
          action: "bundle.download",
          resource: { type: "bundle", id: "bundle-1" },
          actor: { id: person },
          meta: {
            bundle_id: "bundle-1",
            record_ids: [ids.open, ids.bundled],
            files_in_bundle: [
              { name: `metadata/${ids.open}.pdf`, size: 4000, doi: null },
              { name: `data/${ids.open}/open.csv`, size: 3000, doi: null },
              { name: `data/${ids.bundled}/bundled.csv`, size: 699, doi: null },
            ],
            total_files: 3,
          },
        },
        receivedAt: Date.now(),
      },
    ]);
  });

  it("resolves the person's downloads: available, changed, missing, each file once with every download", async () => {
    const { status, body } = await callJson("GET", path("&format=json"));
    expect(status).toBe(200);
    // 4 file downloads through links and 1 bundle download; the other person's download is not theirs.
    expect(body.downloads).toBe(5);
    const byPath = Object.fromEntries(body.files.map((file: any) => [file.path, file]));
    expect(Object.keys(byPath).sort()).toEqual(
      [`${ids.open}/open.csv`, `${ids.closed}/closed.csv`, `${ids.replaced}/replaced.csv`, `${ids.deleted}/deleted.csv`, `${ids.bundled}/bundled.csv`].sort(),
    );
    const open = byPath[`${ids.open}/open.csv`];
    expect(open).toMatchObject({ status: "available", sha256: await sha256(bytes.open), size: 3000, url: `http://localhost/v1/records/${ids.open}/files/open.csv` });
    expect(open.downloads.map((d: any) => d.via)).toEqual(["download", "bundle"]);
    expect(byPath[`${ids.closed}/closed.csv`]).toMatchObject({ status: "available", sha256: await sha256(bytes.closed) });
    expect(byPath[`${ids.closed}/closed.csv`].url).toMatch(/^http:\/\/localhost\/d\/[\w-]+\.[\w-]+$/);
    expect(byPath[`${ids.replaced}/replaced.csv`]).toMatchObject({ status: "changed", url: null, sha256: await sha256(bytesOf(1000, 99)) });
    expect(byPath[`${ids.deleted}/deleted.csv`]).toMatchObject({ status: "missing", reason: "the record no longer exists", url: null });
    // The bundle listed 699 bytes; the catalog's file has 700.
    expect(byPath[`${ids.bundled}/bundled.csv`]).toMatchObject({ status: "changed" });
    expect(body.datasets.map((dataset: any) => dataset.id)).toEqual([ids.open, ids.closed, ids.replaced, ids.deleted, ids.bundled]);
    expect(body.datasets.find((dataset: any) => dataset.id === ids.deleted)).toMatchObject({ in_catalog: false, title: "Gone record", citation: null });
  });

  it("hands out signed links bound to the person that serve the exact bytes", async () => {
    const { body } = await callJson("GET", path("&format=json&link_hours=2"));
    const closed = body.files.find((file: any) => file.record_id === ids.closed);
    const expires = Date.parse(body.links_expire_at) - Date.parse(body.generated_at);
    expect(expires).toBeGreaterThan(2 * 3600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(2 * 3600_000);
    const response = await call("GET", new URL(closed.url).pathname, { key: null });
    expect(response.status).toBe(200);
    expect(await sha256(new Uint8Array(await response.arrayBuffer()))).toBe(closed.sha256);
    // The fetch is recorded as the person's download (a duplicate of the first, within the dedup window).
    const events = await callJson("GET", `/v1/events?actor_id=${person}&resource_id=${ids.closed}&include_duplicates=true`);
    expect(events.body.data).toHaveLength(2);
    expect(events.body.data[0].duplicate_of).toBe(events.body.data[1].id);
  });

  it("security: a read-only key gets no signed link to a non-public record", async () => {
    const { status, body } = await callJson("GET", path("&format=json"), { key: readKey });
    expect(status).toBe(200);
    const closed = body.files.find((file: any) => file.record_id === ids.closed);
    expect(closed).toMatchObject({ status: "restricted", url: null });
    expect(JSON.stringify(body)).not.toContain("/d/");
    expect(body.files.find((file: any) => file.record_id === ids.open).status).toBe("available");
  });

  it("writes a Bash script that fetches and verifies the available files and lists the others in its header", async () => {
    const response = await call("GET", path());
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/x-shellscript; charset=utf-8");
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="reproduce.sh"');
    const script = await response.text();
    expect(script.startsWith("#!/usr/bin/env bash\n")).toBe(true);
    expect(script).toContain("set -euo pipefail");
    const fetches = script.split("\n").filter((line) => line.startsWith("fetch "));
    expect(fetches).toHaveLength(2);
    expect(fetches[0]).toBe(`fetch 1 2 'http://localhost/v1/records/${ids.open}/files/open.csv' '${ids.open}/open.csv' '${await sha256(bytes.open)}'`);
    expect(script).toContain(`#   MISSING  ${ids.deleted}/deleted.csv: the record no longer exists`);
    expect(script).toMatch(new RegExp(`#   CHANGED  ${ids.replaced}/replaced.csv: replaced on `));
    expect(script).toMatch(/# Signed links in this script are valid until \d{4}-/);
    // A title with a line break stays inside its comment line.
    expect(script.split("\n").some((line) => line.trimStart().startsWith("rm "))).toBe(false);
    expect(script).toContain("Closed record rm -rf / # sneaky");
  });

  it("cites each dataset once as BibTeX and RIS from the normalised metadata", async () => {
    const bibtex = await call("GET", path("&format=bibtex"));
    expect(bibtex.headers.get("content-type")).toBe("application/x-bibtex; charset=utf-8");
    const bib = new TextDecoder().decode(await bibtex.arrayBuffer());
    expect(bib.match(/^@misc\{/gm)).toHaveLength(5);
    // The DataCite sample: two personal creators (Family, Given) and an organisation kept whole.
    expect(bib).toContain("author = {Nkosi, Thandiwe and Müller, Jörg and {Marine Data Unit}}");
    expect(bib).toContain("year = {2021}");
    expect(bib).toContain("title = {{Gone record}}");
    const ris = new TextDecoder().decode(await (await call("GET", path("&format=ris"))).arrayBuffer());
    expect(ris.match(/^TY {2}- DATA\r$/gm)).toHaveLength(5);
    expect(ris.match(/^ER {2}- \r$/gm)).toHaveLength(5);
    expect(ris).toContain("AU  - Nkosi, Thandiwe\r\n");
    expect(ris).toContain("PY  - 2021\r\n");
  });

  it("counts every current file of a record when the event names no file, or the bundle's list was truncated", async () => {
    const portalUser = uniqueId("portal-user");
    const recordId = uniqueId("two-files");
    await createRecord(recordId, { public: true });
    await uploadFile(recordId, "a.csv", bytesOf(10, 7));
    await uploadFile(recordId, "b.csv", bytesOf(20, 8));
    const at = Date.now() + 1000;
    await seedRows([
      // A portal's own event: the record, no file.
      { input: { id: uniqueId("portal"), occurred_at: new Date(at).toISOString(), action: "download", resource: { type: "dataset", id: recordId }, actor: { id: portalUser } }, receivedAt: at },
      {
        input: {
          id: uniqueId("truncated"),
          occurred_at: new Date(at + 1000).toISOString(),
          action: "bundle.download",
          resource: { type: "bundle", id: "bundle-2" },
          actor: { id: portalUser },
          meta: { bundle_id: "bundle-2", record_ids: [recordId], files_in_bundle: [], files_truncated: true },
        },
        receivedAt: at,
      },
    ]);
    const { body } = await callJson("GET", `/v1/reproduce?actor_id=${portalUser}&format=json`);
    expect(body.files.map((file: any) => [file.path, file.status, file.downloads.length])).toEqual([
      [`${recordId}/a.csv`, "available", 2],
      [`${recordId}/b.csv`, "available", 2],
    ]);
  });

  it("rejects a missing or doubled person and an empty range, and needs the read scope", async () => {
    for (const query of ["", `?actor_id=${person}&email=a@example.org`, `?actor_id=${person}&from=2026-02-01&to=2026-01-01`, `?actor_id=${person}&format=zip`, `?actor_id=${person}&link_hours=1000`]) {
      const { status, body } = await callJson("GET", `/v1/reproduce${query}`);
      expect(status, query).toBe(400);
      expect(body.error.code, query).toBe("invalid_request");
    }
    expect((await call("GET", path(), { key: null })).status).toBe(401);
    expect((await call("GET", path(), { key: ingestKey })).status).toBe(403);
  });
});
