import { describe, expect, it } from "vitest";
import { canonicalIp, clientIpFromHeaders, clientNetwork, truncateIp } from "../../src/lib/ip";

describe("truncateIp", () => {
  it("keeps the /24 of an IPv4 address", () => {
    expect(truncateIp("203.0.113.77")).toBe("203.0.113.0");
    expect(truncateIp("10.0.0.0")).toBe("10.0.0.0");
    expect(truncateIp("255.255.255.255")).toBe("255.255.255.0");
  });

  it("keeps the /48 of an IPv6 address in any notation", () => {
    expect(truncateIp("2001:db8:abcd:12:3456:789a:bcde:f012")).toBe("2001:db8:abcd::");
    expect(truncateIp("2001:0DB8:ABCD:0012:0000:0000:0000:0001")).toBe("2001:db8:abcd::");
    expect(truncateIp("2001:db8:abcd::1")).toBe("2001:db8:abcd::");
    expect(truncateIp("2001:db8::1")).toBe("2001:db8::");
    expect(truncateIp("::1")).toBe("::");
    expect(truncateIp("fe80::1%eth0")).toBe("fe80::");
    expect(truncateIp("2001:db8:abcd:1::192.0.2.33")).toBe("2001:db8:abcd::");
  });

  it("treats IPv4-mapped IPv6 addresses as IPv4", () => {
    expect(truncateIp("::ffff:198.51.100.23")).toBe("198.51.100.0");
    expect(truncateIp("::ffff:c633:6417")).toBe("198.51.100.0");
  });

  it("returns undefined for anything that is not an IP address", () => {
    for (const value of ["", "256.1.1.1", "1.2.3", "example.org", "1:2:3", "1::2::3", "2001:db8:zzzz::1", "1:2:3:4:5:6:7:8:9", "1g::1", "12345::1", "::ffff:999.1.1.1", "::ffff:1.2.3.256", "1:2:3:4::5:6:7:8", "x".repeat(10_000)]) expect(truncateIp(value), value).toBeUndefined();
  });
});

describe("canonicalIp (finding 6: one spelling per address)", () => {
  it("finding 6: spells every notation of one IPv6 address the RFC 5952 way", () => {
    for (const spelling of ["2001:DB8::1", "2001:db8:0:0:0:0:0:1", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::0:1", " 2001:db8::1 ", "2001:db8::1%eth0"])
      expect(canonicalIp(spelling), spelling).toBe("2001:db8::1");
  });

  it("finding 6: turns IPv4-mapped IPv6 addresses into the IPv4 address", () => {
    expect(canonicalIp("::ffff:203.0.113.50")).toBe("203.0.113.50");
    expect(canonicalIp("::FFFF:CB00:7132")).toBe("203.0.113.50");
    expect(canonicalIp("0:0:0:0:0:ffff:203.0.113.50")).toBe("203.0.113.50");
    expect(canonicalIp("203.0.113.050")).toBe("203.0.113.50");
  });

  it("compresses the longest run of zero groups, the first on a tie, and never a single group", () => {
    expect(canonicalIp("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(canonicalIp("2001:0:0:1:0:0:0:1")).toBe("2001:0:0:1::1");
    expect(canonicalIp("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1");
    expect(canonicalIp("0:0:0:0:0:0:0:0")).toBe("::");
    expect(canonicalIp("1:0:0:0:0:0:0:0")).toBe("1::");
  });

  it("returns undefined for text that is not an address", () => {
    for (const value of ["", "abc", "1.2.3.4.5", "::ffff:1.2.3", "1:2:3:4:5:6:7:8:9", "y".repeat(100_000)]) expect(canonicalIp(value), value.slice(0, 20)).toBeUndefined();
  });
});

describe("clientNetwork (finding 6: what the download limit counts)", () => {
  it("finding 6: puts every address of an IPv6 /64 in one network, and IPv4 per address", () => {
    expect(clientNetwork("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64)).toBe("2001:db8:1:2::/64");
    expect(clientNetwork("2001:DB8:1:2::1", 64)).toBe("2001:db8:1:2::/64");
    expect(clientNetwork("2001:db8:1:3::1", 64)).toBe("2001:db8:1:3::/64");
    expect(clientNetwork("203.0.113.50", 64)).toBe("203.0.113.50");
    expect(clientNetwork("::ffff:203.0.113.50", 64)).toBe("203.0.113.50");
  });

  it("masks at any prefix length, including inside a group", () => {
    expect(clientNetwork("2001:db8:1:2:aaaa::1", 128)).toBe("2001:db8:1:2:aaaa::1/128");
    expect(clientNetwork("2001:db8:1:2:aaaa::1", 48)).toBe("2001:db8:1::/48");
    // 56 bits: the fourth group 0x12ff keeps its high byte 0x12.
    expect(clientNetwork("2001:db8:1:12ff::1", 56)).toBe("2001:db8:1:1200::/56");
  });
});

describe("clientIpFromHeaders", () => {
  const headers = new Headers({ "cf-connecting-ip": "198.51.100.23", "x-forwarded-for": " 192.0.2.99 , 10.0.0.1" });

  it("believes CF-Connecting-IP and ignores X-Forwarded-For unless trusted", () => {
    expect(clientIpFromHeaders(headers, false)).toBe("198.51.100.23");
  });

  it("takes the first X-Forwarded-For hop when forwarded headers are trusted", () => {
    expect(clientIpFromHeaders(headers, true)).toBe("192.0.2.99");
    expect(clientIpFromHeaders(new Headers({ "cf-connecting-ip": "198.51.100.23" }), true)).toBe("198.51.100.23");
  });

  it("finding 7: canonicalises header addresses and ignores header text that is not an address", () => {
    expect(clientIpFromHeaders(new Headers({ "cf-connecting-ip": "::FFFF:203.0.113.50" }), false)).toBe("203.0.113.50");
    expect(clientIpFromHeaders(new Headers({ "cf-connecting-ip": "z".repeat(5000) }), false)).toBeUndefined();
    expect(clientIpFromHeaders(new Headers({ "cf-connecting-ip": "198.51.100.23", "x-forwarded-for": "not-an-ip, 10.0.0.1" }), true)).toBe("198.51.100.23");
  });

  it("returns undefined without either header", () => {
    expect(clientIpFromHeaders(new Headers(), true)).toBeUndefined();
    expect(clientIpFromHeaders(new Headers({ "x-forwarded-for": "192.0.2.99" }), false)).toBeUndefined();
  });
});
