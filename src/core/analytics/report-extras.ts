// What a PDF usage report adds when the service has it: the period's COUNTER totals and the seal covering its end.
import type { Config } from "../../lib/config";
import { dsrDatasets } from "../counter/dsr";
import { latestSeal, sealCovering } from "../integrity/seals";
import { dayLabel, dayOf } from "./periods";
import type { ReportPdfExtras } from "./report-pdf";

/**
 * COUNTER totals per metric type over [from, to) (every dataset, or one when `datasetId` names it), read through the
 * Dataset Report's own code, and the root of the seal whose window holds the period's end (the latest seal while the
 * period is still open or not yet sealed).
 */
export async function reportPdfExtras(
  db: D1Database,
  config: Config,
  range: { from: number; to: number },
  options: { datasetId?: string; now?: number } = {},
): Promise<ReportPdfExtras> {
  const now = options.now ?? Date.now();
  const query = { begin_date: dayLabel(dayOf(range.from)), end_date: dayLabel(dayOf(range.to - 1)), dataset_id: options.datasetId };
  const totals = new Map<string, number>();
  for await (const dataset of dsrDatasets(db, config, query, now))
    for (const { instance } of dataset.performance)
      for (const item of instance) totals.set(item["metric-type"], (totals.get(item["metric-type"]) ?? 0) + item.count);
  const seal = (await sealCovering(db, Math.min(range.to, now) - 1)) ?? (await latestSeal(db));
  return {
    counter: {
      release: "rd1",
      metrics: [...totals].map(([metric_type, value]) => ({ metric_type, value })),
      note: "COUNTER Code of Practice for Research Data: regular and machine access, robots excluded, UTC",
    },
    ...(seal ? { sealRoot: { root: seal.root, sealed_through: new Date(seal.to).toISOString() } } : {}),
  };
}
