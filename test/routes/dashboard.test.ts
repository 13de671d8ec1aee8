import { describe, expect, it } from "vitest";
import { selfOnlyContentSecurityPolicy as dashboardContentSecurityPolicy } from "../../src/routes/static-assets";
import { call } from "../helpers";

describe("dashboard", () => {
  it("serves the HTML shell at /dashboard with a CSP that allows only the Worker's own files", async () => {
    for (const path of ["/dashboard", "/dashboard/"]) {
      const response = await call("GET", path, { key: null });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/html/);
      expect(response.headers.get("content-security-policy")).toBe(dashboardContentSecurityPolicy);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      const html = await response.text();
      expect(html).toContain('<script type="module" src="/dashboard/app.js"></script>');
      expect(html).not.toMatch(/https?:\/\//);
    }
    expect(dashboardContentSecurityPolicy).toContain("script-src 'self'");
    expect(dashboardContentSecurityPolicy).not.toContain("unsafe-inline");
  });

  it("serves the bundled script and stylesheet (uPlot included) from the Worker", async () => {
    const script = await call("GET", "/dashboard/app.js", { key: null });
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toMatch(/javascript/);
    expect(await script.text()).toContain("uplot");
    const style = await call("GET", "/dashboard/app.css", { key: null });
    expect(style.status).toBe(200);
    expect(style.headers.get("content-type")).toMatch(/^text\/css/);
    expect(await style.text()).toContain(".u-legend");
  });

  it("answers conditional requests with 304", async () => {
    const first = await call("GET", "/dashboard/app.js", { key: null });
    const etag = first.headers.get("etag");
    expect(etag).toBeTruthy();
    const again = await call("GET", "/dashboard/app.js", { key: null, headers: { "if-none-match": etag! } });
    expect(again.status).toBe(304);
  });

  it("answers unknown dashboard files with the API's 404 error", async () => {
    const response = await call("GET", "/dashboard/missing.js", { key: null });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  it("tells the page where catalog records live", async () => {
    const response = await call("GET", "/dashboard/settings.json", { key: null });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ catalog_record_url: "https://doi.org/{doi}" });
  });
});

describe("finding 9b: dashboard file names that are Object.prototype members", () => {
  it("finding 9b: answers /dashboard/constructor, __proto__, toString and hasOwnProperty with 404, not 500", async () => {
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"]) {
      const response = await call("GET", `/dashboard/${name}`, { key: null });
      expect(response.status, name).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("not_found");
    }
  });
});
