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
            ENVIRONMENT: "development",
            ADMIN_API_KEY: "test-admin-key",
            PII_KEY: "test-pii-key-0123456789",
            DOWNLOAD_TOKEN_SECRET: "test-download-token-secret",
            // Test-only Ed25519 seal key; test/core/integrity/fixtures.ts holds another key to forge signatures with.
            SEAL_SIGNING_KEY: '{"crv":"Ed25519","d":"Z6v9N0Nx4lJO7WQTw4YzZAnSsUtti8kkMYhFrMOxNys","x":"yVmpHxs396g1xDL6LbI1fSCW6Qiq7LzmbpG_JD8pXxI","kty":"OKP","kid":"test-2026-11"}',
            // Smallest parts R2 allows and small slices, so bundle tests cross part and alarm boundaries.
            BUNDLE_PART_BYTES: String(5 * 1024 * 1024),
            BUNDLE_SLICE_BYTES: String(1024 * 1024),
            // Test files share the admin key, whose jobs may stay pending; quota tests set their own limits.
            BUNDLE_MAX_ACTIVE_JOBS: "1000",
            // Settings of .dev.vars (which the plugin reads when `npm run dev` has created it) pinned to their production
            // values, so a developer's local file cannot change what the tests see.
            WEBHOOKS_ALLOW_LOCAL: "false",
            ALERT_SETTLE_SECONDS: "60",
            // A hanging webhook receiver is given up on quickly.
            WEBHOOK_TIMEOUT_MS: "500",
          },
          // The suite sends thousands of requests a minute with one key; TIGHT_LIMITER (2 a minute) stands in for either
          // limiter where a test needs to reach a limit.
          ratelimits: {
            API_KEY_LIMITER: { namespace_id: "1001", simple: { limit: 1_000_000, period: 60 } },
            AUTH_FAILURE_LIMITER: { namespace_id: "1002", simple: { limit: 1_000_000, period: 60 } },
            TIGHT_LIMITER: { namespace_id: "1999", simple: { limit: 2, period: 60 } },
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
