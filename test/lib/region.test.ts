import { describe, expect, it } from "vitest";
import { regionOf } from "../../src/lib/region";

describe("regionOf: the Durable Object region of a request's client", () => {
  it("maps each continent Cloudflare reports to its location hint", () => {
    expect(regionOf({ continent: "SA", country: "BR" }, "enam")).toBe("sam");
    expect(regionOf({ continent: "OC", country: "AU" }, "enam")).toBe("oc");
    expect(regionOf({ continent: "AF", country: "ZA" }, "enam")).toBe("afr");
    expect(regionOf({ continent: "AS", country: "SG" }, "enam")).toBe("apac");
    expect(regionOf({ continent: "AS", country: "JP" }, "enam")).toBe("apac");
  });

  it("splits North America at 100° W and Europe at 19° E (cf.longitude is a string)", () => {
    expect(regionOf({ continent: "NA", longitude: "-122.41940" }, "weur")).toBe("wnam"); // San Francisco
    expect(regionOf({ continent: "NA", longitude: "-104.99" }, "weur")).toBe("wnam"); // Denver
    expect(regionOf({ continent: "NA", longitude: "-77.03" }, "weur")).toBe("enam"); // Washington
    expect(regionOf({ continent: "NA" }, "weur")).toBe("enam"); // no longitude: the east, where most of the continent's clients are
    expect(regionOf({ continent: "EU", longitude: "8.68" }, "enam")).toBe("weur"); // Frankfurt
    expect(regionOf({ continent: "EU", longitude: "21.01" }, "enam")).toBe("eeur"); // Warsaw
    expect(regionOf({ continent: "EU", longitude: 24.94 }, "enam")).toBe("eeur"); // Helsinki, as a number
  });

  it("sends the Middle East to `me`, not `apac`", () => {
    expect(regionOf({ continent: "AS", country: "AE" }, "enam")).toBe("me");
    expect(regionOf({ continent: "AS", country: "IL" }, "enam")).toBe("me");
  });

  it("falls back to the given region when the edge says nothing usable (local runs, Tor, Antarctica, garbage)", () => {
    expect(regionOf(undefined, "enam")).toBe("enam");
    expect(regionOf({}, "weur")).toBe("weur");
    expect(regionOf({ continent: "T1" }, "enam")).toBe("enam");
    expect(regionOf({ continent: "AN" }, "apac")).toBe("apac");
    expect(regionOf({ continent: 7 }, "enam")).toBe("enam");
  });
});
