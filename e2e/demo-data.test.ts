// The demo repository `npm run dev` seeds (scripts/seed.mjs): plausible catalog, a year and more of history, people,
// scripts and robots. Pure functions, checked in Node without the service.
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ESM script without type declarations
import { demoCatalog, demoEvents } from "../scripts/seed.mjs";

interface DemoRecord { id: string; title: string; public: boolean; published: number; files?: { name: string; bytes: number }[] }
interface DemoEvent { occurred_at: string; action: string; status: string; resource?: { id: string }; client?: { user_agent: string }; bytes?: number }

const generator = (seed: number) => {
  let state = seed;
  const next = () => {
    state = (state * 16807) % 2147483647;
    return state / 2147483647;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: T[]) => items[Math.floor(next() * items.length)]!,
    chance: (probability: number) => next() < probability,
    weighted: <T>(entries: { weight: number; value: T }[]) => {
      let roll = next() * entries.reduce((sum, entry) => sum + entry.weight, 0);
      for (const entry of entries) if ((roll -= entry.weight) < 0) return entry.value;
      return entries.at(-1)!.value;
    },
  };
};

describe("demo data", () => {
  const now = Date.UTC(2026, 10, 29, 12);
  const catalog = demoCatalog(generator(42), now) as DemoRecord[];
  const events = demoEvents(generator(43), catalog, { count: 6_000, days: 400, now }) as DemoEvent[];

  it("has a catalog of distinct records with years in the past and files for the most used ones", () => {
    expect(catalog).toHaveLength(48);
    expect(new Set(catalog.map((record) => record.title)).size).toBe(48);
    for (const record of catalog) {
      const [start, end] = /(\d{4})–(\d{4})$/.exec(record.title)!.slice(1).map(Number);
      expect(start, record.title).toBeLessThan(end!);
      expect(end, record.title).toBeLessThanOrEqual(record.published);
      expect(record.published, record.title).toBeLessThanOrEqual(2025);
    }
    expect(catalog.filter((record) => record.files)).toHaveLength(16);
    expect(catalog.some((record) => record.public) && catalog.some((record) => !record.public)).toBe(true);
  });

  it("spans more than a year, never in the future, with people, scripts and robots", () => {
    const times = events.map((event) => Date.parse(event.occurred_at));
    expect(Math.max(...times)).toBeLessThan(now);
    expect(now - Math.min(...times)).toBeGreaterThan(365 * 86_400_000);
    const agents = events.map((event) => event.client?.user_agent ?? "");
    expect(agents.filter((agent) => /Googlebot|bingbot|AhrefsBot|GPTBot|CCBot|SemrushBot/.test(agent)).length).toBeGreaterThan(100);
    expect(agents.filter((agent) => /^(python-requests|curl|Wget|Python-urllib|R \(|Go-http-client)/.test(agent)).length).toBeGreaterThan(100);
    expect(events.filter((event) => event.status === "failure").length).toBeGreaterThan(50);
  });

  it("downloads only files that exist, with their stored sizes", () => {
    const sizes = new Map(catalog.flatMap((record) => (record.files ?? []).map((file) => [`${record.id}/${file.name}`, file.bytes] as const)));
    const downloads = events.filter((event) => event.action === "download" && event.status === "success") as (DemoEvent & { meta: { file: string } })[];
    expect(downloads.length).toBeGreaterThan(1000);
    for (const event of downloads) expect(event.bytes, `${event.resource!.id}/${event.meta.file}`).toBe(sizes.get(`${event.resource!.id}/${event.meta.file}`));
  });
});
