declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** A Rate Limiting binding of 2 a minute, standing in for a production limiter in tests that reach the limit. */
    TIGHT_LIMITER: RateLimit;
  }
}
