import { describe, expect, it } from "vitest";
import { clientIpFromHeaders, truncateIp } from "../../src/lib/ip";

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
    expect(truncateIp("2001:db8::1")).toBe("2001:db8:0::");
    expect(truncateIp("::1")).toBe("0:0:0::");
    expect(truncateIp("fe80::1%eth0")).toBe("fe80:0:0::");
    expect(truncateIp("2001:db8:abcd:1::192.0.2.33")).toBe("2001:db8:abcd::");
  });

  it("treats IPv4-mapped IPv6 addresses as IPv4", () => {
    expect(truncateIp("::ffff:198.51.100.23")).toBe("198.51.100.0");
    expect(truncateIp("::ffff:c633:6417")).toBe("198.51.100.0");
  });

  it("returns undefined for anything that is not an IP address", () => {
    for (const value of ["", "256.1.1.1", "1.2.3", "example.org", "1:2:3", "1::2::3", "2001:db8:zzzz::1", "1:2:3:4:5:6:7:8:9", "1g::1", "12345::1", "::ffff:999.1.1.1"]) expect(truncateIp(value), value).toBeUndefined();
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

  it("returns undefined without either header", () => {
    expect(clientIpFromHeaders(new Headers(), true)).toBeUndefined();
    expect(clientIpFromHeaders(new Headers({ "x-forwarded-for": "192.0.2.99" }), false)).toBeUndefined();
  });
});
