import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
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
            // Test-only Ed25519 seal key; test/core/integrity/fixtures.ts holds another key to forge signatures with.
            SEAL_SIGNING_KEY: '{"crv":"Ed25519","d":"Z6v9N0Nx4lJO7WQTw4YzZAnSsUtti8kkMYhFrMOxNys","x":"yVmpHxs396g1xDL6LbI1fSCW6Qiq7LzmbpG_JD8pXxI","kty":"OKP","kid":"test-2026-11"}',
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
        // Node-side tests of repository scripts: the offline verifier (test-node/vitest.config.ts).
        "./test-node/vitest.config.ts",
      ],
    },
  };
});
