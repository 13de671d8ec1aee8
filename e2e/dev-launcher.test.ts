// `npm run dev`'s launcher (scripts/dev.mjs): the port comes from --port, else PORT, else 8787, and is never passed twice.
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ESM script without type declarations
import { devArguments } from "../scripts/dev.mjs";

const run = (args: string[], env: Record<string, string> = {}) => devArguments(args, env) as { args: string[]; port: string };

describe("npm run dev's port", () => {
  it("is 8787 on 127.0.0.1 by default", () => {
    expect(run([])).toEqual({ args: ["dev", "--ip", "127.0.0.1", "--port", "8787"], port: "8787" });
  });

  it("follows PORT=8789", () => {
    expect(run([], { PORT: "8789" })).toEqual({ args: ["dev", "--ip", "127.0.0.1", "--port", "8789"], port: "8789" });
  });

  it("follows `npm run dev -- --port 8789` (and --port=8790), passing it on once, over PORT", () => {
    expect(run(["--port", "8789"], { PORT: "8000" })).toEqual({ args: ["dev", "--ip", "127.0.0.1", "--port", "8789"], port: "8789" });
    expect(run(["--port=8790"])).toEqual({ args: ["dev", "--ip", "127.0.0.1", "--port=8790"], port: "8790" });
  });

  it("passes other wrangler arguments on, and an explicit --ip replaces the default", () => {
    expect(run(["--ip", "0.0.0.0", "--var", "RETENTION_DAYS:30"])).toEqual({
      args: ["dev", "--port", "8787", "--ip", "0.0.0.0", "--var", "RETENTION_DAYS:30"],
      port: "8787",
    });
  });

  it("refuses a port that is not a number", () => {
    expect(() => run([], { PORT: "eighty" })).toThrow('the port must be a TCP port number (1–65535), got "eighty"');
    expect(() => run(["--port", "70000"])).toThrow("got \"70000\"");
  });
});
