CREATE TABLE `bundles` (
	`id` text PRIMARY KEY NOT NULL,
	`job_id` text NOT NULL,
	`record_ids` text NOT NULL,
	`include_files` integer NOT NULL,
	`object_key` text NOT NULL,
	`sealed_user` text,
	`zip_size` integer,
	`summary` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`deleted_at` integer
);
--> statement-breakpoint
CREATE INDEX `bundles_expires` ON `bundles` (`deleted_at`,`expires_at`);--> statement-breakpoint
CREATE INDEX `bundles_job` ON `bundles` (`job_id`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`status` text NOT NULL,
	`progress` integer DEFAULT 0 NOT NULL,
	`message` text,
	`result` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `jobs_created` ON `jobs` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_status_created` ON `jobs` (`status`,`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `record_files` (
	`record_id` text NOT NULL,
	`name` text NOT NULL,
	`size` integer NOT NULL,
	`content_type` text NOT NULL,
	`sha256` text NOT NULL,
	`object_key` text NOT NULL,
	`uploaded_at` integer NOT NULL,
	PRIMARY KEY(`record_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `records` (
	`id` text PRIMARY KEY NOT NULL,
	`doi` text,
	`title` text NOT NULL,
	`public` integer DEFAULT false NOT NULL,
	`schema` text NOT NULL,
	`metadata` text NOT NULL,
	`normalised` text NOT NULL,
	`search_text` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `records_doi` ON `records` (`doi`);