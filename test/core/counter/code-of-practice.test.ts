// Cases written from the COUNTER Code of Practice for Research Data; every expected number is worked out by hand in the
// comment above it. Each case has its own DOI, so cases never see each other's events.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runRollup } from "../../../src/core/analytics/rollup";
import { storeEvents } from "../../../src/core/ledger/ingest";
import { prepareEvent } from "../../../src/core/ledger/ingest";
import { EventInputSchema } from "../../../src/core/ledger/event-schema";
import { call } from "../../helpers";
import { createRecord, samples, uniqueId } from "../../catalog-helpers";
import { BROWSER, click, config, numbers, OTHER_BROWSER, RECEIVED_AT, roll, store, uniqueDoi, usage } from "./counter-helpers";

const DAY = "2026-10-14";
const at = (time: string, day = DAY) => `${day}T${time}Z`;

describe("double-clicks (same user, same item, ≤ 30 s: the later click is kept)", () => {
  it("20 s apart: one request", async () => {
    const doi = uniqueDoi("dc20");
    await store([click(doi, at("10:00:00"), "u1"), click(doi, at("10:00:20"), "u1")]);
    await roll(DAY);
    // 10:00:00 is replaced by 10:00:20 → 1 request, 1 investigation, 1 session.
    expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 1, ui: 1, tr: 1, ur: 1 });
  });

  it("exactly 30 s apart: still one request", async () => {
    const doi = uniqueDoi("dc30");
    await store([click(doi, at("10:00:00"), "u1"), click(doi, at("10:00:30"), "u1")]);
    await roll(DAY);
    expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 1, ui: 1, tr: 1, ur: 1 });
  });

  it("31 s apart: two requests in one session", async () => {
    const doi = uniqueDoi("dc31");
    await store([click(doi, at("10:00:00"), "u1"), click(doi, at("10:00:31"), "u1")]);
    await roll(DAY);
    // Two clicks, both in the 10:00 hour of u1 → 2 totals, 1 unique.
    expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 2, ui: 1, tr: 2, ur: 1 });
  });

  it("a chain 0, 20, 40 s is one click; 0, 20, 40, 71 s is two (the window slides with the kept click)", async () => {
    const chain = uniqueDoi("chain");
    const longer = uniqueDoi("chain-longer");
    await store([
      click(chain, at("10:00:00"), "u1"), click(chain, at("10:00:20"), "u1"), click(chain, at("10:00:40"), "u1"),
      click(longer, at("10:00:00"), "u1"), click(longer, at("10:00:20"), "u1"), click(longer, at("10:00:40"), "u1"),
      click(longer, at("10:01:11"), "u1"),
    ]);
    await roll(DAY);
    // 0→20→40: each replaced by the next → only 40 counts.
    expect(numbers((await usage(chain, "2026-10")).regular)).toEqual({ ti: 1, ui: 1, tr: 1, ur: 1 });
    // 40 is kept (71 − 40 = 31 s > 30 s), 71 counts too → 2 totals, 1 session.
    expect(numbers((await usage(longer, "2026-10")).regular)).toEqual({ ti: 2, ui: 1, tr: 2, ur: 1 });
  });

  it("two users on one item at the same instant: two requests, two uniques", async () => {
    const doi = uniqueDoi("two-users");
    await store([click(doi, at("10:00:00"), "u1"), click(doi, at("10:00:05"), "u2")]);
    await roll(DAY);
    expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 2, ui: 2, tr: 2, ur: 2 });
  });

  it("a different file of the same dataset is a different item", async () => {
    const doi = uniqueDoi("files");
    await store([
      click(doi, at("10:00:00"), "u1", { resource: { type: "dataset", id: "f", doi, file: "a.csv" } }),
      click(doi, at("10:00:10"), "u1", { resource: { type: "dataset", id: "f", doi, file: "b.csv" } }),
    ]);
    await roll(DAY);
    // Two items → two requests; one user-hour → one unique.
    expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 2, ui: 1, tr: 2, ur: 1 });
  });

  it("across an hour: 20 s apart is one click in the later hour; 40 s apart is two sessions", async () => {
    const close = uniqueDoi("hour-close");
    const apart = uniqueDoi("hour-apart");
    await store([
      click(close, at("10:59:50"), "u1"), click(close, at("11:00:10"), "u1"),
      click(apart, at("10:59:40"), "u1"), click(apart, at("11:00:20"), "u1"),
    ]);
    await roll(DAY);
    expect(numbers((await usage(close, "2026-10")).regular)).toEqual({ ti: 1, ui: 1, tr: 1, ur: 1 });
    // 40 s > 30 s: both count, one in the 10:00 session and one in the 11:00 session.
    expect(numbers((await usage(apart, "2026-10")).regular)).toEqual({ ti: 2, ui: 2, tr: 2, ur: 2 });
  });

  it("across midnight and a month boundary: the click before midnight is replaced by the one after it", async () => {
    const doi = uniqueDoi("midnight");
    await store([click(doi, "2026-09-30T23:59:50Z", "u1"), click(doi, "2026-10-01T00:00:10Z", "u1")]);
    await roll("2026-09-30", "2026-10-01");
    // September loses its only click to the 20-s-later one in October.
    expect(numbers((await usage(doi, "2026-09")).regular)).toEqual({ ti: 0, ui: 0, tr: 0, ur: 0 });
    expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 1, ui: 1, tr: 1, ur: 1 });
  });

  it("a late click after midnight re-decides the day before", async () => {
    const doi = uniqueDoi("late-midnight");
    await store([click(doi, "2026-10-20T23:59:45Z", "u1")]);
    await roll("2026-10-20");
    expect((await usage(doi, "2026-10")).regular.tr).toBe(1);
    // The click 25 s later arrives afterwards; the normal rollup run finds both days touched.
    await store([click(doi, "2026-10-21T00:00:10Z", "u1")], RECEIVED_AT + 1000);
    await roll("2026-10-20", "2026-10-21", Date.parse("2026-11-21T00:00:02Z"));
    // 23:59:45 is replaced by 00:00:10 → still 1 request in October, now on the 21st.
    expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 1, ui: 1, tr: 1, ur: 1 });
  });
});

