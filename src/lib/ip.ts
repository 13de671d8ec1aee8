// What the request says about its client: which IP header to believe, truncation to a network prefix before storage,
// and the country Cloudflare's edge resolved.

/** The client IP: `CF-Connecting-IP`, or the first `X-Forwarded-For` hop only when forwarded headers are trusted. */
export function clientIpFromHeaders(headers: Headers, trustForwarded: boolean): string | undefined {
  if (trustForwarded) {
    const forwarded = headers.get("x-forwarded-for")?.split(",")[0]?.trim();
    if (forwarded) return forwarded;
  }
  return headers.get("cf-connecting-ip") ?? undefined;
}

/** `request.cf.country` as Cloudflare's edge resolved it (no GeoIP database here); undefined outside Cloudflare. */
export function edgeCountry(request: Request): string | undefined {
  const country = (request as Request & { cf?: { country?: unknown } }).cf?.country;
  return typeof country === "string" ? country : undefined;
}

function expandIpv6(ip: string): number[] | undefined {
  let address = ip.split("%")[0]!;
  const v4Tail = address.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4Tail) {
    const octets = v4Tail[1]!.split(".").map(Number);
    address = address.slice(0, -v4Tail[1]!.length) + `${((octets[0]! << 8) | octets[1]!).toString(16)}:${((octets[2]! << 8) | octets[3]!).toString(16)}`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const [head, tail] = halves;
  const headParts = head ? head.split(":") : [];
  const tailParts = tail ? tail.split(":") : [];
  const missing = 8 - headParts.length - tailParts.length;
  if (halves.length === 2 ? missing < 0 : missing !== 0) return undefined;
  const parts = [...headParts, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tailParts];
  return parts.every((part) => /^[0-9a-f]{1,4}$/i.test(part)) ? parts.map((part) => parseInt(part, 16)) : undefined;
}

/** Truncates an IP to its network: IPv4 to /24 ("203.0.113.0"), IPv6 to /48 ("2001:db8:1::"). */
export function truncateIp(ip: string): string | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) {
    const octets = ip.split(".").map(Number);
    if (octets.some((octet) => octet > 255)) return undefined;
    return `${octets[0]}.${octets[1]}.${octets[2]}.0`;
  }
  const groups = expandIpv6(ip);
  if (!groups) return undefined;
  const mappedV4 = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  if (mappedV4) return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.0`;
  return `${groups.slice(0, 3).map((group) => group.toString(16)).join(":")}::`;
}
