-- Per-key bundle quota (issue 10, finding 9c): a bundle's size estimate while it builds (the owner is jobs/bundles.owner_key_id, 0005_b).
ALTER TABLE `bundles` ADD `estimated_bytes` integer;
