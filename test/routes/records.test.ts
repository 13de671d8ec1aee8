import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bytesOf, createRecord, eventsFor, samples, sha256, uniqueId, uploadFile } from "../catalog-helpers";
import { call, callJson, callWithEnv, keyWith } from "../helpers";

describe("records catalog", () => {
  it("creates (201), replaces (200), reads and normalises a DataCite record", async () => {
    const id = uniqueId();
    const created = await callJson("PUT", `/v1/records/${id}`, { body: { title: "Algoa Bay moorings", schema: "datacite4", metadata: samples.datacite } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id, doi: "10.15493/saeon.ocean.2021.001", title: "Algoa Bay moorings", public: false, schema: "datacite4", files: [] });
    expect(created.body.normalised.creators).toHaveLength(3);

    const replaced = await callJson("PUT", `/v1/records/${id}`, {
      body: { title: "Benthos", doi: "https://doi.org/10.1234/OVERRIDE", public: true, schema: "iso19115", metadata: samples.iso },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ doi: "10.1234/override", public: true, schema: "iso19115", created_at: created.body.created_at });
    expect(replaced.body.normalised.title).toBe("Benthic macrofauna of the Agulhas Bank shelf, 2018 survey");

    const read = await callJson("GET", `/v1/records/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.metadata).toEqual(samples.iso);
  });

  it("rejects bad input with 400 details and stores nothing", async () => {
    const id = uniqueId();
    const bad = await callJson("PUT", `/v1/records/${id}`, { body: { title: "", schema: "dublin-core", metadata: [], extra: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    expect(bad.body.error.details.map((d: any) => d.path)).toEqual(expect.arrayContaining(["title", "schema", "metadata"]));
    expect((await callJson("PUT", "/v1/records/..bad", { body: { title: "x", schema: "datacite4", metadata: {} } })).status).toBe(400);
    expect((await call("PUT", `/v1/records/${id}`, { rawBody: "x", contentType: "text/plain" })).status).toBe(415);
    expect((await callJson("GET", `/v1/records/${id}`)).status).toBe(404);
  });

  it("lists by id with q search and cursor pagination, no duplicates or gaps", async () => {
    const tag = `zz${Date.now().toString(36)}`;
    const ids = [0, 1, 2, 3, 4].map((n) => `${tag}-${n}`);
    for (const id of ids) await createRecord(id, { title: `Kelp forest survey ${tag} ${id}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await callJson("GET", `/v1/records?q=${encodeURIComponent(`KELP FOREST SURVEY ${tag}`)}&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((record: any) => record.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);
    const byCreator = await callJson("GET", `/v1/records?q=nkosi&limit=500`);
    expect(byCreator.body.data.map((r: any) => r.id)).toEqual(expect.arrayContaining(ids));
    expect((await callJson("GET", "/v1/records?q=%25")).body.data.length).toBe(0);
    expect((await callJson("GET", "/v1/records?cursor=!!")).status).toBe(400);
  });

  it("deletes a record with its files and cached PDFs", async () => {
    const id = uniqueId();
    await createRecord(id);
    await uploadFile(id, "a.csv", bytesOf(100));
    expect((await call("GET", `/v1/records/${id}/metadata.pdf`)).status).toBe(200);
    expect((await env.BUCKET.list({ prefix: `records/${id}/` })).objects.length).toBe(2);
    expect((await call("DELETE", `/v1/records/${id}`)).status).toBe(204);
    expect((await callJson("GET", `/v1/records/${id}`)).status).toBe(404);
    expect((await env.BUCKET.list({ prefix: `records/${id}/` })).objects.length).toBe(0);
    expect((await call("DELETE", `/v1/records/${id}`)).status).toBe(404);
  });

  it("answers 401 without a key and 403 without the catalog scope on every catalog endpoint (downloads of private records: 404 without a key)", async () => {
    const id = uniqueId();
    await createRecord(id, { public: false });
    const ingestKey = await keyWith("ingest");
    const endpoints: [string, string][] = [
      ["PUT", `/v1/records/${id}`],
      ["GET", `/v1/records/${id}`],
      ["GET", "/v1/records"],
      ["DELETE", `/v1/records/${id}`],
      ["PUT", `/v1/records/${id}/files/x.csv`],
      ["GET", `/v1/records/${id}/files`],
      ["GET", `/v1/records/${id}/files/x.csv`],
      ["GET", `/v1/records/${id}/metadata.pdf`],
    ];
    for (const [method, path] of endpoints) {
      const body = method === "PUT" ? { title: "t", schema: "datacite4", metadata: {} } : undefined;
      const download = method === "GET" && /\/(files\/x\.csv|metadata\.pdf)$/.test(path);
      expect((await callJson(method, path, { key: null, body })).status, `${method} ${path}`).toBe(download ? 404 : 401);
      expect((await callJson(method, path, { key: ingestKey, body })).status, `${method} ${path}`).toBe(403);
    }
    const catalogKey = await keyWith("catalog");
    expect((await callJson("GET", `/v1/records/${id}`, { key: catalogKey })).status).toBe(200);
  });
});

describe("record files", () => {
  it("streams an upload into R2 with size, content type and SHA-256; replacing keeps one object", async () => {
    const id = uniqueId();
    await createRecord(id);
    const data = bytesOf(300_000, 7);
    const response = await call("PUT", `/v1/records/${id}/files/temps%202020.csv`, { rawBody: data, contentType: "text/csv; charset=utf-8" });
    expect(response.status).toBe(201);
    const file: any = await response.json();
    expect(file).toMatchObject({ name: "temps 2020.csv", size: 300_000, content_type: "text/csv; charset=utf-8", sha256: await sha256(data) });

    const again = await call("PUT", `/v1/records/${id}/files/temps%202020.csv`, { rawBody: bytesOf(10, 8), contentType: "text/csv" });
    expect(again.status).toBe(200);
    const list = await callJson("GET", `/v1/records/${id}/files`);
    expect(list.body.data).toEqual([expect.objectContaining({ name: "temps 2020.csv", size: 10, sha256: await sha256(bytesOf(10, 8)) })]);
    expect((await env.BUCKET.list({ prefix: `records/${id}/files/` })).objects.length).toBe(1);

    const accented = await call("PUT", `/v1/records/${id}/files/${encodeURIComponent("données été.csv")}`, { rawBody: bytesOf(5), contentType: "text/csv" });
    expect(accented.status).toBe(201);
    const download = await call("GET", `/v1/records/${id}/files/${encodeURIComponent("données été.csv")}`, { key: null });
    expect(download.headers.get("content-disposition")).toBe(`attachment; filename="donn_es _t_.csv"; filename*=UTF-8''donn%C3%A9es%20%C3%A9t%C3%A9.csv`);
  });

  it("requires Content-Length, a known record and a one-segment name", async () => {
    const id = uniqueId();
    await createRecord(id);
    const stream = new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array([1, 2, 3])), c.close()) });
    const noLength = await callJson("PUT", `/v1/records/${id}/files/a.bin`, { rawBody: stream, contentType: "application/octet-stream" });
    expect(noLength.status).toBe(400);
    expect((await callJson("PUT", `/v1/records/${uniqueId()}/files/a.bin`, { rawBody: new Uint8Array(3) })).status).toBe(404);
    expect((await callJson("PUT", `/v1/records/${id}/files/.hidden`, { rawBody: new Uint8Array(3) })).status).toBe(400);
    expect((await callJson("PUT", `/v1/records/${id}/files/a%2Fb`, { rawBody: new Uint8Array(3) })).status).toBe(400);
    expect((await callJson("GET", `/v1/records/${id}/files`)).body.data).toEqual([]);
  });
});

describe("anonymous downloads of public records", () => {
  it("serves a public record's file to anyone with one download event carrying the bytes", async () => {
    const id = uniqueId();
    await createRecord(id, { public: true });
    const data = bytesOf(5000, 3);
    await uploadFile(id, "data.csv", data);
    const response = await call("GET", `/v1/records/${id}/files/data.csv`, { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe("5000");
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="data.csv"; filename*=UTF-8''data.csv`);
    expect(response.headers.get("etag")).toMatch(/^".+"$/);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(data);
    const events = await eventsFor(id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "download", status: "success", resource_type: "dataset", doi: "10.15493/saeon.ocean.2021.001", bytes: 5000 });
    expect(JSON.parse(events[0]!.meta!)).toEqual({ file: "data.csv" });
  });

  it("serves a public record's metadata PDF anonymously, rendered once and then from R2, one event per download", async () => {
    const id = uniqueId();
    await createRecord(id, { public: true });
    const first = await call("GET", `/v1/records/${id}/metadata.pdf`, { key: null });
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("application/pdf");
    const bytes = new Uint8Array(await first.arrayBuffer());
    const second = await call("GET", `/v1/records/${id}/metadata.pdf`, { key: null });
    expect(second.headers.get("etag")).toBe(first.headers.get("etag"));
    expect(new Uint8Array(await second.arrayBuffer())).toEqual(bytes);
    expect((await env.BUCKET.list({ prefix: `records/${id}/metadata/` })).objects).toHaveLength(1);
    const events = await eventsFor(id);
    expect(events.map((e) => [e.action, e.status, e.bytes])).toEqual([["metadata.download", "success", bytes.length], ["metadata.download", "success", bytes.length]]);
    expect((await call("GET", `/v1/records/${uniqueId()}/metadata.pdf`, { key: null })).status).toBe(404);
  });

  it("needs a catalog key for records that are not public", async () => {
    const id = uniqueId();
    await createRecord(id, { public: false });
    await uploadFile(id, "data.csv", bytesOf(10));
    expect((await call("GET", `/v1/records/${id}/files/data.csv`, { key: null })).status).toBe(404);
    expect((await call("GET", `/v1/records/${id}/files/data.csv`, { key: "not-a-key" })).status).toBe(401);
    expect((await call("GET", `/v1/records/${id}/files/data.csv`, { key: await keyWith("catalog") })).status).toBe(200);
  });

  it("answers 404 for unknown files and objects missing from storage, recording a failure", async () => {
    const id = uniqueId();
    await createRecord(id);
    await uploadFile(id, "gone.csv", bytesOf(10));
    expect((await call("GET", `/v1/records/${id}/files/nope.csv`, { key: null })).status).toBe(404);
    const [object] = (await env.BUCKET.list({ prefix: `records/${id}/files/` })).objects;
    await env.BUCKET.delete(object!.key);
    const missing = await callJson("GET", `/v1/records/${id}/files/gone.csv`, { key: null });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe("The file is missing from storage");
    const events = await eventsFor(id);
    expect(events.map((e) => [e.action, e.status])).toEqual([["download", "failure"], ["download", "failure"]]);
  });

  it("charges public files to the byte budget too: the download that would pass it is refused and recorded as denied", async () => {
    const id = uniqueId();
    await createRecord(id, { public: true });
    await uploadFile(id, "data.csv", bytesOf(600, 4));
    const ip = `192.0.2.${Math.floor(Math.random() * 200) + 30}`;
    const budgeted = { DOWNLOAD_BYTES_LIMIT: "1000" };
    const get = () => callWithEnv(budgeted, "GET", `/v1/records/${id}/files/data.csv`, { key: null, headers: { "cf-connecting-ip": ip } });
    const first = await get();
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    // 600 + 600 > 1,000.
    const second = await get();
    expect(second.status).toBe(429);
    expect(((await second.json()) as any).error.details).toMatchObject({ limit: "bytes", bytes_remaining: 400 });
    expect((await eventsFor(id)).map((event) => [event.status, event.message])).toEqual([
      ["success", null],
      ["denied", "byte budget exceeded (DOWNLOAD_BYTES_LIMIT)"],
    ]);
  });
});

