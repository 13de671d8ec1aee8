// Access method and country classification: every scripted client of the machine list, robots from COUNTER's list,
// browsers, and the missing user agent.
import { describe, expect, it } from "vitest";
import { accessMethodOf, countryOf } from "../../../src/core/counter/classify";
import { MACHINE_AGENTS } from "../../../src/core/counter/machines";

describe("accessMethodOf", () => {
  for (const agent of MACHINE_AGENTS)
    it(`${agent.name} (${agent.example}) is machine`, () => {
      expect(new RegExp(agent.pattern, "i").test(agent.example)).toBe(true);
      expect(accessMethodOf(agent.example)).toBe("machine");
    });

  it("no user agent at all is machine", () => {
    expect(accessMethodOf(null)).toBe("machine");
    expect(accessMethodOf(undefined)).toBe("machine");
    expect(accessMethodOf("   ")).toBe("machine");
  });

  it.each([
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; YandexBot/3.0)",
    "Scrapy/2.11.0 (+https://scrapy.org)",
    "facebookexternalhit/1.1",
    "X",
  ])("%s is a robot (COUNTER list, case-insensitive)", (agent) => {
    expect(accessMethodOf(agent)).toBe("robot");
  });

  it.each([
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
  ])("%s is regular", (agent) => {
    expect(accessMethodOf(agent)).toBe("regular");
  });
});

describe("countryOf", () => {
  it("prefers the caller's country, upper-cases it, falls back to the edge's, and drops unknown markers", () => {
    expect(countryOf("de", "FR")).toBe("DE");
    expect(countryOf(undefined, "FR")).toBe("FR");
    expect(countryOf(undefined, "XX")).toBeNull();
    expect(countryOf(undefined, "T1")).toBeNull();
    expect(countryOf(null, undefined)).toBeNull();
  });
});
