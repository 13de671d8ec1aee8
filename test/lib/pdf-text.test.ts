import { PDFDocument, StandardFonts } from "pdf-lib";
import { describe, expect, it } from "vitest";
import { winAnsiText } from "../../src/lib/pdf-text";

describe("winAnsiText", () => {
  it("keeps WinAnsi letters, drops accents WinAnsi lacks, maps Latin letters without a decomposition, and marks the rest", async () => {
    const font = await (await PDFDocument.create()).embedFont(StandardFonts.Helvetica);
    // ó and ü are WinAnsi; ź is z with an accent WinAnsi lacks; Ł has no decomposition (fallback L); CJK has no base letter.
    expect(winAnsiText("Łódź über", font)).toBe("Lódz über");
    expect(winAnsiText("データ ok", font)).toBe("??? ok");
    // A decomposed é (e + U+0301) is composed first, so it stays é.
    expect(winAnsiText("Cafe\u0301", font)).toBe("Café");
    expect(winAnsiText("a\tb\nc", font)).toBe("a b\nc");
  });
});
