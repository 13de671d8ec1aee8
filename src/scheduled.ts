// Cron entry: each trigger in wrangler.jsonc runs its list of jobs in order; a failing job is logged and the others still run.
import { expireBundles } from "./core/bundles/bundles";
import { failStaleJobs } from "./core/bundles/jobs";
import { rebuildDays, runRollup } from "./core/analytics/rollup";
import { runRetention } from "./core/retention/retention";
import { runMonthlyDsr } from "./core/counter/reports";
import { dayOf } from "./core/analytics/periods";
import { getConfig, type Config } from "./lib/config";

/** Must match "triggers.crons" in wrangler.jsonc. */
export const CRONS = {
  everyQuarterHour: "*/15 * * * *",
  daily: "10 3 * * *",
} as const;

/** Closed days the daily job re-rolls from raw rows, catching events that reached D1 later than the settle window. */
const RECHECK_DAYS = 7;

interface Job {
  name: string;
  run(env: Env, config: Config): Promise<unknown>;
}

const jobs: Record<string, Job[]> = {
  [CRONS.everyQuarterHour]: [
    { name: "rollup", run: (env, config) => runRollup(env.DB, { settleMs: config.rollupSettleSeconds * 1000, counter: config.counterRules }) },
    { name: "stale-jobs", run: (env, config) => failStaleJobs(env, config) },
  ],
  [CRONS.daily]: [
    {
      name: "rollup-recheck",
      run: (env, config) => rebuildDays(env.DB, dayOf(Date.now()) - RECHECK_DAYS, dayOf(Date.now()), { settleMs: config.rollupSettleSeconds * 1000, counter: config.counterRules }),
    },
    { name: "retention", run: (env, config) => runRetention(env, config) },
    { name: "bundle-expiry", run: (env) => expireBundles(env) },
    // After the rollup re-check, so last month's final day is rolled up; builds once, submits until DataCite accepts.
    { name: "counter-dsr", run: (env, config) => runMonthlyDsr(env, config) },
  ],
};

export async function scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const planned = jobs[controller.cron];
  if (!planned) {
    console.warn(JSON.stringify({ level: "warn", message: "no jobs for this cron trigger", cron: controller.cron }));
    return;
  }
  const config = getConfig(env);
  const failed: string[] = [];
  for (const job of planned) {
    try {
      const result = await job.run(env, config);
      console.log(JSON.stringify({ level: "info", message: "cron job finished", cron: controller.cron, job: job.name, result }));
    } catch (error) {
      failed.push(job.name);
      console.error(JSON.stringify({ level: "error", message: "cron job failed", cron: controller.cron, job: job.name, error: String(error) }));
    }
  }
  if (failed.length > 0) throw new Error(`cron ${controller.cron}: ${failed.join(", ")} failed`);
}
