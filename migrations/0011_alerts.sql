CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`rule` text NOT NULL,
	`subject` text NOT NULL,
	`fingerprint` text NOT NULL,
	`status` text NOT NULL,
	`severity` text NOT NULL,
	`title` text NOT NULL,
	`evidence` text NOT NULL,
	`events_query` text,
	`count` integer NOT NULL,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL,
	`acknowledged_at` integer,
	`acknowledged_by` text
);
--> statement-breakpoint
CREATE INDEX `alerts_fingerprint_last_seen` ON `alerts` (`fingerprint`,`last_seen`);--> statement-breakpoint
CREATE INDEX `alerts_status_last_seen` ON `alerts` (`status`,`last_seen`,`id`);--> statement-breakpoint
CREATE INDEX `alerts_last_seen` ON `alerts` (`last_seen`,`id`);--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`event_types` text NOT NULL,
	`description` text,
	`created_at` integer NOT NULL,
	`deleted_at` integer
);
--> statement-breakpoint
CREATE INDEX `webhooks_deleted_created` ON `webhooks` (`deleted_at`,`created_at`);