describe("sessions (user key + UTC hour) and user keys", () => {
  it("the same user in two hours is two sessions; twice in one hour is one", async () => {
    const doi = uniqueDoi("two-hours");
    await store([click(doi, at("10:05:00"), "u1"), click(doi, at("10:45:00"), "u1"), click(doi, at("12:05:00"), "u1")]);
    await roll(DAY);
    // Three clicks far apart → 3 totals; hours 10 and 12 → 2 uniques.
    expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 3, ui: 2, tr: 3, ur: 2 });
  });

  it("two users behind one IP (no actor, different browsers) are two sessions", async () => {
    const doi = uniqueDoi("one-ip");
    await store([
      click(doi, at("10:00:00"), null, { client: { ip: "192.0.2.10", user_agent: BROWSER } }),
      click(doi, at("10:00:05"), null, { client: { ip: "192.0.2.10", user_agent: OTHER_BROWSER } }),
    ]);
    await roll(DAY);
    // IP + user agent differ → two user keys → no double-click, two uniques.
    expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 2, ui: 2, tr: 2, ur: 2 });
  });

  it("user id beats session id beats IP + user agent", async () => {
    const byUser = uniqueDoi("prec-user");
    const bySession = uniqueDoi("prec-session");
    const byEmail = uniqueDoi("prec-email");
    await store([
      // Same actor id, two session ids, two IPs, 40 s apart: one user key → one session.
      click(byUser, at("10:00:00"), "u9", { client: { ip: "192.0.2.1", user_agent: BROWSER, session_id: "s-a" } }),
      click(byUser, at("10:00:40"), "u9", { client: { ip: "192.0.2.2", user_agent: BROWSER, session_id: "s-b" } }),
      // No actor, same IP + user agent, two session ids: the session ids decide → two user keys.
      click(bySession, at("10:00:00"), null, { client: { ip: "192.0.2.3", user_agent: BROWSER, session_id: "s-c" } }),
      click(bySession, at("10:00:10"), null, { client: { ip: "192.0.2.3", user_agent: BROWSER, session_id: "s-d" } }),
      // Same e-mail (different case) from two IPs: one user key, 10 s apart → one double-click.
      click(byEmail, at("10:00:00"), null, { actor: { email: "Grace@Example.org" }, client: { ip: "192.0.2.4", user_agent: BROWSER } }),
      click(byEmail, at("10:00:10"), null, { actor: { email: "grace@example.org" }, client: { ip: "192.0.2.5", user_agent: BROWSER } }),
    ]);
    await roll(DAY);
    expect(numbers((await usage(byUser, "2026-10")).regular)).toEqual({ ti: 2, ui: 1, tr: 2, ur: 1 });
    // 10 s apart but different user keys → no double-click: 2 totals, 2 uniques.
    expect(numbers((await usage(bySession, "2026-10")).regular)).toEqual({ ti: 2, ui: 2, tr: 2, ur: 2 });
    expect(numbers((await usage(byEmail, "2026-10")).regular)).toEqual({ ti: 1, ui: 1, tr: 1, ur: 1 });
  });

  it("one user from two countries in one hour: one unique in total, one in each country", async () => {
    const doi = uniqueDoi("two-countries");
    await store([
      click(doi, at("10:05:00"), "u1", { client: { ip: "198.51.100.7", user_agent: BROWSER, country: "de" } }),
      click(doi, at("10:40:00"), "u1", { client: { ip: "198.51.100.8", user_agent: BROWSER, country: "FR" } }),
    ]);
    await roll(DAY);
    const regular = (await usage(doi, "2026-10")).regular;
    expect(numbers(regular)).toEqual({ ti: 2, ui: 1, tr: 2, ur: 1 });
    // Per country: one click and one session each, so the uniques of the countries (2) exceed the total (1).
    expect(regular.countries).toEqual({ de: { ti: 1, ui: 1, tr: 1, ur: 1 }, fr: { ti: 1, ui: 1, tr: 1, ur: 1 } });
  });

  it("the edge's country is used when the caller sends none; unknown stays out of country counts", async () => {
    const doi = uniqueDoi("edge-country");
    await store([click(doi, at("10:00:00"), "u1")], RECEIVED_AT, { country: "NL" });
    await store([click(doi, at("11:00:00"), "u2")]);
    await roll(DAY);
    const regular = (await usage(doi, "2026-10")).regular;
    expect(numbers(regular)).toEqual({ ti: 2, ui: 2, tr: 2, ur: 2 });
    expect(regular.countries).toEqual({ nl: { ti: 1, ui: 1, tr: 1, ur: 1 } });
  });
});

