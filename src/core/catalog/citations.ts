// BibTeX and RIS citations of datasets from their normalised (DataCite / ISO 19115) metadata.
//
// Written here rather than with citation-js: @citation-js/core 0.7 depends on `sync-fetch` (a synchronous HTTP client on
// child processes in Node and synchronous XMLHttpRequest in browsers, neither of which Workers has), and core with the
// BibTeX and RIS plugins bundles to ~200 KB minified. Both formats are flat tag lists that take a few lines to write.
import type { NormalisedRecord } from "./metadata/normalised";
import { doiUrl } from "./pdf";

/** What a citation needs of a dataset; `normalised` is absent when the record is no longer in the catalog. */
export interface CitableDataset {
  id: string;
  doi: string | null;
  title: string;
  normalised: NormalisedRecord | null;
  /** Landing page when there is no DOI. */
  url?: string | null;
}

const flat = (text: string) => text.replace(/\s+/g, " ").trim();

/** BibTeX text with its special characters escaped, so titles such as "50% of C_2 & more" survive. */
function bibtexText(text: string): string {
  return flat(text).replace(/[\\{}&%$#_^~]/g, (char) => {
    if (char === "\\") return "\\textbackslash{}";
    if (char === "^") return "\\^{}";
    if (char === "~") return "\\~{}";
    return `\\${char}`;
  });
}

/**
 * A BibTeX name: "Family, Given" as is (BibTeX splits it correctly); anything else (organisations, single names) in
 * braces so BibTeX does not take its last word as a family name.
 */
const bibtexName = (name: string) => (/,/.test(name) ? bibtexText(name) : `{${bibtexText(name)}}`);

/** A citation key from the DOI or the record id: letters, digits and a few marks only. */
const citationKey = (dataset: CitableDataset) => (dataset.doi ?? dataset.id).replace(/[^A-Za-z0-9_.:-]/g, "_");

/** One `@misc` entry per dataset (DataCite's own BibTeX export uses @misc for datasets too). */
export function bibtexEntry(dataset: CitableDataset): string {
  const n = dataset.normalised;
  const fields: [string, string | null | undefined][] = [
    ["author", n && n.creators.length > 0 ? n.creators.map((creator) => bibtexName(creator.name)).join(" and ") : null],
    ["title", `{${bibtexText(dataset.title)}}`],
    ["publisher", n?.publisher ? bibtexText(n.publisher) : null],
    ["year", n?.publication_year?.toString()],
    ["version", n?.version ? bibtexText(n.version) : null],
    ["doi", dataset.doi ? bibtexText(dataset.doi) : null],
    ["url", dataset.doi ? doiUrl(dataset.doi) : (dataset.url ?? null)],
    ["howpublished", "Dataset"],
  ];
  const body = fields
    .filter((field): field is [string, string] => Boolean(field[1]))
    .map(([name, value]) => `  ${name} = {${value}}`)
    .join(",\n");
  return `@misc{${citationKey(dataset)},\n${body}\n}\n`;
}

/** RIS (RefMan) record of type DATA: one tag per line, CRLF line ends, closed by ER. */
export function risEntry(dataset: CitableDataset): string {
  const n = dataset.normalised;
  const tags: [string, string | null | undefined][] = [
    ["TY", "DATA"],
    ...(n?.creators ?? []).map((creator): [string, string] => ["AU", creator.name]),
    ["TI", dataset.title],
    ["PY", n?.publication_year?.toString()],
    ["PB", n?.publisher],
    ["ET", n?.version],
    ["DO", dataset.doi],
    ["UR", dataset.doi ? doiUrl(dataset.doi) : dataset.url],
    ["ID", dataset.id],
    ...(n?.keywords ?? []).map((keyword): [string, string] => ["KW", keyword]),
  ];
  const lines = tags.filter((tag): tag is [string, string] => Boolean(tag[1])).map(([tag, value]) => `${tag}  - ${flat(value)}`);
  return `${[...lines, "ER  - "].join("\r\n")}\r\n`;
}
