-- Issue 12 (retention): each rolled-up day records how many ledger rows its rollup was built from (the day and the
-- 30 s after it that decide its last COUNTER double-clicks), so that a later run can tell, by counting index entries,
-- that the rollup is still current and skip rebuilding it. NULL (days rolled before this migration) means unknown: rebuild.
ALTER TABLE `rollup_days` ADD `raw_rows` integer;
