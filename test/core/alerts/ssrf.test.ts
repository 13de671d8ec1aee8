import { describe, expect, it } from "vitest";
import { checkWebhookUrl } from "../../../src/core/alerts/ssrf";

const production = { allowLocal: false };
const development = { allowLocal: true };
const allowed = (url: string, policy = production) => checkWebhookUrl(url, policy).ok;

describe("webhook URL policy (SSRF)", () => {
  it("allows https to public hosts and addresses", () => {
    expect(allowed("https://hooks.example.com/audit")).toBe(true);
    expect(allowed("https://8.8.8.8/hook")).toBe(true);
    expect(allowed("https://[2606:4700:4700::1111]/hook")).toBe(true);
    expect(allowed("https://[2002:808:808::1]/hook")).toBe(true);
  });

  it("refuses http and credentials in production", () => {
    expect(checkWebhookUrl("http://hooks.example.com/", production)).toEqual({ ok: false, reason: "must use https" });
    expect(allowed("ftp://hooks.example.com/")).toBe(false);
    expect(allowed("https://user:pass@hooks.example.com/")).toBe(false);
    expect(allowed("not a url")).toBe(false);
  });

  it("refuses loopback, private, link-local and reserved IPv4 literals, in every spelling URL parsing accepts", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255"])
      expect(allowed(`https://${host}/`), host).toBe(false);
    // Decimal, hex and short forms that WHATWG URL parsing turns into 127.0.0.1 / 169.254.169.254.
    for (const spelled of ["https://2130706433/", "https://0x7f000001/", "https://127.1/", "https://0251.0376.0251.0376/"]) expect(allowed(spelled), spelled).toBe(false);
    // Neighbours of the ranges stay allowed.
    expect(allowed("https://172.32.0.1/")).toBe(true);
    expect(allowed("https://11.0.0.1/")).toBe(true);
  });

  it("refuses IPv6 loopback, unique-local, link-local, multicast and IPv4-mapped private addresses", () => {
    for (const host of ["[::1]", "[::]", "[fc00::1]", "[fd12:3456::1]", "[fe80::1]", "[ff02::1]", "[::ffff:127.0.0.1]", "[::ffff:10.0.0.1]", "[64:ff9b::a9fe:a9fe]", "[::127.0.0.1]", "[2002:7f00:1::]", "[2002:a9fe:a9fe::1]"])
      expect(allowed(`https://${host}/`), host).toBe(false);
  });

  it("refuses local names: localhost, single labels and internal suffixes", () => {
    for (const host of ["localhost", "api.localhost", "metadata", "printer.local", "db.internal", "router.home.arpa"]) expect(allowed(`https://${host}/`), host).toBe(false);
  });

  it("allows http and loopback only in development, and still refuses private networks there", () => {
    expect(allowed("http://127.0.0.1:8788/hook", development)).toBe(true);
    expect(allowed("http://localhost:8788/hook", development)).toBe(true);
    expect(allowed("http://[::1]:8788/hook", development)).toBe(true);
    expect(allowed("http://127.0.0.1:8788/hook")).toBe(false);
    expect(allowed("http://10.0.0.5/hook", development)).toBe(false);
    expect(allowed("http://169.254.169.254/latest/meta-data", development)).toBe(false);
  });
});