describe("access methods, metric types and what never counts", () => {
  it("robots are stored but never counted; scripted clients and a missing user agent are machine", async () => {
    const doi = uniqueDoi("methods");
    await store([
      click(doi, at("10:00:00"), null, { client: { ip: "192.0.2.20", user_agent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)" } }),
      click(doi, at("10:00:00"), null, { client: { ip: "192.0.2.21", user_agent: "curl/8.5.0" } }),
      click(doi, at("10:00:00"), null, { client: { ip: "192.0.2.22" } }),
      click(doi, at("10:00:00"), null, { client: { ip: "192.0.2.23", user_agent: BROWSER } }),
    ]);
    await roll(DAY);
    const result = await usage(doi, "2026-10");
    // Browser → regular 1; curl and no user agent → two machine users; Googlebot → nothing.
    expect(numbers(result.regular)).toEqual({ ti: 1, ui: 1, tr: 1, ur: 1 });
    expect(numbers(result.machine)).toEqual({ ti: 2, ui: 2, tr: 2, ur: 2 });
    const { body } = await call("GET", `/v1/events?doi=${encodeURIComponent(doi)}`).then(async (r) => ({ body: (await r.json()) as any }));
    expect(body.data.map((event: any) => event.access_method).sort()).toEqual(["machine", "machine", "regular", "robot"]);
  });

  it("views and metadata downloads are investigations; a download is both", async () => {
    const doi = uniqueDoi("investigations");
    await store([
      click(doi, at("10:00:00"), "u1", { action: "view" }),
      click(doi, at("10:00:10"), "u1", { action: "download" }),
      click(doi, at("10:00:15"), "u1", { action: "metadata.download" }),
      click(doi, at("10:00:20"), "u1", { action: "search" }),
    ]);
    await roll(DAY);
    // view + download + metadata.download are three items → 3 investigations; the download → 1 request; `search` is no metric.
    expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 3, ui: 1, tr: 1, ur: 1 });
  });

  it("a bundle of three datasets is one request of each", async () => {
    const [a, b, c] = [uniqueDoi("bundle-a"), uniqueDoi("bundle-b"), uniqueDoi("bundle-c")];
    await store([
      {
        action: "bundle.download",
        occurred_at: at("10:00:00"),
        resource: { type: "bundle", id: `bundle-${a}` },
        actor: { id: "u1" },
        client: { ip: "198.51.100.7", user_agent: BROWSER },
        meta: { dois: [a, b, `https://doi.org/${c.toUpperCase()}`] },
      },
    ]);
    await roll(DAY);
    for (const doi of [a, b, c]) expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 1, ui: 1, tr: 1, ur: 1 });
  });

  it("failures, denials and robots never count; the ingest dedup window does not apply", async () => {
    const doi = uniqueDoi("ignored");
    await store([
      click(doi, at("10:00:00"), "u1", { status: "failure" }),
      click(doi, at("10:10:00"), "u2", { client: { ip: "192.0.2.30", user_agent: "Mozilla/5.0 (compatible; bingbot/2.0)" } }),
    ]);
    const denied = await prepareEvent(EventInputSchema.parse(click(doi, at("10:20:00"), "u3")), config, { keyId: "test", receivedAt: RECEIVED_AT });
    denied.row.status = "denied";
    const duplicate = await prepareEvent(EventInputSchema.parse(click(doi, at("10:30:00"), "u4")), config, { keyId: "test", receivedAt: RECEIVED_AT });
    const original = await prepareEvent(EventInputSchema.parse(click(doi, at("10:25:00"), "u4")), config, { keyId: "test", receivedAt: RECEIVED_AT });
    duplicate.row.duplicate_of = original.row.id;
    await storeEvents(env.DB, [denied, original, duplicate]);
    await roll(DAY);
    // Only u4 counts: 10:25 and 10:30 are 5 minutes apart (not a double-click), and the dedup marker is ignored → 2 / 1.
    expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 2, ui: 1, tr: 2, ur: 1 });
  });

  it("month boundaries: each month reports only its own days", async () => {
    const doi = uniqueDoi("months");
    await store([click(doi, "2026-09-30T12:00:00Z", "u1"), click(doi, "2026-10-01T12:00:00Z", "u1"), click(doi, "2026-10-31T23:00:00Z", "u1")]);
    await roll("2026-09-30", "2026-10-31");
    expect((await usage(doi, "2026-09")).regular.tr).toBe(1);
    expect((await usage(doi, "2026-10")).regular.tr).toBe(2);
  });
});

