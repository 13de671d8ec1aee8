// DataCite Metadata Schema 4.x as JSON (REST API attributes or the JSON:API document) → normalised record.
import { boundingBox, type Creator, doi, emptyRecord, isObject, type Json, list, type NormalisedRecord, number, orcid, paragraphs, relatedIdentifiers, type SpatialCoverage, text, unique, year } from "./normalised";

/** Accepts `{data:{attributes}}` (the REST API's JSON:API document), `{attributes}` or the attributes themselves. */
function attributesOf(document: unknown): Json {
  if (!isObject(document)) return {};
  if (isObject(document.data) && isObject(document.data.attributes)) return document.data.attributes;
  if (isObject(document.attributes)) return document.attributes;
  return document;
}

function affiliationNames(value: unknown): string[] {
  return list(value)
    .map((affiliation) => (isObject(affiliation) ? text(affiliation.name ?? affiliation.affiliation) : text(affiliation)))
    .filter((name): name is string => name !== null);
}

function creatorOf(value: unknown): Creator | null {
  if (!isObject(value)) return null;
  const family = text(value.familyName);
  const given = text(value.givenName);
  const name = text(value.name) ?? text(value.creatorName) ?? (family ? [family, given].filter(Boolean).join(", ") : null);
  if (!name) return null;
  const orcidId = list(value.nameIdentifiers)
    .filter(isObject)
    .map((identifier) => {
      const scheme = text(identifier.nameIdentifierScheme)?.toUpperCase();
      const id = text(identifier.nameIdentifier);
      return scheme === "ORCID" || id?.includes("orcid.org") ? orcid(id) : null;
    })
    .find((id) => id !== null);
  return { name, affiliations: affiliationNames(value.affiliation), orcid: orcidId ?? null };
}

function doiOf(attributes: Json): string | null {
  const direct = doi(attributes.doi);
  if (direct) return direct;
  const identifiers = [...list(attributes.identifiers), attributes.identifier].filter(isObject);
  const doiIdentifier = identifiers.find((identifier) => text(identifier.identifierType)?.toUpperCase() === "DOI");
  return doiIdentifier ? doi(doiIdentifier.identifier) : null;
}

function titleOf(attributes: Json): string | null {
  const titles = list(attributes.titles).filter(isObject);
  const main = titles.find((title) => !text(title.titleType)) ?? titles[0];
  return main ? text(main.title) : text(attributes.title);
}

function abstractOf(attributes: Json): string | null {
  const descriptions = list(attributes.descriptions).filter(isObject);
  const chosen = descriptions.find((description) => text(description.descriptionType) === "Abstract") ?? descriptions[0];
  return chosen ? paragraphs(list(chosen.description).filter((part) => typeof part === "string").join("\n\n")) : null;
}

/** DataCite dates hold ranges as RKMS-ISO8601 `start/end`; `Collected` is the coverage, `Valid` the fallback. */
function temporalOf(attributes: Json): NormalisedRecord["temporal"] {
  const dates = list(attributes.dates).filter(isObject);
  const chosen = ["Collected", "Valid", "Coverage"].map((type) => dates.find((date) => text(date.dateType) === type)).find(Boolean);
  const value = chosen ? text(chosen.date) : null;
  if (!value) return null;
  const [start, end] = value.split("/");
  return { start: text(start), end: text(end ?? start) };
}

function spatialOf(attributes: Json, warnings: string[]): SpatialCoverage[] {
  return list(attributes.geoLocations).flatMap((location, index) => {
    if (!isObject(location)) return [];
    const place = text(location.geoLocationPlace);
    const box = boundingBox(location.geoLocationBox);
    const rawPoint = isObject(location.geoLocationPoint) ? location.geoLocationPoint : null;
    const longitude = number(rawPoint?.pointLongitude);
    const latitude = number(rawPoint?.pointLatitude);
    const point = longitude !== null && latitude !== null ? { longitude, latitude } : null;
    if (location.geoLocationBox !== undefined && !box) warnings.push(`geoLocations[${index}].geoLocationBox is incomplete or out of range`);
    return place || box || point ? [{ place, box, point }] : [];
  });
}

/** Normalises a DataCite 4.x JSON document. Never throws: what cannot be read is left out and listed in `warnings`. */
export function fromDataCite(document: unknown): NormalisedRecord {
  const record = emptyRecord();
  const warnings = record.warnings;
  const attributes = attributesOf(document);
  if (Object.keys(attributes).length === 0) warnings.push("metadata is not a DataCite JSON object");

  record.doi = doiOf(attributes);
  record.title = titleOf(attributes);
  const creators = list(attributes.creators);
  record.creators = creators.map(creatorOf).filter((creator): creator is Creator => creator !== null);
  if (record.creators.length < creators.length) warnings.push(`${creators.length - record.creators.length} creator(s) without a name left out`);
  record.publisher = isObject(attributes.publisher) ? text(attributes.publisher.name) : text(attributes.publisher);
  record.publication_year = year(attributes.publicationYear);
  record.version = text(attributes.version);
  const types = isObject(attributes.types) ? attributes.types : isObject(attributes.resourceType) ? attributes.resourceType : {};
  record.resource_type = text(types.resourceTypeGeneral) ?? text(types.resourceType);
  record.abstract = abstractOf(attributes);

  for (const subject of list(attributes.subjects)) {
    const value = isObject(subject) ? text(subject.subject) : text(subject);
    if (!value) continue;
    const scheme = isObject(subject) ? text(subject.subjectScheme) : null;
    if (scheme) record.subjects.push({ subject: value, scheme });
    else record.keywords.push(value);
  }
  record.keywords = unique(record.keywords, (keyword) => keyword.toLowerCase());
  record.subjects = unique(record.subjects);
  record.temporal = temporalOf(attributes);
  record.spatial = spatialOf(attributes, warnings);

  record.rights = list(attributes.rightsList)
    .filter(isObject)
    .map((rights) => ({
      name: text(rights.rights),
      uri: text(rights.rightsUri ?? rights.rightsURI),
      identifier: text(rights.rightsIdentifier),
    }))
    .filter((rights) => rights.name || rights.uri || rights.identifier);

  record.related = relatedIdentifiers(attributes.relatedIdentifiers);

  record.funding = list(attributes.fundingReferences)
    .filter(isObject)
    .flatMap((funding) => {
      const funder = text(funding.funderName);
      if (!funder) return [];
      const award = funding.awardNumber;
      return [
        {
          funder,
          funder_id: isObject(funding.funderIdentifier) ? text(funding.funderIdentifier.funderIdentifier) : text(funding.funderIdentifier),
          award_number: isObject(award) ? text(award.awardNumber) : text(award),
          award_title: text(funding.awardTitle),
        },
      ];
    });
  return record;
}
