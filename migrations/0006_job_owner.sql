ALTER TABLE `jobs` ADD `owner_key_id` text;--> statement-breakpoint
ALTER TABLE `bundles` ADD `owner_key_id` text;--> statement-breakpoint
CREATE INDEX `jobs_owner_created` ON `jobs` (`owner_key_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_owner_status_created` ON `jobs` (`owner_key_id`,`status`,`created_at`,`id`);
