// The browser end-to-end suite: runs in Node, starts the service like `npm run dev` (fresh state, demo data) and drives Chromium.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "e2e",
    sequence: { groupOrder: 1 },
    root: import.meta.dirname,
    include: ["**/*.test.ts"],
    globalSetup: ["./global-setup.ts"],
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 120_000,
  },
});
