// `npm run test:security`: the security suite (test-security/) and every test in test/ named "finding N", in the Workers
// runtime with the bindings of the main config. Files run one at a time: the fuzzer compares row counts of the shared D1.
import path from "node:path";
import { defineConfig, type ViteUserConfig } from "vitest/config";
import main from "../vitest.config";

export default defineConfig(async (configEnv) => {
  const base = (await (main as (env: typeof configEnv) => Promise<ViteUserConfig>)(configEnv)) as ViteUserConfig;
  return {
    root: path.join(import.meta.dirname, ".."),
    plugins: base.plugins,
    test: {
      name: "security",
      include: ["test-security/**/*.test.ts", "test/**/*.test.ts"],
      testNamePattern: /security suite|finding \d/,
      setupFiles: ["./test/setup.ts"],
      fileParallelism: false,
      testTimeout: 60_000,
      hookTimeout: 120_000,
    },
  };
});
