-- Issue 12, rows written per event: a new actor wrote its row and two index entries. An actor with an actor_id is keyed
-- by HMAC(PII_KEY, "id:" + actor_id) (actorKeyFor in src/core/ledger/ingest.ts), so readers find it by that key (the
-- primary key) and the actor_id index goes; the e-mail index (a person known by id and e-mail is keyed by the id) keeps
-- only actors with an e-mail. A new actor now writes 2 rows with an e-mail, 1 without.
DROP INDEX `actors_actor_id`;--> statement-breakpoint
DROP INDEX `actors_email`;--> statement-breakpoint
CREATE INDEX `actors_email` ON `actors` (`email`) WHERE `email` IS NOT NULL;
