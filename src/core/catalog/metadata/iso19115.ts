// ISO 19115 as JSON, in the flat shape ODP-style catalogues use (e.g. SAEON's ISO19115 profile) → normalised record.
import { boundingBox, type Creator, doi, emptyRecord, isObject, type Json, list, type NormalisedRecord, orcid, paragraphs, relatedIdentifiers, text, unique, year } from "./normalised";

/** Responsible-party roles (CI_RoleCode) that make someone a creator of the resource. */
const creatorRoles = new Set(["originator", "principalInvestigator", "author", "coAuthor"]);

function creatorOf(party: Json): Creator | null {
  const individual = text(party.individualName);
  const organisation = text(party.organizationName ?? party.organisationName);
  const name = individual ?? organisation;
  if (!name) return null;
  const online = isObject(party.onlineResource) ? party.onlineResource : {};
  return { name, affiliations: individual && organisation ? [organisation] : [], orcid: orcid(online.linkage) };
}

/** Normalises an ISO 19115 JSON document. Never throws: what cannot be read is left out and listed in `warnings`. */
export function fromIso19115(document: unknown): NormalisedRecord {
  const record = emptyRecord();
  const warnings = record.warnings;
  const metadata: Json = isObject(document) ? document : {};
  if (!isObject(document)) warnings.push("metadata is not an ISO 19115 JSON object");

  record.doi = doi(metadata.doi);
  record.title = text(metadata.title);
  const parties = list(metadata.responsibleParties).filter(isObject);
  const creatorParties = parties.filter((party) => creatorRoles.has(text(party.role) ?? ""));
  record.creators = creatorParties.map(creatorOf).filter((creator): creator is Creator => creator !== null);
  if (record.creators.length < creatorParties.length) warnings.push(`${creatorParties.length - record.creators.length} originator(s) without a name left out`);
  const publisher = parties.find((party) => text(party.role) === "publisher");
  record.publisher = publisher ? text(publisher.organizationName ?? publisher.organisationName ?? publisher.individualName) : null;
  record.publication_year = year(metadata.date);
  record.version = text(metadata.edition ?? metadata.version);
  record.resource_type = text(metadata.scope);
  record.abstract = paragraphs(metadata.abstract);

  for (const entry of list(metadata.descriptiveKeywords ?? metadata.keywords)) {
    const keyword = isObject(entry) ? text(entry.keyword) : text(entry);
    if (!keyword) continue;
    const type = isObject(entry) ? text(entry.keywordType) : null;
    if (type && type !== "theme") record.subjects.push({ subject: keyword, scheme: `ISO 19115 ${type}` });
    else record.keywords.push(keyword);
  }
  for (const topic of list(metadata.topicCategories)) {
    const subject = text(topic);
    if (subject) record.subjects.push({ subject, scheme: "ISO 19115 topic category" });
  }
  record.keywords = unique(record.keywords, (keyword) => keyword.toLowerCase());
  record.subjects = unique(record.subjects);

  const extent = isObject(metadata.extent) ? metadata.extent : {};
  list(extent.geographicElements).forEach((element, index) => {
    if (!isObject(element)) return;
    const place = text(element.geographicIdentifier);
    const box = boundingBox(element.boundingBox);
    if (element.boundingBox !== undefined && !box) warnings.push(`extent.geographicElements[${index}].boundingBox is incomplete or out of range`);
    if (place || box) record.spatial.push({ place, box, point: null });
  });
  const temporal = isObject(extent.temporalElement) ? extent.temporalElement : null;
  if (temporal && (text(temporal.startTime) || text(temporal.endTime)))
    record.temporal = { start: text(temporal.startTime), end: text(temporal.endTime) };

  record.rights = list(metadata.constraints)
    .filter(isObject)
    .map((constraint) => ({
      name: text(constraint.rights) ?? text(list(constraint.useLimitations)[0]),
      uri: text(constraint.rightsURI ?? constraint.rightsUri),
      identifier: text(constraint.rightsIdentifier),
    }))
    .filter((rights) => rights.name || rights.uri || rights.identifier);

  record.related = relatedIdentifiers(metadata.relatedIdentifiers);

  record.funding = list(metadata.fundingReferences)
    .filter(isObject)
    .flatMap((funding) => {
      const funder = text(funding.funderName);
      return funder
        ? [{ funder, funder_id: text(funding.funderIdentifier), award_number: text(funding.awardNumber), award_title: text(funding.awardTitle) }]
        : [];
    });
  return record;
}
