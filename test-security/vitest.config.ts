// `npm run test:security`: the security suite (test-security/) and every test in test/ named "finding N…", in the Workers
// runtime with the bindings of the main config. Files run one at a time: the fuzzer compares row counts of the shared D1.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { defineConfig, type ViteUserConfig } from "vitest/config";
import main from "../vitest.config";

const root = path.join(import.meta.dirname, "..");

/** Test files of test/ that name a finding: only they are loaded (each file costs a Workers runtime start-up). */
function filesNamingFindings(): string[] {
  return readdirSync(path.join(root, "test"), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".test.ts") && /["'`]finding \d/.test(readFileSync(path.join(root, "test", file), "utf8")))
    .map((file) => path.posix.join("test", file.split(path.sep).join("/")));
}

export default defineConfig(async (configEnv) => {
  const base = (await (main as (env: typeof configEnv) => Promise<ViteUserConfig>)(configEnv)) as ViteUserConfig;
  return {
    root,
    plugins: base.plugins,
    test: {
      name: "security",
      include: ["test-security/**/*.test.ts", ...filesNamingFindings()],
      testNamePattern: /security suite|finding \d/,
      setupFiles: ["./test/setup.ts"],
      fileParallelism: false,
      testTimeout: 60_000,
      hookTimeout: 120_000,
    },
  };
});
