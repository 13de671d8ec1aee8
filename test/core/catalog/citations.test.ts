import { describe, expect, it } from "vitest";
import { bibtexEntry, risEntry } from "../../../src/core/catalog/citations";
import { fromDataCite } from "../../../src/core/catalog/metadata/datacite";
import { reproduceScript, type ReproduceManifest } from "../../../src/core/catalog/reproduce";
import { samples } from "../../catalog-helpers";

describe("citations", () => {
  const normalised = fromDataCite(samples.datacite);

  it("writes BibTeX with escaped specials, personal names as is and organisations braced", () => {
    const entry = bibtexEntry({ id: "rec-1", doi: "10.1234/a_b", title: "50% of {C_2} & $x$ #1 ~ ^", normalised });
    expect(entry).toBe(
      [
        "@misc{10.1234_a_b,",
        "  author = {Nkosi, Thandiwe and Müller, Jörg and {Marine Data Unit}},",
        "  title = {{50\\% of \\{C\\_2\\} \\& \\$x\\$ \\#1 \\~{} \\^{}}},",
        "  publisher = {South African Environmental Observation Network (SAEON)},",
        "  year = {2021},",
        `  version = {${normalised.version}},`,
        "  doi = {10.1234/a\\_b},",
        "  url = {https://doi.org/10.1234/a_b},",
        "  howpublished = {Dataset}",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("cites a record that left the catalog from what its events recorded", () => {
    expect(bibtexEntry({ id: "gone", doi: null, title: "Gone", normalised: null, url: "https://example.org/gone" })).toBe(
      "@misc{gone,\n  title = {{Gone}},\n  url = {https://example.org/gone},\n  howpublished = {Dataset}\n}\n",
    );
    expect(risEntry({ id: "gone", doi: null, title: "Gone\nrecord", normalised: null })).toBe("TY  - DATA\r\nTI  - Gone record\r\nID  - gone\r\nER  - \r\n");
  });

  it("writes RIS tags in order, one per line, with CRLF", () => {
    const lines = risEntry({ id: "rec-1", doi: "10.1234/x", title: "T", normalised }).split("\r\n");
    expect(lines.slice(0, 5)).toEqual(["TY  - DATA", "AU  - Nkosi, Thandiwe", "AU  - Müller, Jörg", "AU  - Marine Data Unit", "TI  - T"]);
    expect(lines).toContain("DO  - 10.1234/x");
    expect(lines).toContain("UR  - https://doi.org/10.1234/x");
    expect(lines.at(-2)).toBe("ER  - ");
  });
});

describe("reproduction script", () => {
  const manifest: ReproduceManifest = {
    generated_at: "2026-03-01T00:00:00.000Z",
    person: { actor_id: "it's me\nrm -rf /", email: null },
    period: { from: null, to: null },
    links_expire_at: "2026-03-02T00:00:00.000Z",
    downloads: 1,
    files: [
      {
        record_id: "rec-1",
        doi: null,
        name: "a b.csv",
        path: "rec-1/a b.csv",
        size: 1,
        sha256: "a".repeat(64),
        uploaded_at: "2026-01-01T00:00:00.000Z",
        status: "available",
        reason: null,
        url: "https://example.org/d/it's$(id)`x`",
        downloads: [{ at: "2026-02-01T00:00:00.000Z", event_id: "e1", via: "download", bundle_id: null }],
      },
    ],
    datasets: [{ id: "rec-1", doi: null, title: "T\u2028x", in_catalog: true, citation: "C (2020). T.\n$(reboot)", first_downloaded_at: "2026-02-01T00:00:00.000Z" }],
  };

  it("quotes every value as one shell word and keeps header text inside its comment", () => {
    const script = reproduceScript(manifest);
    expect(script).toContain(`fetch 1 1 'https://example.org/d/it'\\''s$(id)\`x\`' 'rec-1/a b.csv' '${"a".repeat(64)}'`);
    expect(script).toContain("# Person: actor_id it's me rm -rf /");
    expect(script).toContain("#   [rec-1] C (2020). T. $(reboot)");
    // Every line is a comment, blank, or one of the script's own commands.
    const code = script.split("\n").filter((line) => line && !line.startsWith("#"));
    expect(code.some((line) => /^(rm|reboot|\$\()/.test(line.trim()))).toBe(false);
  });
});
