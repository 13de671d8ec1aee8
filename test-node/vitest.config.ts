// Node-side tests of repository scripts (the offline verifier): plain Node, no Workers runtime, no service.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "node",
    root: import.meta.dirname,
    include: ["**/*.test.ts"],
    testTimeout: 60_000,
  },
});
