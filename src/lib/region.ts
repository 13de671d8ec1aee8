// The Durable Object region (location hint) nearest a request, from what Cloudflare's edge says about its client.

/** Durable Object location hints the service places regional shards in (Cloudflare's list, without the apac sub-hints). */
export const REGIONS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const satisfies readonly DurableObjectLocationHint[];
export type Region = (typeof REGIONS)[number];

/** Countries Cloudflare files under continent AS that the `me` (Middle East) hint serves better than `apac`. */
const MIDDLE_EAST = new Set(["AE", "BH", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "PS", "QA", "SA", "SY", "TR", "YE"]);

/** West of this longitude North America is `wnam` (Denver, Phoenix, the Pacific coast); east of it `enam`. */
const WEST_NORTH_AMERICA_BELOW_LONGITUDE = -100;
/** East of this longitude Europe is `eeur` (Warsaw, Budapest, Helsinki and beyond); west of it `weur`. */
const EAST_EUROPE_FROM_LONGITUDE = 19;

interface EdgeLocation {
  continent?: unknown;
  country?: unknown;
  longitude?: unknown;
}

/**
 * The region of a request's client: `request.cf.continent`, split by longitude in North America and Europe and by
 * country in Asia. `fallback` when the edge says nothing usable (local runs, Tor's `T1`, Antarctica).
 */
export function regionOf(cf: EdgeLocation | undefined, fallback: Region): Region {
  const continent = typeof cf?.continent === "string" ? cf.continent : undefined;
  const longitude = typeof cf?.longitude === "string" || typeof cf?.longitude === "number" ? Number(cf.longitude) : Number.NaN;
  switch (continent) {
    case "NA":
      return longitude < WEST_NORTH_AMERICA_BELOW_LONGITUDE ? "wnam" : "enam";
    case "SA":
      return "sam";
    case "EU":
      return longitude >= EAST_EUROPE_FROM_LONGITUDE ? "eeur" : "weur";
    case "AS":
      return typeof cf?.country === "string" && MIDDLE_EAST.has(cf.country) ? "me" : "apac";
    case "OC":
      return "oc";
    case "AF":
      return "afr";
    default:
      return fallback;
  }
}

/** The region of a live request (`request.cf`, set by Cloudflare's edge; absent in local runs). */
export const requestRegion = (request: Request, fallback: Region): Region =>
  regionOf((request as Request & { cf?: EdgeLocation }).cf, fallback);
