-- Issue 10: who stored each event, the client's own id (scoped to that key), a fingerprint of the client's content for
-- replay conflicts, and the number of refusals an aggregated denial row stands for.
ALTER TABLE `events` ADD `key_id` text DEFAULT 'legacy' NOT NULL;--> statement-breakpoint
ALTER TABLE `events` ADD `client_id` text;--> statement-breakpoint
ALTER TABLE `events` ADD `content_hash` text;--> statement-breakpoint
ALTER TABLE `events` ADD `denied_count` integer;