describe("finding 9d: a private record's existence cannot be probed without a key", () => {
  it("finding 9d: answers a private record exactly like a missing one without a key (file and metadata PDF)", async () => {
    const privateId = uniqueId();
    await createRecord(privateId, { public: false });
    await uploadFile(privateId, "data.csv", bytesOf(10));
    const missingId = uniqueId();
    for (const [privatePath, missingPath] of [
      [`/v1/records/${privateId}/files/data.csv`, `/v1/records/${missingId}/files/data.csv`],
      [`/v1/records/${privateId}/metadata.pdf`, `/v1/records/${missingId}/metadata.pdf`],
    ]) {
      const hidden = await callJson("GET", privatePath!, { key: null });
      const missing = await callJson("GET", missingPath!, { key: null });
      expect([hidden.status, missing.status]).toEqual([404, 404]);
      expect(hidden.body.error.code).toBe(missing.body.error.code);
      expect(hidden.body.error.message.replace(privateId, "ID")).toBe(missing.body.error.message.replace(missingId, "ID"));
    }
  });

  it("finding 9d: checks a presented key before the record, so bad keys get 401 and keys without catalog get 403 either way", async () => {
    const privateId = uniqueId();
    await createRecord(privateId, { public: false });
    const ingest = await keyWith("ingest");
    for (const id of [privateId, uniqueId()]) {
      expect((await call("GET", `/v1/records/${id}/metadata.pdf`, { key: "wrong-key-123" })).status).toBe(401);
      expect((await call("GET", `/v1/records/${id}/metadata.pdf`, { key: ingest })).status).toBe(403);
    }
    const catalog = await keyWith("catalog");
    expect((await call("GET", `/v1/records/${privateId}/metadata.pdf`, { key: catalog })).status).toBe(200);
    expect((await call("GET", `/v1/records/${uniqueId()}/metadata.pdf`, { key: catalog })).status).toBe(404);
  });
});

