// The verdict of the download guards on one event: the per-IP count and the byte budgets, and what a refusal changes in its row.
import type { ByteDecision, RateDecision } from "../../objects/rate-log";
import type { EventRow } from "./ingest";

/** The `message` of an event refused by a byte budget: the reason stays in the ledger. */
export const BYTE_BUDGET_DENIAL = "byte budget exceeded (DOWNLOAD_BYTES_LIMIT)";

export interface GuardVerdict {
  rate: RateDecision | null;
  /** The tighter byte budget's state when the event was charged to one (downloads the service serves). */
  budget: ByteDecision | null;
  /** Which limit refused the event: the download count or a byte budget (of the client IP or of the user key). */
  deniedBy: "count" | "bytes" | null;
}

/** The verdict to report: a refusing budget if any, else the one with the fewest bytes left. */
function tighterBudget(decisions: ByteDecision[]): ByteDecision | null {
  const refused = decisions.filter((decision) => !decision.allowed).sort((a, b) => b.resetSeconds - a.resetSeconds)[0];
  return refused ?? [...decisions].sort((a, b) => a.remaining - b.remaining)[0] ?? null;
}

/** Combines the IP's decision (count, and its byte budget if charged) with the user's byte budget. */
export function verdictOf(rate: RateDecision | null, userBudget: ByteDecision | null): GuardVerdict {
  const budget = tighterBudget([rate?.bytes, userBudget].filter((decision): decision is ByteDecision => decision != null));
  // The count refused when no attempt is left; otherwise a refusal came from a byte budget.
  const countRefused = rate !== null && !rate.allowed && rate.remaining === 0;
  const deniedBy = countRefused ? "count" : budget && !budget.allowed ? "bytes" : null;
  return { rate, budget, deniedBy };
}

/** Records a refusal in the row: stored with status `denied`, a byte-budget refusal with its reason. */
export function markRefused(row: EventRow, deniedBy: "count" | "bytes"): void {
  row.status = "denied";
  if (deniedBy === "bytes") row.message = BYTE_BUDGET_DENIAL;
}
