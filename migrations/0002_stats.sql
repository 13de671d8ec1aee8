CREATE TABLE `event_rollups` (
	`grain` text NOT NULL,
	`day` integer NOT NULL,
	`action` text NOT NULL,
	`status` text NOT NULL,
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
	PRIMARY KEY(`grain`, `day`, `action`, `status`, `resource_type`, `resource_id`, `organisation`)
);
--> statement-breakpoint
CREATE INDEX `event_rollups_resource` ON `event_rollups` (`grain`,`resource_type`,`resource_id`,`day`);--> statement-breakpoint
CREATE INDEX `event_rollups_organisation` ON `event_rollups` (`grain`,`organisation`,`day`);--> statement-breakpoint
CREATE TABLE `maintenance_leases` (
	`job` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `maintenance_state` (
	`name` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `rollup_days` (
	`day` integer PRIMARY KEY NOT NULL,
	`rolled_through` integer NOT NULL,
	`rolled_at` integer NOT NULL,
	`purged_at` integer
);
--> statement-breakpoint
CREATE INDEX `events_received` ON `events` (`received_at`);