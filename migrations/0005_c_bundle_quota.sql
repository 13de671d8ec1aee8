-- Per-key bundle quota (issue 10, finding 9c): the key that created a job, and a bundle's size estimate while it builds.
ALTER TABLE `jobs` ADD `owner_key_id` text;--> statement-breakpoint
ALTER TABLE `bundles` ADD `estimated_bytes` integer;--> statement-breakpoint
CREATE INDEX `jobs_owner_created` ON `jobs` (`owner_key_id`,`created_at`);
