-- Issue 12, second round: monthly event counts of the resource and organisation rollups, so that ranking a long range
-- reads one row per key, month, action and access method instead of one per key and day. Triggers on event_rollups keep
-- each month row equal to the sum of its day rows in the statement that changes them, whoever writes (the rollup, a fold
-- of late events, retention's purge and prune, SQL run by hand). `month` is the day number of the month's first day.
CREATE TABLE `event_rollup_months` (
	`grain` text NOT NULL,
	`resource_type` text NOT NULL,
	`resource_id` text NOT NULL,
	`organisation` text NOT NULL,
	`month` integer NOT NULL,
	`action` text NOT NULL,
	`access_method` text NOT NULL,
	`events` integer NOT NULL,
	PRIMARY KEY(`grain`, `resource_type`, `resource_id`, `organisation`, `month`, `action`, `access_method`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `event_rollup_months` (`grain`, `resource_type`, `resource_id`, `organisation`, `month`, `action`, `access_method`, `events`)
SELECT `grain`, `resource_type`, `resource_id`, `organisation`, CAST(strftime('%s', `day` * 86400, 'unixepoch', 'start of month') AS INTEGER) / 86400,
	`action`, `access_method`, sum(`events`)
FROM `event_rollups` WHERE `grain` IN ('resource', 'organisation')
GROUP BY 1, 2, 3, 4, 5, 6, 7;
--> statement-breakpoint
CREATE TRIGGER `event_rollup_months_insert` AFTER INSERT ON `event_rollups` WHEN NEW.grain IN ('resource', 'organisation') BEGIN
INSERT INTO event_rollup_months (grain, resource_type, resource_id, organisation, month, action, access_method, events)
VALUES (NEW.grain, NEW.resource_type, NEW.resource_id, NEW.organisation, CAST(strftime('%s', NEW.day * 86400, 'unixepoch', 'start of month') AS INTEGER) / 86400,
	NEW.action, NEW.access_method, NEW.events)
ON CONFLICT DO UPDATE SET events = events + excluded.events;
END;
--> statement-breakpoint
CREATE TRIGGER `event_rollup_months_delete` AFTER DELETE ON `event_rollups` WHEN OLD.grain IN ('resource', 'organisation') BEGIN
UPDATE event_rollup_months SET events = events - OLD.events
WHERE grain = OLD.grain AND resource_type = OLD.resource_type AND resource_id = OLD.resource_id AND organisation = OLD.organisation
	AND month = CAST(strftime('%s', OLD.day * 86400, 'unixepoch', 'start of month') AS INTEGER) / 86400 AND action = OLD.action AND access_method = OLD.access_method;
DELETE FROM event_rollup_months
WHERE grain = OLD.grain AND resource_type = OLD.resource_type AND resource_id = OLD.resource_id AND organisation = OLD.organisation
	AND month = CAST(strftime('%s', OLD.day * 86400, 'unixepoch', 'start of month') AS INTEGER) / 86400 AND action = OLD.action AND access_method = OLD.access_method
	AND events = 0;
END;
--> statement-breakpoint
CREATE TRIGGER `event_rollup_months_update` AFTER UPDATE OF `grain`, `day`, `action`, `access_method`, `resource_type`, `resource_id`, `organisation`, `events` ON `event_rollups`
WHEN OLD.grain IN ('resource', 'organisation') OR NEW.grain IN ('resource', 'organisation') BEGIN
UPDATE event_rollup_months SET events = events - OLD.events
WHERE OLD.grain IN ('resource', 'organisation') AND grain = OLD.grain AND resource_type = OLD.resource_type AND resource_id = OLD.resource_id
	AND organisation = OLD.organisation AND month = CAST(strftime('%s', OLD.day * 86400, 'unixepoch', 'start of month') AS INTEGER) / 86400
	AND action = OLD.action AND access_method = OLD.access_method;
INSERT INTO event_rollup_months (grain, resource_type, resource_id, organisation, month, action, access_method, events)
SELECT NEW.grain, NEW.resource_type, NEW.resource_id, NEW.organisation, CAST(strftime('%s', NEW.day * 86400, 'unixepoch', 'start of month') AS INTEGER) / 86400,
	NEW.action, NEW.access_method, NEW.events
WHERE NEW.grain IN ('resource', 'organisation')
ON CONFLICT DO UPDATE SET events = events + excluded.events;
DELETE FROM event_rollup_months
WHERE OLD.grain IN ('resource', 'organisation') AND grain = OLD.grain AND resource_type = OLD.resource_type AND resource_id = OLD.resource_id
	AND organisation = OLD.organisation AND month = CAST(strftime('%s', OLD.day * 86400, 'unixepoch', 'start of month') AS INTEGER) / 86400
	AND action = OLD.action AND access_method = OLD.access_method AND events = 0;
END;
