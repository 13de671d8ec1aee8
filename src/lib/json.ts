// Strict JSON for request input: besides syntax, refuses duplicate object keys and lone surrogates, which JSON.parse accepts.

/** In a `u` regex a valid surrogate pair is one code point, so only unpaired halves match the surrogate category. */
const LONE_SURROGATE = /\p{Cs}/u;

/** True when `text` is well-formed UTF-16 (no lone surrogate), so it survives UTF-8 storage unchanged. */
export const isWellFormed = (text: string) => !LONE_SURROGATE.test(text);

const STRING_SPECIAL = /["\\]/g;

export interface JsonProblem {
  path: string;
  message: string;
}

/**
 * What makes `text` unacceptable as JSON input, or null when it is fine. JSON.parse keeps the LAST of duplicate keys
 * (`{"scopes":["read"],"scopes":["admin"]}` reads as admin while a reviewer or proxy may read the first), and turns
 * `"\ud800"` into a lone surrogate that storage replaces with U+FFFD. Written by hand because no maintained parser that
 * runs in Workers reports duplicates: one linear pass over text JSON.parse has already accepted, so it only has to
 * track strings and nesting, and it decodes a string only when it is a key or holds a surrogate escape.
 */
export function jsonProblem(text: string): JsonProblem | null {
  const parsed = parseStrictJson(text);
  return "problem" in parsed ? parsed.problem : null;
}

/** `text` parsed (once), or what makes it unacceptable as JSON input (see jsonProblem). */
export function parseStrictJson(text: string): { value: unknown } | { problem: JsonProblem } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: { path: "(body)", message: `Malformed JSON: ${error instanceof Error ? error.message : String(error)}` } };
  }
  const problem = structuralProblem(text);
  return problem ? { problem } : { value };
}

/** Duplicate keys and lone surrogate escapes in text that JSON.parse has accepted. */
function structuralProblem(text: string): JsonProblem | null {
  // One entry per open container: the keys seen (objects) or null (arrays), and the key or index being read.
  const stack: { keys: Set<string> | null; at: string | number }[] = [];
  const valuePath = () => stack.map((entry) => entry.at).join(".") || "(body)";
  const keyPath = (key: string) => [...stack.slice(0, -1).map((entry) => entry.at), key].join(".");
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (char === 0x22 /* " */) {
      // Jump from quote or backslash to the next one (a native scan), so long strings cost little.
      let end: number;
      let escaped = false;
      let surrogateEscape = false;
      STRING_SPECIAL.lastIndex = i + 1;
      for (;;) {
        end = STRING_SPECIAL.exec(text)!.index;
        if (text.charCodeAt(end) === 0x22) break;
        escaped = true;
        if (text.charCodeAt(end + 1) === 0x75 /* u */ && /^[dD][89a-fA-F]/.test(text.slice(end + 2, end + 4))) surrogateEscape = true;
        STRING_SPECIAL.lastIndex = end + 2;
      }
      const top = stack.at(-1);
      if (expectKey || surrogateEscape) {
        // A key without escapes is its text (JSON.parse accepted it); only escaped ones need decoding.
        const value = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        if (surrogateEscape && !isWellFormed(value))
          return { path: expectKey ? keyPath(`${value.replace(/\p{Cs}/gu, "\uFFFD")}(key)`) : valuePath(), message: "must not contain a lone surrogate (an unpaired \\ud800-\\udfff escape)" };
        if (expectKey && top?.keys) {
          if (top.keys.has(value)) return { path: keyPath(value), message: "duplicate key: each key may appear once per object" };
          top.keys.add(value);
          top.at = value;
        }
      }
      expectKey = false;
      i = end;
    } else if (char === 0x7b /* { */) {
      stack.push({ keys: new Set(), at: "" });
      expectKey = true;
    } else if (char === 0x5b /* [ */) {
      stack.push({ keys: null, at: 0 });
    } else if (char === 0x7d /* } */ || char === 0x5d /* ] */) {
      stack.pop();
    } else if (char === 0x2c /* , */) {
      const top = stack.at(-1)!;
      if (top.keys) expectKey = true;
      else top.at = (top.at as number) + 1;
    }
  }
  return null;
}

/** True when no string in `value` (keys included) holds a lone surrogate. Iterative, so deep nesting cannot overflow. */
export function wellFormedDeep(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === "string") {
      if (!isWellFormed(item)) return false;
    } else if (Array.isArray(item)) for (const inner of item) pending.push(inner);
    else if (item !== null && typeof item === "object")
      for (const [key, inner] of Object.entries(item)) {
        if (!isWellFormed(key)) return false;
        pending.push(inner);
      }
  }
  return true;
}