describe("days not rolled up yet", () => {
  it("are counted from raw rows when the report is made, by the same rules", async () => {
    const doi = uniqueDoi("live");
    await store([click(doi, at("10:00:00", "2026-10-25"), "u1"), click(doi, at("10:00:20", "2026-10-25"), "u1"), click(doi, at("12:00:00", "2026-10-25"), "u1")]);
    // No rollup run: 10:00:00 is a double-click of 10:00:20; 12:00 is a second session → 2 requests, 2 uniques.
    expect(numbers((await usage(doi, "2026-10")).regular)).toEqual({ ti: 2, ui: 2, tr: 2, ur: 2 });
  });
});

describe("bundles the service built", () => {
  it("count one request for each of the bundle's records (its catalog DOIs), not the DOIs the event lists", async () => {
    const [first, second, decoy] = [uniqueDoi("built-a"), uniqueDoi("built-b"), uniqueDoi("built-decoy")];
    const ids = [uniqueId("built"), uniqueId("built")];
    for (const [index, doi] of [first, second].entries()) {
      const metadata = structuredClone(samples.datacite) as any;
      metadata.data.id = doi;
      metadata.data.attributes.doi = doi;
      await createRecord(ids[index]!, { metadata });
    }
    const bundleId = uniqueId("bundle");
    await env.DB.prepare(
      "INSERT INTO bundles (id, job_id, record_ids, include_files, object_key, created_at, expires_at) VALUES (?1, 'job', ?2, 0, 'k', 0, 0)",
    )
      .bind(bundleId, JSON.stringify(ids))
      .run();
    await store([
      {
        action: "bundle.download",
        occurred_at: at("10:00:00", "2026-10-26"),
        resource: { type: "bundle", id: bundleId },
        actor: { id: "u1" },
        client: { ip: "198.51.100.7", user_agent: BROWSER },
        meta: { bundle_id: bundleId, dois: [decoy] },
      },
    ]);
    await roll("2026-10-26");
    expect(numbers((await usage(first, "2026-10")).regular)).toEqual({ ti: 1, ui: 1, tr: 1, ur: 1 });
    expect(numbers((await usage(second, "2026-10")).regular)).toEqual({ ti: 1, ui: 1, tr: 1, ur: 1 });
    expect(numbers((await usage(decoy, "2026-10")).regular)).toEqual({ ti: 0, ui: 0, tr: 0, ur: 0 });
  });
});

describe("the open day", () => {
  it("counts today's events received before the last rollup run, which rolls the open day up to its snapshot", async () => {
    const doi = uniqueDoi("today");
    const now = Date.now();
    const today = new Date(now).toISOString().slice(0, 10);
    const month = today.slice(0, 7);
    await store([click(doi, new Date(now - 60_000).toISOString(), "u1")], now - 50_000);
    // A rollup run after the event was received: the watermark passes it, and today is rolled up to the run's snapshot.
    await runRollup(env.DB, { now: now - 10_000, settleMs: 0, counter: config.counterRules });
    expect(numbers((await usage(doi, month)).regular)).toEqual({ ti: 1, ui: 1, tr: 1, ur: 1 });
  });
});
