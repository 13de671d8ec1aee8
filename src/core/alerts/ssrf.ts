// Outbound URL policy of webhooks (SSRF): which URLs the service may call, checked when a webhook is created and before every delivery.

/**
 * Hand-written: no maintained library checks IP ranges without Node's `net`/`dns` modules, and a Worker cannot resolve
 * names itself. So names are never resolved here; IP literals are checked against the special-purpose ranges
 * (RFC 6890) and local-only names are refused. Production Workers cannot reach private networks through `fetch`, so a
 * public name that resolves to a private address does not reach one either; this check keeps the intent explicit and
 * refuses what would be meaningless or dangerous on another platform.
 */

export interface UrlPolicy {
  /** Development only: allow http:// and loopback (127.0.0.0/8, ::1, localhost) for a receiver on this machine. */
  allowLocal: boolean;
}

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

/** IPv4 ranges that are not public unicast: [first octets as a number, prefix length]. */
const blockedV4: [string, number][] = [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.88.99.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24],
  ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
];

const v4Number = (ip: string) => ip.split(".").reduce((value, octet) => value * 256 + Number(octet), 0);

function parseV4(host: string): number | null {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return null;
  const octets = host.split(".").map(Number);
  return octets.every((octet) => octet <= 255) ? v4Number(host) : null;
}

const inV4Range = (ip: number, [base, bits]: [string, number]) => Math.floor(ip / 2 ** (32 - bits)) === Math.floor(v4Number(base) / 2 ** (32 - bits));
const isLoopbackV4 = (ip: number) => inV4Range(ip, ["127.0.0.0", 8]);

/** Expands an IPv6 literal (without brackets) to eight 16-bit groups, or null when it is not one. */
function parseV6(host: string): number[] | null {
  let address = host.toLowerCase();
  const v4Tail = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (v4Tail) {
    const v4 = parseV4(v4Tail[1]!);
    if (v4 === null) return null;
    address = `${address.slice(0, -v4Tail[1]!.length)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  return groups.every((group) => /^[0-9a-f]{1,4}$/.test(group)) ? groups.map((group) => parseInt(group, 16)) : null;
}

type Kind = "public" | "loopback" | "private";

function classifyV6(groups: number[]): Kind {
  const [a, b] = groups as [number, number];
  if (groups.every((group) => group === 0)) return "private"; // ::
  if (groups.slice(0, 7).every((group) => group === 0) && groups[7] === 1) return "loopback"; // ::1
  // IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) carry an IPv4 address: judge that one.
  const mapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  const nat64 = a === 0x64 && b === 0xff9b && groups.slice(2, 6).every((group) => group === 0);
  if (mapped || nat64) return classifyV4(groups[6]! * 65536 + groups[7]!);
  if (groups.slice(0, 6).every((group) => group === 0)) return "private"; // ::/96, deprecated IPv4-compatible
  if (a === 0x2002) return classifyV4(b * 65536 + groups[2]!); // 6to4 carries an IPv4 address in bits 16–47
  if ((a & 0xfe00) === 0xfc00) return "private"; // fc00::/7 unique local
  if ((a & 0xffc0) === 0xfe80) return "private"; // fe80::/10 link-local
  if ((a & 0xffc0) === 0xfec0) return "private"; // fec0::/10 site-local (deprecated)
  if ((a & 0xff00) === 0xff00) return "private"; // ff00::/8 multicast
  if (a === 0x2001 && b === 0x0db8) return "private"; // 2001:db8::/32 documentation
  if (a === 0x0100 && groups.slice(1, 4).every((group) => group === 0)) return "private"; // 100::/64 discard
  return "public";
}

function classifyV4(ip: number): Kind {
  if (isLoopbackV4(ip)) return "loopback";
  return blockedV4.some((range) => inV4Range(ip, range)) ? "private" : "public";
}

/** Names that only mean something on this machine or network (RFC 6761, RFC 6762, common internal suffixes). */
function classifyName(host: string): Kind {
  const name = host.toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) return "loopback";
  if (!name.includes(".")) return "private";
  if (/\.(local|internal|intranet|lan|home|corp|private|home\.arpa)$/.test(name)) return "private";
  return "public";
}

function classifyHost(hostname: string): Kind {
  if (hostname.startsWith("[") && hostname.endsWith("]")) {
    const groups = parseV6(hostname.slice(1, -1));
    return groups ? classifyV6(groups) : "private";
  }
  // URL parsing already normalised decimal, octal and hex forms of IPv4 (http://2130706433/ → 127.0.0.1).
  const v4 = parseV4(hostname);
  return v4 === null ? classifyName(hostname) : classifyV4(v4);
}

/** Whether the service may send webhooks to `raw`: https to a public host; in development also http and loopback. */
export function checkWebhookUrl(raw: string, policy: UrlPolicy): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not a valid absolute URL" };
  }
  if (url.username || url.password) return { ok: false, reason: "must not contain credentials" };
  const kind = classifyHost(url.hostname);
  if (kind === "private") return { ok: false, reason: `host ${url.hostname} is private, link-local or reserved` };
  if (kind === "loopback" && !policy.allowLocal) return { ok: false, reason: `host ${url.hostname} is loopback (allowed only in development)` };
  if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.allowLocal))
    return { ok: false, reason: policy.allowLocal ? "must use http or https" : "must use https" };
  return { ok: true, url };
}
