CREATE TABLE `actors` (
	`actor_key` text PRIMARY KEY NOT NULL,
	`actor_id` text,
	`email` text,
	`name` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `actors_email` ON `actors` (`email`);--> statement-breakpoint
CREATE INDEX `actors_actor_id` ON `actors` (`actor_id`);--> statement-breakpoint
CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`prefix` text NOT NULL,
	`secret_hash` text NOT NULL,
	`scopes` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	`last_used_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_secret_hash_unique` ON `api_keys` (`secret_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_created` ON `api_keys` (`created_at`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` text PRIMARY KEY NOT NULL,
	`occurred_at` integer NOT NULL,
	`received_at` integer NOT NULL,
	`action` text NOT NULL,
	`status` text NOT NULL,
	`resource_type` text,
	`resource_id` text,
	`doi` text,
	`title` text,
	`actor_key` text,
	`user_key` text,
	`organisation` text,
	`ip_prefix` text,
	`ip_hash` text,
	`user_agent` text,
	`bytes` integer,
	`message` text,
	`meta` text,
	`duplicate_of` text
);
--> statement-breakpoint
CREATE INDEX `events_occurred` ON `events` (`occurred_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_action_occurred` ON `events` (`action`,`occurred_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_status_occurred` ON `events` (`status`,`occurred_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_resource_occurred` ON `events` (`resource_type`,`resource_id`,`occurred_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_doi_occurred` ON `events` (`doi`,`occurred_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_actor_occurred` ON `events` (`actor_key`,`occurred_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_organisation_occurred` ON `events` (`organisation`,`occurred_at`,`id`);