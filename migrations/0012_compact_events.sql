-- The ledger's rows move into the compact `event_rows` (WITHOUT ROWID, in receipt order) with resources in the
-- `event_resources` dictionary and other repeated strings in `event_strings`; `events` becomes a view with the same 27
-- columns and values, so existing seals keep verifying. Encodings: src/db/event-storage.ts; test/db/event-storage.test.ts
-- checks the view and triggers below against it and migrates sealed rows. `actors` becomes WITHOUT ROWID (its key is the
-- table's order): a new actor writes 3 rows instead of 4.
CREATE TABLE `event_strings` (
	`id` integer PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);--> statement-breakpoint
CREATE UNIQUE INDEX `event_strings_value` ON `event_strings` (`value`);--> statement-breakpoint
CREATE TABLE `event_resources` (
	`id` integer PRIMARY KEY NOT NULL,
	`resource_type` text,
	`resource_id` text,
	`doi` text,
	`title` text,
	`file` text
);--> statement-breakpoint
CREATE UNIQUE INDEX `event_resources_key` ON `event_resources` (coalesce(`resource_type`, 0), coalesce(`resource_id`, 0), coalesce(`doi`, 0), coalesce(`title`, 0), coalesce(`file`, 0));--> statement-breakpoint
INSERT INTO event_resources (resource_type, resource_id, doi, title, file) SELECT DISTINCT resource_type, resource_id, doi, title, file FROM events WHERE coalesce(resource_type, resource_id, doi, title, file) IS NOT NULL;--> statement-breakpoint
CREATE TABLE `event_rows` (
	`id` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`received_at` integer NOT NULL,
	`action` integer NOT NULL,
	`status` blob NOT NULL,
	`resource` integer,
	`actor_key` blob,
	`user_key` blob,
	`organisation` integer,
	`ip_prefix` blob,
	`ip_hash` blob,
	`user_agent` integer,
	`bytes` integer,
	`message` text,
	`meta` text,
	`duplicate_of` text,
	`key_id` integer NOT NULL,
	`client_id` blob,
	`content_hash` blob,
	`denied_count` integer,
	`access_method` blob,
	`country` text,
	`session_id` blob,
	PRIMARY KEY(`received_at`, `id`)
) WITHOUT ROWID;--> statement-breakpoint
INSERT INTO event_strings (value) SELECT DISTINCT strings.value FROM events, json_each(json_array(events.action, events.organisation, events.user_agent, events.key_id)) AS strings WHERE strings.value IS NOT NULL;--> statement-breakpoint
INSERT INTO event_rows (id, occurred_at, received_at, action, status, resource, actor_key, user_key, organisation, ip_prefix, ip_hash, user_agent, bytes, message, meta, duplicate_of, key_id, client_id, content_hash, denied_count, access_method, country, session_id)
SELECT events.id,
  events.occurred_at,
  events.received_at,
  (SELECT id FROM event_strings WHERE value = events.action),
  CASE events.status WHEN 'success' THEN 1 WHEN 'failure' THEN 0 WHEN 'denied' THEN 2 ELSE events.status END,
  (SELECT id FROM event_resources WHERE coalesce(resource_type, 0) = coalesce(events.resource_type, 0) AND coalesce(resource_id, 0) = coalesce(events.resource_id, 0) AND coalesce(doi, 0) = coalesce(events.doi, 0) AND coalesce(title, 0) = coalesce(events.title, 0) AND coalesce(file, 0) = coalesce(events.file, 0)),
  CASE WHEN typeof(events.actor_key) = 'text' AND length(events.actor_key) IN (32, 64) AND NOT events.actor_key GLOB '*[^0-9a-f]*' THEN unhex(events.actor_key) ELSE events.actor_key END,
  CASE WHEN events.user_key = events.actor_key THEN 0 ELSE CASE WHEN typeof(events.user_key) = 'text' AND length(events.user_key) IN (32, 64) AND NOT events.user_key GLOB '*[^0-9a-f]*' THEN unhex(events.user_key) ELSE events.user_key END END,
  (SELECT id FROM event_strings WHERE value = events.organisation),
  events.ip_prefix,
  CASE WHEN typeof(events.ip_hash) = 'text' AND length(events.ip_hash) IN (32, 64) AND NOT events.ip_hash GLOB '*[^0-9a-f]*' THEN unhex(events.ip_hash) ELSE events.ip_hash END,
  (SELECT id FROM event_strings WHERE value = events.user_agent),
  events.bytes,
  events.message,
  events.meta,
  events.duplicate_of,
  (SELECT id FROM event_strings WHERE value = events.key_id),
  CASE WHEN typeof(events.client_id) = 'text' AND events.client_id GLOB '????????-????-????-????-????????????' AND NOT replace(events.client_id, '-', '') GLOB '*[^0-9a-f]*' THEN unhex(replace(events.client_id, '-', '')) ELSE events.client_id END,
  CASE WHEN typeof(events.content_hash) = 'text' AND length(events.content_hash) IN (32, 64) AND NOT events.content_hash GLOB '*[^0-9a-f]*' THEN unhex(events.content_hash) ELSE events.content_hash END,
  events.denied_count,
  CASE events.access_method WHEN 'regular' THEN 1 WHEN 'robot' THEN 0 WHEN 'machine' THEN 2 ELSE events.access_method END,
  events.country,
  CASE WHEN typeof(events.session_id) = 'text' AND length(events.session_id) IN (32, 64) AND NOT events.session_id GLOB '*[^0-9a-f]*' THEN unhex(events.session_id) ELSE events.session_id END
FROM events;--> statement-breakpoint
DROP TABLE `events`;--> statement-breakpoint
CREATE UNIQUE INDEX `event_rows_id` ON `event_rows` (`id`);--> statement-breakpoint
CREATE INDEX `event_rows_occurred` ON `event_rows` (`occurred_at`, `id`);--> statement-breakpoint
CREATE INDEX `event_rows_resource` ON `event_rows` (`resource`, `occurred_at`, `id`);--> statement-breakpoint
CREATE INDEX `event_rows_actor` ON `event_rows` (`actor_key`) WHERE `actor_key` IS NOT NULL;--> statement-breakpoint
CREATE INDEX `event_resources_resource_id` ON `event_resources` (`resource_id`);--> statement-breakpoint
CREATE INDEX `event_resources_doi` ON `event_resources` (`doi`);--> statement-breakpoint
CREATE VIEW events AS SELECT
  r.id AS id,
  r.occurred_at AS occurred_at,
  r.received_at AS received_at,
  (SELECT value FROM event_strings WHERE id = r.action) AS action,
  CASE r.status WHEN 1 THEN 'success' WHEN 0 THEN 'failure' WHEN 2 THEN 'denied' ELSE r.status END AS status,
  resources.resource_type AS resource_type,
  resources.resource_id AS resource_id,
  resources.doi AS doi,
  resources.title AS title,
  CASE WHEN typeof(r.actor_key) = 'blob' THEN lower(hex(r.actor_key)) ELSE r.actor_key END AS actor_key,
  CASE WHEN typeof(r.user_key) = 'integer' THEN CASE WHEN typeof(r.actor_key) = 'blob' THEN lower(hex(r.actor_key)) ELSE r.actor_key END ELSE CASE WHEN typeof(r.user_key) = 'blob' THEN lower(hex(r.user_key)) ELSE r.user_key END END AS user_key,
  (SELECT value FROM event_strings WHERE id = r.organisation) AS organisation,
  CASE WHEN typeof(r.ip_prefix) = 'integer' THEN (r.ip_prefix >> 16) || '.' || ((r.ip_prefix >> 8) & 255) || '.' || (r.ip_prefix & 255) || '.0' ELSE r.ip_prefix END AS ip_prefix,
  CASE WHEN typeof(r.ip_hash) = 'blob' THEN lower(hex(r.ip_hash)) ELSE r.ip_hash END AS ip_hash,
  (SELECT value FROM event_strings WHERE id = r.user_agent) AS user_agent,
  r.bytes AS bytes,
  r.message AS message,
  r.meta AS meta,
  r.duplicate_of AS duplicate_of,
  (SELECT value FROM event_strings WHERE id = r.key_id) AS key_id,
  CASE WHEN typeof(r.client_id) = 'blob' THEN lower(substr(hex(r.client_id), 1, 8) || '-' || substr(hex(r.client_id), 9, 4) || '-' || substr(hex(r.client_id), 13, 4) || '-' || substr(hex(r.client_id), 17, 4) || '-' || substr(hex(r.client_id), 21)) ELSE r.client_id END AS client_id,
  CASE WHEN typeof(r.content_hash) = 'blob' THEN lower(hex(r.content_hash)) ELSE r.content_hash END AS content_hash,
  r.denied_count AS denied_count,
  CASE r.access_method WHEN 1 THEN 'regular' WHEN 0 THEN 'robot' WHEN 2 THEN 'machine' ELSE r.access_method END AS access_method,
  r.country AS country,
  resources.file AS file,
  CASE WHEN typeof(r.session_id) = 'blob' THEN lower(hex(r.session_id)) ELSE r.session_id END AS session_id
FROM event_rows AS r
LEFT JOIN event_resources AS resources ON resources.id = r.resource;--> statement-breakpoint
CREATE TRIGGER events_insert INSTEAD OF INSERT ON events BEGIN
INSERT OR IGNORE INTO event_strings (value) SELECT value FROM json_each(json_array(NEW.action, NEW.organisation, NEW.user_agent, coalesce(NEW.key_id, 'legacy'))) WHERE value IS NOT NULL;
INSERT OR IGNORE INTO event_resources (resource_type, resource_id, doi, title, file) SELECT CASE WHEN typeof(NEW.resource_type) IN ('integer', 'real') THEN CAST(NEW.resource_type AS TEXT) ELSE NEW.resource_type END, CASE WHEN typeof(NEW.resource_id) IN ('integer', 'real') THEN CAST(NEW.resource_id AS TEXT) ELSE NEW.resource_id END, CASE WHEN typeof(NEW.doi) IN ('integer', 'real') THEN CAST(NEW.doi AS TEXT) ELSE NEW.doi END, CASE WHEN typeof(NEW.title) IN ('integer', 'real') THEN CAST(NEW.title AS TEXT) ELSE NEW.title END, CASE WHEN typeof(NEW.file) IN ('integer', 'real') THEN CAST(NEW.file AS TEXT) ELSE NEW.file END WHERE coalesce(CASE WHEN typeof(NEW.resource_type) IN ('integer', 'real') THEN CAST(NEW.resource_type AS TEXT) ELSE NEW.resource_type END, CASE WHEN typeof(NEW.resource_id) IN ('integer', 'real') THEN CAST(NEW.resource_id AS TEXT) ELSE NEW.resource_id END, CASE WHEN typeof(NEW.doi) IN ('integer', 'real') THEN CAST(NEW.doi AS TEXT) ELSE NEW.doi END, CASE WHEN typeof(NEW.title) IN ('integer', 'real') THEN CAST(NEW.title AS TEXT) ELSE NEW.title END, CASE WHEN typeof(NEW.file) IN ('integer', 'real') THEN CAST(NEW.file AS TEXT) ELSE NEW.file END) IS NOT NULL;
INSERT INTO event_rows (id, occurred_at, received_at, action, status, resource, actor_key, user_key, organisation, ip_prefix, ip_hash, user_agent, bytes, message, meta, duplicate_of, key_id, client_id, content_hash, denied_count, access_method, country, session_id) VALUES (NEW.id, NEW.occurred_at, NEW.received_at, (SELECT id FROM event_strings WHERE value = NEW.action), CASE CASE WHEN typeof(NEW.status) IN ('integer', 'real') THEN CAST(NEW.status AS TEXT) ELSE NEW.status END WHEN 'success' THEN 1 WHEN 'failure' THEN 0 WHEN 'denied' THEN 2 ELSE CASE WHEN typeof(NEW.status) IN ('integer', 'real') THEN CAST(NEW.status AS TEXT) ELSE NEW.status END END, (SELECT id FROM event_resources WHERE coalesce(resource_type, 0) = coalesce(CASE WHEN typeof(NEW.resource_type) IN ('integer', 'real') THEN CAST(NEW.resource_type AS TEXT) ELSE NEW.resource_type END, 0) AND coalesce(resource_id, 0) = coalesce(CASE WHEN typeof(NEW.resource_id) IN ('integer', 'real') THEN CAST(NEW.resource_id AS TEXT) ELSE NEW.resource_id END, 0) AND coalesce(doi, 0) = coalesce(CASE WHEN typeof(NEW.doi) IN ('integer', 'real') THEN CAST(NEW.doi AS TEXT) ELSE NEW.doi END, 0) AND coalesce(title, 0) = coalesce(CASE WHEN typeof(NEW.title) IN ('integer', 'real') THEN CAST(NEW.title AS TEXT) ELSE NEW.title END, 0) AND coalesce(file, 0) = coalesce(CASE WHEN typeof(NEW.file) IN ('integer', 'real') THEN CAST(NEW.file AS TEXT) ELSE NEW.file END, 0)), CASE WHEN typeof(CASE WHEN typeof(NEW.actor_key) IN ('integer', 'real') THEN CAST(NEW.actor_key AS TEXT) ELSE NEW.actor_key END) = 'text' AND length(CASE WHEN typeof(NEW.actor_key) IN ('integer', 'real') THEN CAST(NEW.actor_key AS TEXT) ELSE NEW.actor_key END) IN (32, 64) AND NOT CASE WHEN typeof(NEW.actor_key) IN ('integer', 'real') THEN CAST(NEW.actor_key AS TEXT) ELSE NEW.actor_key END GLOB '*[^0-9a-f]*' THEN unhex(CASE WHEN typeof(NEW.actor_key) IN ('integer', 'real') THEN CAST(NEW.actor_key AS TEXT) ELSE NEW.actor_key END) ELSE CASE WHEN typeof(NEW.actor_key) IN ('integer', 'real') THEN CAST(NEW.actor_key AS TEXT) ELSE NEW.actor_key END END, CASE WHEN NEW.user_key = NEW.actor_key THEN 0 ELSE CASE WHEN typeof(CASE WHEN typeof(NEW.user_key) IN ('integer', 'real') THEN CAST(NEW.user_key AS TEXT) ELSE NEW.user_key END) = 'text' AND length(CASE WHEN typeof(NEW.user_key) IN ('integer', 'real') THEN CAST(NEW.user_key AS TEXT) ELSE NEW.user_key END) IN (32, 64) AND NOT CASE WHEN typeof(NEW.user_key) IN ('integer', 'real') THEN CAST(NEW.user_key AS TEXT) ELSE NEW.user_key END GLOB '*[^0-9a-f]*' THEN unhex(CASE WHEN typeof(NEW.user_key) IN ('integer', 'real') THEN CAST(NEW.user_key AS TEXT) ELSE NEW.user_key END) ELSE CASE WHEN typeof(NEW.user_key) IN ('integer', 'real') THEN CAST(NEW.user_key AS TEXT) ELSE NEW.user_key END END END, (SELECT id FROM event_strings WHERE value = NEW.organisation), CASE WHEN typeof(NEW.ip_prefix) IN ('integer', 'real') THEN CAST(NEW.ip_prefix AS TEXT) ELSE NEW.ip_prefix END, CASE WHEN typeof(CASE WHEN typeof(NEW.ip_hash) IN ('integer', 'real') THEN CAST(NEW.ip_hash AS TEXT) ELSE NEW.ip_hash END) = 'text' AND length(CASE WHEN typeof(NEW.ip_hash) IN ('integer', 'real') THEN CAST(NEW.ip_hash AS TEXT) ELSE NEW.ip_hash END) IN (32, 64) AND NOT CASE WHEN typeof(NEW.ip_hash) IN ('integer', 'real') THEN CAST(NEW.ip_hash AS TEXT) ELSE NEW.ip_hash END GLOB '*[^0-9a-f]*' THEN unhex(CASE WHEN typeof(NEW.ip_hash) IN ('integer', 'real') THEN CAST(NEW.ip_hash AS TEXT) ELSE NEW.ip_hash END) ELSE CASE WHEN typeof(NEW.ip_hash) IN ('integer', 'real') THEN CAST(NEW.ip_hash AS TEXT) ELSE NEW.ip_hash END END, (SELECT id FROM event_strings WHERE value = NEW.user_agent), NEW.bytes, NEW.message, NEW.meta, NEW.duplicate_of, (SELECT id FROM event_strings WHERE value = coalesce(NEW.key_id, 'legacy')), CASE WHEN typeof(CASE WHEN typeof(NEW.client_id) IN ('integer', 'real') THEN CAST(NEW.client_id AS TEXT) ELSE NEW.client_id END) = 'text' AND CASE WHEN typeof(NEW.client_id) IN ('integer', 'real') THEN CAST(NEW.client_id AS TEXT) ELSE NEW.client_id END GLOB '????????-????-????-????-????????????' AND NOT replace(CASE WHEN typeof(NEW.client_id) IN ('integer', 'real') THEN CAST(NEW.client_id AS TEXT) ELSE NEW.client_id END, '-', '') GLOB '*[^0-9a-f]*' THEN unhex(replace(CASE WHEN typeof(NEW.client_id) IN ('integer', 'real') THEN CAST(NEW.client_id AS TEXT) ELSE NEW.client_id END, '-', '')) ELSE CASE WHEN typeof(NEW.client_id) IN ('integer', 'real') THEN CAST(NEW.client_id AS TEXT) ELSE NEW.client_id END END, CASE WHEN typeof(CASE WHEN typeof(NEW.content_hash) IN ('integer', 'real') THEN CAST(NEW.content_hash AS TEXT) ELSE NEW.content_hash END) = 'text' AND length(CASE WHEN typeof(NEW.content_hash) IN ('integer', 'real') THEN CAST(NEW.content_hash AS TEXT) ELSE NEW.content_hash END) IN (32, 64) AND NOT CASE WHEN typeof(NEW.content_hash) IN ('integer', 'real') THEN CAST(NEW.content_hash AS TEXT) ELSE NEW.content_hash END GLOB '*[^0-9a-f]*' THEN unhex(CASE WHEN typeof(NEW.content_hash) IN ('integer', 'real') THEN CAST(NEW.content_hash AS TEXT) ELSE NEW.content_hash END) ELSE CASE WHEN typeof(NEW.content_hash) IN ('integer', 'real') THEN CAST(NEW.content_hash AS TEXT) ELSE NEW.content_hash END END, NEW.denied_count, CASE CASE WHEN typeof(NEW.access_method) IN ('integer', 'real') THEN CAST(NEW.access_method AS TEXT) ELSE NEW.access_method END WHEN 'regular' THEN 1 WHEN 'robot' THEN 0 WHEN 'machine' THEN 2 ELSE CASE WHEN typeof(NEW.access_method) IN ('integer', 'real') THEN CAST(NEW.access_method AS TEXT) ELSE NEW.access_method END END, NEW.country, CASE WHEN typeof(CASE WHEN typeof(NEW.session_id) IN ('integer', 'real') THEN CAST(NEW.session_id AS TEXT) ELSE NEW.session_id END) = 'text' AND length(CASE WHEN typeof(NEW.session_id) IN ('integer', 'real') THEN CAST(NEW.session_id AS TEXT) ELSE NEW.session_id END) IN (32, 64) AND NOT CASE WHEN typeof(NEW.session_id) IN ('integer', 'real') THEN CAST(NEW.session_id AS TEXT) ELSE NEW.session_id END GLOB '*[^0-9a-f]*' THEN unhex(CASE WHEN typeof(NEW.session_id) IN ('integer', 'real') THEN CAST(NEW.session_id AS TEXT) ELSE NEW.session_id END) ELSE CASE WHEN typeof(NEW.session_id) IN ('integer', 'real') THEN CAST(NEW.session_id AS TEXT) ELSE NEW.session_id END END);
END;--> statement-breakpoint
CREATE TRIGGER events_update INSTEAD OF UPDATE ON events BEGIN
INSERT OR IGNORE INTO event_strings (value) SELECT value FROM json_each(json_array(NEW.action, NEW.organisation, NEW.user_agent, coalesce(NEW.key_id, 'legacy'))) WHERE value IS NOT NULL;
INSERT OR IGNORE INTO event_resources (resource_type, resource_id, doi, title, file) SELECT CASE WHEN typeof(NEW.resource_type) IN ('integer', 'real') THEN CAST(NEW.resource_type AS TEXT) ELSE NEW.resource_type END, CASE WHEN typeof(NEW.resource_id) IN ('integer', 'real') THEN CAST(NEW.resource_id AS TEXT) ELSE NEW.resource_id END, CASE WHEN typeof(NEW.doi) IN ('integer', 'real') THEN CAST(NEW.doi AS TEXT) ELSE NEW.doi END, CASE WHEN typeof(NEW.title) IN ('integer', 'real') THEN CAST(NEW.title AS TEXT) ELSE NEW.title END, CASE WHEN typeof(NEW.file) IN ('integer', 'real') THEN CAST(NEW.file AS TEXT) ELSE NEW.file END WHERE coalesce(CASE WHEN typeof(NEW.resource_type) IN ('integer', 'real') THEN CAST(NEW.resource_type AS TEXT) ELSE NEW.resource_type END, CASE WHEN typeof(NEW.resource_id) IN ('integer', 'real') THEN CAST(NEW.resource_id AS TEXT) ELSE NEW.resource_id END, CASE WHEN typeof(NEW.doi) IN ('integer', 'real') THEN CAST(NEW.doi AS TEXT) ELSE NEW.doi END, CASE WHEN typeof(NEW.title) IN ('integer', 'real') THEN CAST(NEW.title AS TEXT) ELSE NEW.title END, CASE WHEN typeof(NEW.file) IN ('integer', 'real') THEN CAST(NEW.file AS TEXT) ELSE NEW.file END) IS NOT NULL;
UPDATE event_rows SET id = NEW.id, occurred_at = NEW.occurred_at, received_at = NEW.received_at, action = (SELECT id FROM event_strings WHERE value = NEW.action), status = CASE CASE WHEN typeof(NEW.status) IN ('integer', 'real') THEN CAST(NEW.status AS TEXT) ELSE NEW.status END WHEN 'success' THEN 1 WHEN 'failure' THEN 0 WHEN 'denied' THEN 2 ELSE CASE WHEN typeof(NEW.status) IN ('integer', 'real') THEN CAST(NEW.status AS TEXT) ELSE NEW.status END END, resource = (SELECT id FROM event_resources WHERE coalesce(resource_type, 0) = coalesce(CASE WHEN typeof(NEW.resource_type) IN ('integer', 'real') THEN CAST(NEW.resource_type AS TEXT) ELSE NEW.resource_type END, 0) AND coalesce(resource_id, 0) = coalesce(CASE WHEN typeof(NEW.resource_id) IN ('integer', 'real') THEN CAST(NEW.resource_id AS TEXT) ELSE NEW.resource_id END, 0) AND coalesce(doi, 0) = coalesce(CASE WHEN typeof(NEW.doi) IN ('integer', 'real') THEN CAST(NEW.doi AS TEXT) ELSE NEW.doi END, 0) AND coalesce(title, 0) = coalesce(CASE WHEN typeof(NEW.title) IN ('integer', 'real') THEN CAST(NEW.title AS TEXT) ELSE NEW.title END, 0) AND coalesce(file, 0) = coalesce(CASE WHEN typeof(NEW.file) IN ('integer', 'real') THEN CAST(NEW.file AS TEXT) ELSE NEW.file END, 0)), actor_key = CASE WHEN typeof(CASE WHEN typeof(NEW.actor_key) IN ('integer', 'real') THEN CAST(NEW.actor_key AS TEXT) ELSE NEW.actor_key END) = 'text' AND length(CASE WHEN typeof(NEW.actor_key) IN ('integer', 'real') THEN CAST(NEW.actor_key AS TEXT) ELSE NEW.actor_key END) IN (32, 64) AND NOT CASE WHEN typeof(NEW.actor_key) IN ('integer', 'real') THEN CAST(NEW.actor_key AS TEXT) ELSE NEW.actor_key END GLOB '*[^0-9a-f]*' THEN unhex(CASE WHEN typeof(NEW.actor_key) IN ('integer', 'real') THEN CAST(NEW.actor_key AS TEXT) ELSE NEW.actor_key END) ELSE CASE WHEN typeof(NEW.actor_key) IN ('integer', 'real') THEN CAST(NEW.actor_key AS TEXT) ELSE NEW.actor_key END END, user_key = CASE WHEN NEW.user_key = NEW.actor_key THEN 0 ELSE CASE WHEN typeof(CASE WHEN typeof(NEW.user_key) IN ('integer', 'real') THEN CAST(NEW.user_key AS TEXT) ELSE NEW.user_key END) = 'text' AND length(CASE WHEN typeof(NEW.user_key) IN ('integer', 'real') THEN CAST(NEW.user_key AS TEXT) ELSE NEW.user_key END) IN (32, 64) AND NOT CASE WHEN typeof(NEW.user_key) IN ('integer', 'real') THEN CAST(NEW.user_key AS TEXT) ELSE NEW.user_key END GLOB '*[^0-9a-f]*' THEN unhex(CASE WHEN typeof(NEW.user_key) IN ('integer', 'real') THEN CAST(NEW.user_key AS TEXT) ELSE NEW.user_key END) ELSE CASE WHEN typeof(NEW.user_key) IN ('integer', 'real') THEN CAST(NEW.user_key AS TEXT) ELSE NEW.user_key END END END, organisation = (SELECT id FROM event_strings WHERE value = NEW.organisation), ip_prefix = CASE WHEN typeof(NEW.ip_prefix) IN ('integer', 'real') THEN CAST(NEW.ip_prefix AS TEXT) ELSE NEW.ip_prefix END, ip_hash = CASE WHEN typeof(CASE WHEN typeof(NEW.ip_hash) IN ('integer', 'real') THEN CAST(NEW.ip_hash AS TEXT) ELSE NEW.ip_hash END) = 'text' AND length(CASE WHEN typeof(NEW.ip_hash) IN ('integer', 'real') THEN CAST(NEW.ip_hash AS TEXT) ELSE NEW.ip_hash END) IN (32, 64) AND NOT CASE WHEN typeof(NEW.ip_hash) IN ('integer', 'real') THEN CAST(NEW.ip_hash AS TEXT) ELSE NEW.ip_hash END GLOB '*[^0-9a-f]*' THEN unhex(CASE WHEN typeof(NEW.ip_hash) IN ('integer', 'real') THEN CAST(NEW.ip_hash AS TEXT) ELSE NEW.ip_hash END) ELSE CASE WHEN typeof(NEW.ip_hash) IN ('integer', 'real') THEN CAST(NEW.ip_hash AS TEXT) ELSE NEW.ip_hash END END, user_agent = (SELECT id FROM event_strings WHERE value = NEW.user_agent), bytes = NEW.bytes, message = NEW.message, meta = NEW.meta, duplicate_of = NEW.duplicate_of, key_id = (SELECT id FROM event_strings WHERE value = coalesce(NEW.key_id, 'legacy')), client_id = CASE WHEN typeof(CASE WHEN typeof(NEW.client_id) IN ('integer', 'real') THEN CAST(NEW.client_id AS TEXT) ELSE NEW.client_id END) = 'text' AND CASE WHEN typeof(NEW.client_id) IN ('integer', 'real') THEN CAST(NEW.client_id AS TEXT) ELSE NEW.client_id END GLOB '????????-????-????-????-????????????' AND NOT replace(CASE WHEN typeof(NEW.client_id) IN ('integer', 'real') THEN CAST(NEW.client_id AS TEXT) ELSE NEW.client_id END, '-', '') GLOB '*[^0-9a-f]*' THEN unhex(replace(CASE WHEN typeof(NEW.client_id) IN ('integer', 'real') THEN CAST(NEW.client_id AS TEXT) ELSE NEW.client_id END, '-', '')) ELSE CASE WHEN typeof(NEW.client_id) IN ('integer', 'real') THEN CAST(NEW.client_id AS TEXT) ELSE NEW.client_id END END, content_hash = CASE WHEN typeof(CASE WHEN typeof(NEW.content_hash) IN ('integer', 'real') THEN CAST(NEW.content_hash AS TEXT) ELSE NEW.content_hash END) = 'text' AND length(CASE WHEN typeof(NEW.content_hash) IN ('integer', 'real') THEN CAST(NEW.content_hash AS TEXT) ELSE NEW.content_hash END) IN (32, 64) AND NOT CASE WHEN typeof(NEW.content_hash) IN ('integer', 'real') THEN CAST(NEW.content_hash AS TEXT) ELSE NEW.content_hash END GLOB '*[^0-9a-f]*' THEN unhex(CASE WHEN typeof(NEW.content_hash) IN ('integer', 'real') THEN CAST(NEW.content_hash AS TEXT) ELSE NEW.content_hash END) ELSE CASE WHEN typeof(NEW.content_hash) IN ('integer', 'real') THEN CAST(NEW.content_hash AS TEXT) ELSE NEW.content_hash END END, denied_count = NEW.denied_count, access_method = CASE CASE WHEN typeof(NEW.access_method) IN ('integer', 'real') THEN CAST(NEW.access_method AS TEXT) ELSE NEW.access_method END WHEN 'regular' THEN 1 WHEN 'robot' THEN 0 WHEN 'machine' THEN 2 ELSE CASE WHEN typeof(NEW.access_method) IN ('integer', 'real') THEN CAST(NEW.access_method AS TEXT) ELSE NEW.access_method END END, country = NEW.country, session_id = CASE WHEN typeof(CASE WHEN typeof(NEW.session_id) IN ('integer', 'real') THEN CAST(NEW.session_id AS TEXT) ELSE NEW.session_id END) = 'text' AND length(CASE WHEN typeof(NEW.session_id) IN ('integer', 'real') THEN CAST(NEW.session_id AS TEXT) ELSE NEW.session_id END) IN (32, 64) AND NOT CASE WHEN typeof(NEW.session_id) IN ('integer', 'real') THEN CAST(NEW.session_id AS TEXT) ELSE NEW.session_id END GLOB '*[^0-9a-f]*' THEN unhex(CASE WHEN typeof(NEW.session_id) IN ('integer', 'real') THEN CAST(NEW.session_id AS TEXT) ELSE NEW.session_id END) ELSE CASE WHEN typeof(NEW.session_id) IN ('integer', 'real') THEN CAST(NEW.session_id AS TEXT) ELSE NEW.session_id END END WHERE received_at = OLD.received_at AND id = OLD.id;
END;--> statement-breakpoint
CREATE TRIGGER events_delete INSTEAD OF DELETE ON events BEGIN
DELETE FROM event_rows WHERE received_at = OLD.received_at AND id = OLD.id;
END;--> statement-breakpoint
CREATE TABLE `actors_compact` (
	`actor_key` text PRIMARY KEY NOT NULL,
	`actor_id` text,
	`email` text,
	`name` text,
	`updated_at` integer NOT NULL
) WITHOUT ROWID;--> statement-breakpoint
INSERT INTO `actors_compact` (`actor_key`, `actor_id`, `email`, `name`, `updated_at`) SELECT `actor_key`, `actor_id`, `email`, `name`, `updated_at` FROM `actors`;--> statement-breakpoint
DROP TABLE `actors`;--> statement-breakpoint
ALTER TABLE `actors_compact` RENAME TO `actors`;--> statement-breakpoint
CREATE INDEX `actors_email` ON `actors` (`email`);--> statement-breakpoint
CREATE INDEX `actors_actor_id` ON `actors` (`actor_id`);
