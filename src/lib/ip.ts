// What the request says about its client: which IP header to believe, one canonical spelling per address, truncation
// to a network prefix before storage, and the country Cloudflare's edge resolved.

/** Longer than any textual IP address with a zone id; anything longer is not an address (and is never scanned). */
const MAX_IP_TEXT = 64;

function parseIpv4(text: string): number[] | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!match) return undefined;
  const octets = match.slice(1).map(Number);
  return octets.every((octet) => octet <= 255) ? octets : undefined;
}

/** `request.cf.country` as Cloudflare's edge resolved it (no GeoIP database here); undefined outside Cloudflare. */
export function edgeCountry(request: Request): string | undefined {
  const country = (request as Request & { cf?: { country?: unknown } }).cf?.country;
  return typeof country === "string" ? country : undefined;
}

/** The eight 16-bit groups of an IPv6 address in any RFC 4291 notation (`::`, embedded IPv4, zone id); undefined otherwise. */
function parseIpv6(text: string): number[] | undefined {
  let address = text.split("%")[0]!;
  const lastColon = address.lastIndexOf(":");
  if (lastColon >= 0 && address.includes(".", lastColon)) {
    const octets = parseIpv4(address.slice(lastColon + 1));
    if (!octets) return undefined;
    address = `${address.slice(0, lastColon + 1)}${((octets[0]! << 8) | octets[1]!).toString(16)}:${((octets[2]! << 8) | octets[3]!).toString(16)}`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const [head, tail] = halves;
  const headParts = head ? head.split(":") : [];
  const tailParts = tail ? tail.split(":") : [];
  const missing = 8 - headParts.length - tailParts.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const parts = [...headParts, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tailParts];
  return parts.every((part) => /^[0-9a-f]{1,4}$/i.test(part)) ? parts.map((part) => parseInt(part, 16)) : undefined;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::` (the first on a tie). */
function formatIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; ) {
    if (groups[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

type ParsedIp = { version: 4; octets: number[] } | { version: 6; groups: number[] };

/** Parses an address; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address it carries. */
function parseIp(text: string): ParsedIp | undefined {
  const trimmed = text.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_IP_TEXT) return undefined;
  const octets = parseIpv4(trimmed);
  if (octets) return { version: 4, octets };
  const groups = parseIpv6(trimmed);
  if (!groups) return undefined;
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff)
    return { version: 4, octets: [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff] };
  return { version: 6, groups };
}

/** Zeroes every bit of `groups` after the first `bits`. */
function maskIpv6(groups: number[], bits: number): number[] {
  return groups.map((group, index) => {
    const kept = Math.min(16, Math.max(0, bits - index * 16));
    return kept === 0 ? 0 : group & ((0xffff << (16 - kept)) & 0xffff);
  });
}

/**
 * The one spelling of an address: IPv4 dotted decimal (IPv4-mapped IPv6 included), IPv6 per RFC 5952 without zone id.
 * `2001:DB8::1`, `2001:db8:0:0:0:0:0:1` and `2001:0db8::0001` are all `2001:db8::1`. Undefined for anything else.
 */
export function canonicalIp(text: string): string | undefined {
  const ip = parseIp(text);
  if (!ip) return undefined;
  return ip.version === 4 ? ip.octets.join(".") : formatIpv6(ip.groups);
}

/**
 * The client as the per-IP download limit counts it: an IPv4 address, or the IPv6 network of `ipv6PrefixBits`
 * (`2001:db8:1:2::/64` by default), because one subscriber is usually handed a whole /64 and could otherwise rotate
 * through 2^64 addresses, each with its own allowance.
 */
export function clientNetwork(text: string, ipv6PrefixBits: number): string | undefined {
  const ip = parseIp(text);
  if (!ip) return undefined;
  return ip.version === 4 ? ip.octets.join(".") : `${formatIpv6(maskIpv6(ip.groups, ipv6PrefixBits))}/${ipv6PrefixBits}`;
}

/** Truncates an IP to its network for storage: IPv4 to /24 ("203.0.113.0"), IPv6 to /48 ("2001:db8:1::"). */
export function truncateIp(text: string): string | undefined {
  const ip = parseIp(text);
  if (!ip) return undefined;
  return ip.version === 4 ? `${ip.octets.slice(0, 3).join(".")}.0` : formatIpv6(maskIpv6(ip.groups, 48));
}

/**
 * The client IP in canonical form: the first `X-Forwarded-For` hop when forwarded headers are trusted and it is an
 * address, else `CF-Connecting-IP`. Header text that is not an address is ignored, so it never reaches storage.
 */
export function clientIpFromHeaders(headers: Headers, trustForwarded: boolean): string | undefined {
  if (trustForwarded) {
    const forwarded = headers.get("x-forwarded-for")?.split(",", 1)[0];
    const ip = forwarded === undefined ? undefined : canonicalIp(forwarded);
    if (ip) return ip;
  }
  const connecting = headers.get("cf-connecting-ip");
  return connecting === null ? undefined : canonicalIp(connecting);
}
