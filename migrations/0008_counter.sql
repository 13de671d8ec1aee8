ALTER TABLE `events` ADD `access_method` text;--> statement-breakpoint
ALTER TABLE `events` ADD `country` text;--> statement-breakpoint
ALTER TABLE `events` ADD `file` text;--> statement-breakpoint
ALTER TABLE `events` ADD `session_id` text;--> statement-breakpoint
CREATE TABLE `counter_rollups` (
	`day` integer NOT NULL,
	`dataset` text NOT NULL,
	`access_method` text NOT NULL,
	`country` text NOT NULL,
	`doi` text,
	`resource_type` text,
	`resource_id` text,
	`title` text,
	`total_investigations` integer NOT NULL,
	`unique_investigations` integer NOT NULL,
	`total_requests` integer NOT NULL,
	`unique_requests` integer NOT NULL,
	PRIMARY KEY(`day`, `dataset`, `access_method`, `country`)
);
--> statement-breakpoint
CREATE INDEX `counter_rollups_dataset` ON `counter_rollups` (`dataset`,`day`);--> statement-breakpoint
CREATE TABLE `counter_reports` (
	`month` text PRIMARY KEY NOT NULL,
	`object_key` text NOT NULL,
	`datasets` integer NOT NULL,
	`created_at` integer NOT NULL,
	`submission_status` text NOT NULL,
	`submission_id` text,
	`submitted_at` integer,
	`submission_error` text
);
