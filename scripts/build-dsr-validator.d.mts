// Types of scripts/build-dsr-validator.mjs, imported by vitest.config.ts.
export declare const validatorPath: string;
export declare function buildDsrValidator(): void;
