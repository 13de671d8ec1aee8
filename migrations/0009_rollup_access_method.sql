CREATE TABLE `event_rollups_new` (
	`grain` text NOT NULL,
	`day` integer NOT NULL,
	`action` text NOT NULL,
	`status` text NOT NULL,
	`access_method` text NOT NULL,
	`country` text NOT NULL,
	`resource_type` text NOT NULL,
	`resource_id` text NOT NULL,
	`organisation` text NOT NULL,
	`events` integer NOT NULL,
	`bytes` integer NOT NULL,
	`first_at` integer NOT NULL,
	`last_at` integer NOT NULL,
	`doi` text,
	`title` text,
	`users` text,
	`sketch` text,
	PRIMARY KEY(`grain`, `day`, `action`, `status`, `access_method`, `country`, `resource_type`, `resource_id`, `organisation`)
);
--> statement-breakpoint
INSERT INTO `event_rollups_new` (`grain`, `day`, `action`, `status`, `access_method`, `country`, `resource_type`, `resource_id`, `organisation`, `events`, `bytes`, `first_at`, `last_at`, `doi`, `title`, `users`, `sketch`)
SELECT `grain`, `day`, `action`, `status`, 'regular', '', `resource_type`, `resource_id`, `organisation`, `events`, `bytes`, `first_at`, `last_at`, `doi`, `title`, `users`, `sketch` FROM `event_rollups`;
--> statement-breakpoint
DROP TABLE `event_rollups`;--> statement-breakpoint
ALTER TABLE `event_rollups_new` RENAME TO `event_rollups`;--> statement-breakpoint
CREATE INDEX `event_rollups_resource` ON `event_rollups` (`grain`,`resource_type`,`resource_id`,`day`);--> statement-breakpoint
CREATE INDEX `event_rollups_organisation` ON `event_rollups` (`grain`,`organisation`,`day`);--> statement-breakpoint
CREATE INDEX `event_rollups_rank_resource` ON `event_rollups` (`grain`,`day`,`action`,`access_method`,`resource_type`,`resource_id`,`events`);--> statement-breakpoint
CREATE INDEX `event_rollups_rank_organisation` ON `event_rollups` (`grain`,`day`,`action`,`access_method`,`organisation`,`events`);
