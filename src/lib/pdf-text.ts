// Text that pdf-lib's standard fonts can draw: they encode WinAnsi only, so both PDF writers pass their text through here.
import type { PDFFont } from "pdf-lib";

/** Latin letters without a decomposition to a WinAnsi base letter. */
const LATIN_FALLBACKS: Record<string, string> = { Ł: "L", ł: "l", Đ: "D", đ: "d", Ħ: "H", ħ: "h", ı: "i", Ŧ: "T", ŧ: "t", ſ: "s" };

const characterSets = new WeakMap<PDFFont, Set<number>>();

/** The code points `font` can encode, read once per font. */
function characterSetOf(font: PDFFont): Set<number> {
  let set = characterSets.get(font);
  if (!set) characterSets.set(font, (set = new Set(font.getCharacterSet())));
  return set;
}

/**
 * `text` in characters `font` encodes: other letters lose their accents (or take a close Latin letter), a tab becomes a
 * space, newlines stay, anything else becomes "?". Embedding a Unicode font would add ~300 KB to every PDF and to the Worker.
 */
export function winAnsiText(text: string, font: PDFFont): string {
  const supported = characterSetOf(font);
  return [...text.normalize("NFC")]
    .map((char) => {
      if (char === "\n" || supported.has(char.codePointAt(0)!)) return char;
      if (char === "\t") return " ";
      const base = (LATIN_FALLBACKS[char] ?? char).normalize("NFD").replace(/\p{M}/gu, "");
      return base && [...base].every((c) => supported.has(c.codePointAt(0)!)) ? base : "?";
    })
    .join("");
}
