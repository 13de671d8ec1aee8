-- Issue 12: the per-resource and per-organisation rollup indexes also cover the columns a ranking sums (action, access
-- method, events), so that ranking a long range sums each key's days in index order, without sorting every row of the range.
DROP INDEX `event_rollups_resource`;--> statement-breakpoint
CREATE INDEX `event_rollups_resource` ON `event_rollups` (`grain`,`resource_type`,`resource_id`,`day`,`action`,`access_method`,`events`);--> statement-breakpoint
DROP INDEX `event_rollups_organisation`;--> statement-breakpoint
CREATE INDEX `event_rollups_organisation` ON `event_rollups` (`grain`,`organisation`,`day`,`action`,`access_method`,`events`);
