import { describe, expect, it } from "vitest";
import { fromDataCite } from "../../../../src/core/catalog/metadata/datacite";
import sample from "../../../fixtures/metadata/datacite4-dataset.json";

describe("DataCite 4 adapter", () => {
  const record = fromDataCite(sample);

  it("reads identity fields from the REST API's JSON:API document", () => {
    expect(record.doi).toBe("10.15493/saeon.ocean.2021.001");
    expect(record.title).toBe("Sea surface temperature and salinity, Algoa Bay moorings, 2019-2021");
    expect(record.publisher).toBe("South African Environmental Observation Network (SAEON)");
    expect(record.publication_year).toBe(2021);
    expect(record.version).toBe("1.2");
    expect(record.resource_type).toBe("Dataset");
  });

  it("reads creators with affiliations in both shapes and ORCIDs from URL or bare ids", () => {
    expect(record.creators).toEqual([
      { name: "Nkosi, Thandiwe", affiliations: ["South African Environmental Observation Network"], orcid: "0000-0002-1825-0097" },
      { name: "Müller, Jörg", affiliations: ["University of Cape Town", "Alfred Wegener Institute"], orcid: "0000-0001-5109-3700" },
      { name: "Marine Data Unit", affiliations: [], orcid: null },
    ]);
  });

  it("takes the Abstract (keeping paragraphs), keywords, schemed subjects and coverage", () => {
    expect(record.abstract).toMatch(/^Hourly sea surface temperature .*South Africa\.\n\nInstruments were serviced/);
    expect(record.keywords).toEqual(["sea surface temperature", "salinity"]);
    expect(record.subjects).toContainEqual({ subject: "EARTH SCIENCE > OCEANS > OCEAN TEMPERATURE", scheme: "GCMD Science Keywords" });
    expect(record.temporal).toEqual({ start: "2019-03-01", end: "2021-02-28" });
    expect(record.spatial).toEqual([
      { place: "Algoa Bay, Eastern Cape, South Africa", box: { west: 25.6, east: 26.3, south: -34.1, north: -33.7 }, point: null },
      { place: "Mooring AB-2", box: null, point: { longitude: 25.85, latitude: -33.92 } },
    ]);
  });

  it("reads rights, related identifiers and funding", () => {
    expect(record.rights).toEqual([
      { name: "Creative Commons Attribution 4.0 International", uri: "https://creativecommons.org/licenses/by/4.0/legalcode", identifier: "cc-by-4.0" },
    ]);
    expect(record.related).toContainEqual({ identifier: "10.1016/j.csr.2020.104201", type: "DOI", relation: "IsSupplementTo" });
    expect(record.funding).toEqual([
      { funder: "National Research Foundation", funder_id: "https://doi.org/10.13039/501100001321", award_number: "UID 118812", award_title: "Coastal ocean observations for the Eastern Cape" },
    ]);
    expect(record.warnings).toEqual([]);
  });

  it("accepts bare attributes, the kernel JSON spellings (rightsURI, affiliation objects) and DOI identifiers", () => {
    const kernel = fromDataCite({
      identifier: { identifier: "10.5281/ZENODO.123", identifierType: "DOI" },
      creators: [{ creatorName: "Doe, Jane", affiliation: [{ affiliation: "CSIR" }] }],
      titles: [{ title: "Kernel-style record" }],
      publisher: { name: "Zenodo" },
      publicationYear: "2019",
      rightsList: [{ rights: "CC0", rightsURI: "https://creativecommons.org/publicdomain/zero/1.0/" }],
      fundingReferences: [{ funderName: "EC", awardNumber: { awardNumber: "654321", awardURI: "https://cordis.europa.eu/" } }],
    });
    expect(kernel.doi).toBe("10.5281/zenodo.123");
    expect(kernel.creators).toEqual([{ name: "Doe, Jane", affiliations: ["CSIR"], orcid: null }]);
    expect(kernel.publisher).toBe("Zenodo");
    expect(kernel.publication_year).toBe(2019);
    expect(kernel.rights[0]!.uri).toBe("https://creativecommons.org/publicdomain/zero/1.0/");
    expect(kernel.funding[0]!.award_number).toBe("654321");
  });

  it("degrades gracefully: wrong types and missing fields give empty values and warnings, never an exception", () => {
    const odd = fromDataCite({
      doi: "not a doi",
      creators: [{ affiliation: "nowhere" }, "Plain string creator", { givenName: "Only", familyName: "Family" }],
      titles: "not a list",
      geoLocations: [{ geoLocationBox: { westBoundLongitude: 500 } }],
      descriptions: [{ description: 42 }],
      subjects: [null, 7, { subject: "  " }],
    });
    expect(odd.doi).toBeNull();
    expect(odd.title).toBeNull();
    expect(odd.creators).toEqual([{ name: "Family, Only", affiliations: [], orcid: null }]);
    expect(odd.keywords).toEqual(["7"]);
    expect(odd.spatial).toEqual([]);
    expect(odd.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/creator/), expect.stringMatching(/geoLocations\[0\]/)]));
    expect(fromDataCite("nonsense").warnings).toEqual(["metadata is not a DataCite JSON object"]);
  });
});
