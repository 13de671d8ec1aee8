// The COUNTER columns of CSV imports (file, session_id, country) land in the event's nested fields and on the stored row.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { flatToInput, importEvents } from "../../../src/core/ledger/import";
import { getConfig } from "../../../src/lib/config";

describe("CSV import of COUNTER columns", () => {
  it("maps file, session_id and country, and stores them with the access method", async () => {
    expect(flatToInput({ action: "download", resource_type: "dataset", resource_id: "r", file: "a.csv", session_id: "s-1", country: "br" })).toEqual({
      action: "download",
      resource: { type: "dataset", id: "r", file: "a.csv" },
      client: { session_id: "s-1", country: "br" },
    });
    const csv = "id,occurred_at,action,resource_type,resource_id,file,session_id,country,user_agent\r\n" +
      "csv-counter-1,2026-01-05T10:00:00Z,download,dataset,r1,a.csv,s-1,br,Wget/1.21.4\r\n" +
      "csv-counter-2,2026-01-05T10:00:00Z,download,dataset,r1,,,,\r\n";
    const result = await importEvents(env.DB, getConfig(env), csv, "csv", { dryRun: false, keyId: "test", receivedAt: Date.parse("2026-11-20T00:00:00Z") });
    expect(result).toMatchObject({ valid: 2, invalid: [], inserted: 2 });
    const { results } = await env.DB.prepare(
      "SELECT client_id AS id, file, session_id, country, access_method FROM events WHERE client_id LIKE 'csv-counter-%' ORDER BY client_id",
    ).all();
    expect(results).toEqual([
      // The session id is stored as a pseudonym (HMAC), like every other key of a person.
      { id: "csv-counter-1", file: "a.csv", session_id: expect.stringMatching(/^[0-9a-f]{32}$/), country: "BR", access_method: "machine" },
      { id: "csv-counter-2", file: null, session_id: null, country: null, access_method: "machine" },
    ]);
  });

  it("refuses a country that is not two letters, by line", async () => {
    const csv = "action,country\r\ndownload,Brazil\r\n";
    const result = await importEvents(env.DB, getConfig(env), csv, "csv", { dryRun: true, keyId: "test", receivedAt: Date.now() });
    expect(result.invalid).toEqual([{ line: 2, errors: [{ path: "client.country", message: "must be an ISO 3166-1 alpha-2 code" }] }]);
  });
});
