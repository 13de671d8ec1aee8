DROP INDEX `events_resource_occurred`;--> statement-breakpoint
CREATE INDEX `events_resource_type_occurred` ON `events` (`resource_type`,`occurred_at`,`id`);--> statement-breakpoint
CREATE INDEX `events_resource_id_occurred` ON `events` (`resource_id`,`occurred_at`,`id`);