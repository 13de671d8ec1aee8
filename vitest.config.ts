import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { buildDsrValidator } from "./scripts/build-dsr-validator.mjs";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  buildDsrValidator();
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.jsonc" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ADMIN_API_KEY: "test-admin-key",
            PII_KEY: "test-pii-key-0123456789",
            DOWNLOAD_TOKEN_SECRET: "test-download-token-secret",
            // Smallest parts R2 allows and small slices, so bundle tests cross part and alarm boundaries.
            BUNDLE_PART_BYTES: String(5 * 1024 * 1024),
            BUNDLE_SLICE_BYTES: String(1024 * 1024),
          },
        },
      }),
    ],
    test: {
      projects: [
        {
          extends: true,
          // Generous per-test budget: CI runs on 2 cores; speed targets live in `npm run bench`, not here.
          test: { name: "workers", include: ["test/**/*.test.ts"], setupFiles: ["./test/setup.ts"], testTimeout: 30_000 },
        },
        // The dashboard's browser tests run in Node, after the Workers tests (e2e/vitest.config.ts).
        "./e2e/vitest.config.ts",
      ],
    },
  };
});
