import { describe, expect, it } from "vitest";
import { fromIso19115 } from "../../../../src/core/catalog/metadata/iso19115";
import sample from "../../../fixtures/metadata/iso19115-odp.json";

describe("ISO 19115 (ODP JSON) adapter", () => {
  const record = fromIso19115(sample);

  it("reads identity fields", () => {
    expect(record.doi).toBe("10.15493/dea.mims.10092021");
    expect(record.title).toBe("Benthic macrofauna of the Agulhas Bank shelf, 2018 survey");
    expect(record.publication_year).toBe(2021);
    expect(record.publisher).toBe("Department of Forestry, Fisheries and the Environment (DFFE)");
    expect(record.resource_type).toBe("dataset");
  });

  it("takes originators and principal investigators as creators, not points of contact", () => {
    expect(record.creators).toEqual([
      { name: "Pillay, Devashan", affiliations: ["Department of Forestry, Fisheries and the Environment"], orcid: "0000-0003-1234-5678" },
      { name: "van der Merwe, Anika", affiliations: ["University of Stellenbosch"], orcid: null },
    ]);
  });

  it("splits theme keywords from place/stratum keywords and topic categories", () => {
    expect(record.keywords).toEqual(["macrofauna", "benthos"]);
    expect(record.subjects).toEqual([
      { subject: "Agulhas Bank", scheme: "ISO 19115 place" },
      { subject: "continental shelf", scheme: "ISO 19115 stratum" },
      { subject: "oceans", scheme: "ISO 19115 topic category" },
      { subject: "biota", scheme: "ISO 19115 topic category" },
    ]);
  });

  it("reads extent, constraints and related identifiers; a bad bounding box is left out with a warning", () => {
    expect(record.spatial).toEqual([{ place: "Agulhas Bank, South Africa", box: { west: 19.5, east: 23.8, south: -36.9, north: -34.3 }, point: null }]);
    expect(record.warnings).toEqual(["extent.geographicElements[1].boundingBox is incomplete or out of range"]);
    expect(record.temporal).toEqual({ start: "2018-04-02T00:00:00+02:00", end: "2018-05-14T00:00:00+02:00" });
    expect(record.rights).toEqual([{ name: "Attribution-ShareAlike 4.0 International (CC BY-SA 4.0)", uri: "https://creativecommons.org/licenses/by-sa/4.0/", identifier: null }]);
    expect(record.related).toEqual([{ identifier: "10.2989/1814232X.2020.1776389", type: "DOI", relation: "IsReferencedBy" }]);
    expect(record.abstract).toMatch(/^Grab samples from 64 stations/);
  });

  it("degrades gracefully on unexpected shapes", () => {
    const odd = fromIso19115({ title: 12, responsibleParties: "nobody", extent: [], descriptiveKeywords: ["loose keyword", { keyword: null }], constraints: [{}] });
    expect(odd.title).toBe("12");
    expect(odd.creators).toEqual([]);
    expect(odd.spatial).toEqual([]);
    expect(odd.temporal).toBeNull();
    expect(odd.keywords).toEqual(["loose keyword"]);
    expect(odd.rights).toEqual([]);
    expect(fromIso19115([1, 2]).warnings).toEqual(["metadata is not an ISO 19115 JSON object"]);
  });
});