describe("finding 7: the upload's Content-Type header is capped like a body field", () => {
  it("finding 7: refuses a Content-Type over 255 characters or that is not a media type, storing nothing", async () => {
    const id = uniqueId();
    await createRecord(id);
    for (const contentType of [`text/csv; x=${"a".repeat(300)}`, "not a media type", "text/csv; <script>"]) {
      const response = await callJson("PUT", `/v1/records/${id}/files/a.csv`, { rawBody: bytesOf(10), contentType });
      expect(response.status, contentType.slice(0, 30)).toBe(400);
      expect(response.body.error.details[0].path).toBe("Content-Type");
    }
    expect((await callJson("GET", `/v1/records/${id}/files`)).body.data).toEqual([]);
    expect((await env.BUCKET.list({ prefix: `records/${id}/files/` })).objects).toHaveLength(0);
    const ok = await callJson("PUT", `/v1/records/${id}/files/a.csv`, { rawBody: bytesOf(10), contentType: 'text/csv; charset="utf-8"' });
    expect(ok.status).toBe(201);
    expect(ok.body.content_type).toBe('text/csv; charset="utf-8"');
  });
});

describe("finding 9i: file names that differ only by invisible or look-alike characters", () => {
  const put = (id: string, name: string) => callJson("PUT", `/v1/records/${id}/files/${encodeURIComponent(name)}`, { rawBody: bytesOf(4), contentType: "text/csv" });

  it("finding 9i: rejects invisible and bidirectional control characters in file names", async () => {
    const id = uniqueId();
    await createRecord(id);
    // U+3164 HANGUL FILLER is a letter that renders as nothing; U+200B zero width space; U+202E right-to-left override.
    for (const name of ["data\u3164.csv", "data\u200B.csv", "report\u202Ecsv.exe", "\uFFA0data.csv"]) {
      const response = await put(id, name);
      expect(response.status, JSON.stringify(name)).toBe(400);
    }
    expect((await callJson("GET", `/v1/records/${id}/files`)).body.data).toEqual([]);
  });

  it("finding 9i: stores names in NFC, so a decomposed name is the same file as its precomposed twin", async () => {
    const id = uniqueId();
    await createRecord(id);
    expect((await put(id, "e\u0301te\u0301.csv")).status).toBe(201);
    const again = await put(id, "\u00e9t\u00e9.csv");
    expect(again.status).toBe(200);
    expect(again.body.name).toBe("\u00e9t\u00e9.csv");
    expect((await callJson("GET", `/v1/records/${id}/files`)).body.data.map((file: any) => file.name)).toEqual(["\u00e9t\u00e9.csv"]);
  });

  it("finding 9i: refuses (409) a name whose NFKC case fold collides with another file of the record", async () => {
    const id = uniqueId();
    await createRecord(id);
    expect((await put(id, "Data.csv")).status).toBe(201);
    for (const name of ["data.csv", "DATA.CSV", "\uFF24ata.csv", "\uFF44\uFF41\uFF54\uFF41.CSV"]) {
      const response = await put(id, name);
      expect(response.status, name).toBe(409);
      expect(response.body.error.details).toEqual({ existing_file: "Data.csv" });
    }
    expect((await put(id, "Data.csv")).status).toBe(200);
    expect((await put(id, "Data2.csv")).status).toBe(201);
    expect((await callJson("GET", `/v1/records/${id}/files`)).body.data.map((file: any) => file.name)).toEqual(["Data.csv", "Data2.csv"]);
  });
});
