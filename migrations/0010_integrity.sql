CREATE TABLE `integrity_seals` (
	`seq` integer PRIMARY KEY NOT NULL,
	`version` integer NOT NULL,
	`from_ms` integer NOT NULL,
	`to_ms` integer NOT NULL,
	`tree_size` integer NOT NULL,
	`root` text NOT NULL,
	`previous_seal_hash` text NOT NULL,
	`sealed_at` integer NOT NULL,
	`key_id` text NOT NULL,
	`signature` text NOT NULL,
	`seal_hash` text NOT NULL,
	`chunk_roots` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `integrity_seals_from` ON `integrity_seals` (`from_ms`);--> statement-breakpoint
CREATE UNIQUE INDEX `integrity_seals_to` ON `integrity_seals` (`to_ms`);--> statement-breakpoint
CREATE TABLE `integrity_verifications` (
	`id` text PRIMARY KEY NOT NULL,
	`from_ms` integer NOT NULL,
	`to_ms` integer NOT NULL,
	`requested_by` text NOT NULL,
	`status` text NOT NULL,
	`cursor_ms` integer NOT NULL,
	`windows` integer NOT NULL,
	`rows` integer NOT NULL,
	`ok` integer,
	`problems` text NOT NULL,
	`created_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `integrity_verifications_created` ON `integrity_verifications` (`created_at`);--> statement-breakpoint
CREATE INDEX `integrity_verifications_status` ON `integrity_verifications` (`status`,`created_at`);--> statement-breakpoint
CREATE TABLE `privacy_erasures` (
	`actor_key` text PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`requested_by` text NOT NULL,
	`reason` text NOT NULL,
	`erased_at` integer NOT NULL
);
--> statement-breakpoint
DROP INDEX `events_received`;--> statement-breakpoint
CREATE INDEX `events_received` ON `events` (`received_at`,`id`);
