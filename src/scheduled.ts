// Cron entry: each trigger in wrangler.jsonc runs its list of jobs in order; a failing job is logged and the others still run.
import { raiseMaintenanceAlert } from "./core/alerts/alerts";
import { emitWebhookEvent } from "./core/alerts/webhooks";
import { evaluateAlerts } from "./core/alerts/rules";
import { expireBundles } from "./core/bundles/bundles";
import { failStaleJobs } from "./core/bundles/jobs";
import { backfillSketches, rebuildDays, runRollup } from "./core/analytics/rollup";
import { runRetention } from "./core/retention/retention";
import { sealPending } from "./core/integrity/seals";
import { continuePendingVerifications, verifyRecentDays } from "./core/integrity/verify";
import { runMonthlyDsr } from "./core/counter/reports";
import { dayOf } from "./core/analytics/periods";
import { getConfig, type Config } from "./lib/config";

/** Must match "triggers.crons" in wrangler.jsonc. */
export const CRONS = {
  everyQuarterHour: "*/15 * * * *",
  daily: "10 3 * * *",
  everyFiveMinutes: "*/5 * * * *",
} as const;

/** Closed days the daily job re-rolls from raw rows, catching events that reached D1 later than the settle window. */
const RECHECK_DAYS = 7;

interface Job<Result = unknown> {
  name: string;
  run(env: Env, config: Config): Promise<Result>;
  /** What the job did, in words, for the one log line per job (`wrangler dev` prints it in the terminal); default: its result as JSON. */
  describe?(result: Result): string;
  /** A failure of this job raises a maintenance alert (and `maintenance.failed` webhooks). */
  alertOnFailure?: boolean;
}

/** Keeps each job's result type tied to its description. */
const job = <Result>(definition: Job<Result>): Job => definition as Job;

const plural = (count: number, noun: string) => `${count.toLocaleString("en")} ${noun}${count === 1 ? "" : "s"}`;
const rolled = (result: { days: number; rebuilt: number; folded: number }) =>
  result.days === 0 ? "no day to roll up" : `${plural(result.days, "day")} rolled up (${result.rebuilt} rebuilt from raw rows, ${result.folded} folded from archived days)`;

const jobs: Record<string, Job[]> = {
  [CRONS.everyQuarterHour]: [
    job({ name: "rollup", run: (env, config) => runRollup(env.DB, { settleMs: config.rollupSettleSeconds * 1000, counter: config.counterRules }), describe: rolled, alertOnFailure: true }),
    job({
      name: "sketch-backfill",
      run: (env) => backfillSketches(env.DB),
      describe: (result) => (result.filled === 0 ? `no rollup row without a sketch (${plural(result.scanned, "row")} looked at)` : `${plural(result.filled, "rollup sketch")} filled in`),
    }),
    job({
      name: "stale-jobs",
      run: (env, config) => failStaleJobs(env, config),
      describe: (ids) => (ids.length === 0 ? "no stalled bundle job" : `${plural(ids.length, "stalled bundle job")} failed: ${ids.join(", ")}`),
    }),
    job({
      name: "seal",
      run: (env, config) => sealPending(env, config),
      alertOnFailure: true,
      describe: (result) =>
        `${plural(result.sealed.length, "window")} sealed, ${result.sealed_to === null ? "nothing sealed yet" : `the ledger is sealed through ${new Date(result.sealed_to).toISOString()}`}`,
    }),
    job({
      name: "verifications",
      run: (env, config) => continuePendingVerifications(env, config),
      alertOnFailure: true,
      describe: (continued) => (continued === 0 ? "no verification job waiting" : `${plural(continued, "verification job")} continued`),
    }),
  ],
  [CRONS.daily]: [
    job({
      name: "rollup-recheck",
      run: (env, config) => rebuildDays(env.DB, dayOf(Date.now()) - RECHECK_DAYS, dayOf(Date.now()), { settleMs: config.rollupSettleSeconds * 1000, counter: config.counterRules }),
      alertOnFailure: true,
      describe: (result) => `last ${RECHECK_DAYS} closed days re-checked: ${rolled(result)}`,
    }),
    job({
      name: "retention",
      run: (env, config) => runRetention(env, config),
      alertOnFailure: true,
      describe: (result) =>
        `events before ${result.cutoff.slice(0, 10)}: ${plural(result.archived.length, "day")} archived to R2, ${plural(result.deleted, "event")} deleted, ${plural(result.rollups_deleted, "rollup row")} deleted`,
    }),
    job({ name: "bundle-expiry", run: (env) => expireBundles(env), describe: (expired) => `${plural(expired, "expired bundle")} deleted from R2` }),
    job({
      name: "verify-recent",
      // A verification that finds tampering is a failed run too: it raises the same maintenance alert.
      run: async (env, config) => {
        const report = await verifyRecentDays(env, config);
        if (!report.ok) await raiseMaintenanceAlert(env, "verify-recent", { verification: report.id, problems: report.problems.length });
        return report;
      },
      alertOnFailure: true,
      describe: (report) =>
        `seals of the last 7 days verified: ${report.ok ? "all windows ok" : `${plural(report.problems.length, "problem")} found`} (${plural(report.windows, "window")}, ${plural(report.rows, "row")})`,
    }),
    // After the rollup re-check, so last month's final day is rolled up; builds once, submits until DataCite accepts.
    job({
      name: "counter-dsr",
      run: async (env, config) => {
        const run = await runMonthlyDsr(env, config);
        if (run.built) await emitWebhookEvent(env, "report.dsr.ready", { month: run.month, object_key: run.built, submission: run.submission });
        return run;
      },
      alertOnFailure: true,
      describe: (run) => `Dataset Report of ${run.month}: ${run.built ? `built (${run.built})` : "already built"}, submission ${run.submission}`,
    }),
  ],
  [CRONS.everyFiveMinutes]: [{ name: "alerts", run: (env, config) => evaluateAlerts(env, config) }],
};

/** What a manual trigger needs, since `/cdn-cgi/…/scheduled` without `?cron=` sends an empty cron expression. */
const manualTriggerHint = Object.values(CRONS)
  .map((cron) => `/cdn-cgi/handler/scheduled?cron=${cron.replaceAll(" ", "+")}`)
  .join(" or ");

export async function scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const planned = jobs[controller.cron];
  if (!planned) {
    console.warn(`[cron "${controller.cron}"] no jobs for this trigger; nothing ran. Run them with ${manualTriggerHint}`);
    return;
  }
  const config = getConfig(env);
  const failed: string[] = [];
  for (const { name, run, describe, alertOnFailure } of planned) {
    const started = Date.now();
    try {
      const result = await run(env, config);
      console.log(`[cron ${controller.cron}] ${name}: ${describe ? describe(result) : `done, ${JSON.stringify(result)}`} (${Date.now() - started} ms)`);
    } catch (error) {
      failed.push(name);
      console.error(`[cron ${controller.cron}] ${name} FAILED after ${Date.now() - started} ms: ${String(error)}`);
      if (alertOnFailure) await raiseMaintenanceAlert(env, name, { cron: controller.cron, error: String(error) });
    }
  }
  if (failed.length > 0) throw new Error(`cron ${controller.cron}: ${failed.join(", ")} failed`);
}
