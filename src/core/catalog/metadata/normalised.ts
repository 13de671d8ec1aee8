// The normalised record every metadata adapter produces, plus tolerant readers the adapters share.
import { z } from "@hono/zod-openapi";
import { normaliseDoi } from "../../ledger/event-schema";

export const NormalisedRecordSchema = z
  .object({
    title: z.string().nullable(),
    creators: z.array(z.object({ name: z.string(), affiliations: z.array(z.string()), orcid: z.string().nullable() })),
    publisher: z.string().nullable(),
    publication_year: z.number().int().nullable(),
    doi: z.string().nullable(),
    version: z.string().nullable(),
    resource_type: z.string().nullable(),
    abstract: z.string().nullable(),
    keywords: z.array(z.string()),
    subjects: z.array(z.object({ subject: z.string(), scheme: z.string().nullable() })),
    spatial: z.array(
      z.object({
        place: z.string().nullable(),
        box: z.object({ west: z.number(), east: z.number(), south: z.number(), north: z.number() }).nullable(),
        point: z.object({ longitude: z.number(), latitude: z.number() }).nullable(),
      }),
    ),
    temporal: z.object({ start: z.string().nullable(), end: z.string().nullable() }).nullable(),
    rights: z.array(z.object({ name: z.string().nullable(), uri: z.string().nullable(), identifier: z.string().nullable() })),
    related: z.array(z.object({ identifier: z.string(), type: z.string().nullable(), relation: z.string().nullable() })),
    funding: z.array(
      z.object({ funder: z.string(), funder_id: z.string().nullable(), award_number: z.string().nullable(), award_title: z.string().nullable() }),
    ),
    warnings: z.array(z.string()).openapi({ description: "Parts of the metadata the adapter could not understand and left out" }),
  })
  .openapi("NormalisedRecord");

export type NormalisedRecord = z.infer<typeof NormalisedRecordSchema>;
export type Creator = NormalisedRecord["creators"][number];
export type SpatialCoverage = NormalisedRecord["spatial"][number];

export function emptyRecord(): NormalisedRecord {
  return {
    title: null,
    creators: [],
    publisher: null,
    publication_year: null,
    doi: null,
    version: null,
    resource_type: null,
    abstract: null,
    keywords: [],
    subjects: [],
    spatial: [],
    temporal: null,
    rights: [],
    related: [],
    funding: [],
    warnings: [],
  };
}

export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

/** A trimmed non-empty string from a string or number, else null. */
export function text(value: unknown): string | null {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value !== "string") return null;
  const trimmed = value.replace(/\s+/g, " ").trim();
  return trimmed.length > 0 ? trimmed : null;
}

/** Like `text` but keeps paragraph breaks (for abstracts). */
export function paragraphs(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const kept = value
    .split(/\n\s*\n/)
    .map((paragraph) => paragraph.replace(/\s+/g, " ").trim())
    .filter(Boolean)
    .join("\n\n");
  return kept.length > 0 ? kept : null;
}

/** An array as is, a single value as a one-element array, nothing as an empty array. */
export function list(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

/** DataCite-style `relatedIdentifiers` (also used by ODP's ISO 19115 JSON): entries without an identifier are dropped. */
export function relatedIdentifiers(value: unknown): NormalisedRecord["related"] {
  return list(value)
    .filter(isObject)
    .flatMap((related) => {
      const identifier = text(related.relatedIdentifier);
      return identifier ? [{ identifier, type: text(related.relatedIdentifierType), relation: text(related.relationType) }] : [];
    });
}

export function number(value: unknown): number | null {
  const parsed = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof parsed === "number" && Number.isFinite(parsed) ? parsed : null;
}

export function year(value: unknown): number | null {
  const match = /^(\d{4})/.exec(text(value) ?? "");
  return match ? Number(match[1]) : null;
}

/** A DOI from a bare DOI, `doi:` or resolver URL, normalised as the ledger stores it; null when it is not a DOI. */
export function doi(value: unknown): string | null {
  const raw = text(value);
  if (!raw) return null;
  const normalised = normaliseDoi(raw);
  return /^10\.\d{4,9}\/\S+$/.test(normalised) ? normalised : null;
}

/** An ORCID iD (0000-0002-1825-0097) from a bare iD or an orcid.org URL; null otherwise. */
export function orcid(value: unknown): string | null {
  const match = /(\d{4}-\d{4}-\d{4}-\d{3}[\dX])/i.exec(text(value) ?? "");
  return match ? match[1]!.toUpperCase() : null;
}

export function unique<T>(items: T[], keyOf: (item: T) => string = (item) => JSON.stringify(item)): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = keyOf(item);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function boundingBox(value: unknown): SpatialCoverage["box"] {
  if (!isObject(value)) return null;
  const west = number(value.westBoundLongitude);
  const east = number(value.eastBoundLongitude);
  const south = number(value.southBoundLatitude);
  const north = number(value.northBoundLatitude);
  if (west === null || east === null || south === null || north === null) return null;
  const inRange = [west, east].every((lon) => lon >= -180 && lon <= 180) && [south, north].every((lat) => lat >= -90 && lat <= 90);
  return inRange ? { west, east, south, north } : null;
}

/** The lower-cased text `GET /v1/records?q=` searches: title, DOI, creators and keywords. */
export function searchTextOf(title: string, record: NormalisedRecord): string {
  return [title, record.doi, ...record.creators.map((creator) => creator.name), ...record.keywords, ...record.subjects.map((s) => s.subject)]
    .filter(Boolean)
    .join(" | ")
    .toLowerCase();
}
