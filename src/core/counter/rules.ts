// Which actions are COUNTER requests and investigations, and the Code of Practice's fixed windows.
import { DEFAULT_COUNTER_INVESTIGATION_ACTIONS, DEFAULT_COUNTER_REQUEST_ACTIONS, type CounterRules } from "../../lib/config";

export type { CounterRules };

export const DEFAULT_COUNTER_RULES: CounterRules = {
  requestActions: new Set(DEFAULT_COUNTER_REQUEST_ACTIONS),
  investigationActions: new Set(DEFAULT_COUNTER_INVESTIGATION_ACTIONS),
};

/** Repeats of the same item by the same user within this many ms (inclusive) are one click: the later one is kept. */
export const DOUBLE_CLICK_MS = 30_000;

/** A session is a user key within one UTC clock hour. */
export const SESSION_MS = 3_600_000;

/** Actions that count at all: investigations and requests. */
export const countedActions = (rules: CounterRules) => [...new Set([...rules.requestActions, ...rules.investigationActions])];
