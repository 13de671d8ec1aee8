// 1,000-event batches: acknowledged events/s under load, how fast they reach D1, and D1 statements per event (traced run).
import { describeStatuses, loadFigures, runClosedLoop } from "../lib/load.mjs";
import { postBatches } from "../lib/workload.mjs";

const resourceType = "bench-batch";
const BATCH = 1000;

export default {
  name: "ingest-batch",
  description: "POST /v1/events/batch with 1,000 varied events per request; events/s and D1 statements per event",
  order: 20,
  async run(ctx) {
    const events = ctx.events(21);
    const connections = Math.min(ctx.options.connections, 8);
    const makeEvent = () => events.event({ resourceType, ip: events.ip() });
    const before = await ctx.countStored(resourceType);
    let acknowledged = 0;
    const send = async (n) => {
      const list = Array.from({ length: BATCH }, makeEvent);
      const response = await fetch(`${ctx.server.appUrl}/v1/events/batch`, {
        method: "POST",
        headers: { authorization: `Bearer ${ctx.keys.ingest[n % ctx.keys.ingest.length]}`, "content-type": "application/json", "cf-connecting-ip": events.ip() },
        body: JSON.stringify({ events: list }),
      });
      const answer = await response.json();
      if (response.ok) acknowledged += answer.accepted;
      return response.status;
    };
    if (ctx.options.warmup > 0) await runClosedLoop({ duration: ctx.options.warmup, connections, send });
    const warmupAcknowledged = acknowledged;
    const load = await runClosedLoop({ duration: ctx.options.duration, connections, send, workerdPid: ctx.server.workerdPid });
    const measured = acknowledged - warmupAcknowledged;
    const drain = await ctx.waitForStored(resourceType, before + acknowledged);

    // Statement counting runs on a separate traced instance (tracing slows the runtime), with the same batches and concurrency.
    const traced = await ctx.traced(async (server) => {
      const total = (ctx.options.full ? 200 : 10) * BATCH;
      const generator = ctx.events(22);
      const start = await server.d1Totals();
      const sums = await postBatches({
        api: server.api,
        key: server.ingestKey,
        total,
        parallel: connections,
        makeEvent: () => generator.event({ resourceType, ip: generator.ip() }),
      });
      const { count } = await waitForSettled(server, resourceType, sums.accepted);
      const end = await server.d1Totals();
      return {
        events: count,
        requests: sums.requests,
        statements: end.statements - start.statements,
        calls: end.calls - start.calls,
        rowsWritten: end.rowsWritten - start.rowsWritten,
      };
    });
    return {
      figures: { ...loadFigures(load), eventsPerSecond: measured / load.durationSeconds, statementsPerEvent: traced.statements / traced.events },
      notes: [
        `${connections} connections, batches of ${BATCH}; ${describeStatuses(load)}; ${drain.note}`,
        `statements counted on a traced instance: ${traced.statements.toLocaleString("en-US")} D1 statements in ${traced.calls.toLocaleString("en-US")} D1 calls for ${traced.events.toLocaleString("en-US")} events (${traced.requests} batch requests, auth and flushes included), ${(traced.rowsWritten / traced.events).toFixed(1)} rows written per event (index entries included)`,
      ],
      targets: [
        { metric: "eventsPerSecond", op: ">=", value: 20_000, label: "≥ 20,000 events/s" },
        { metric: "statementsPerEvent", op: "<=", value: 0.05, label: "≤ 0.05 D1 statements/event" },
      ],
      details: { load, acknowledged: measured, drain, traced },
    };
  },
};

/** Waits until every accepted event is in D1 and the statement counter has been quiet for a second (the last flush done). */
async function waitForSettled(server, type, expected) {
  const deadline = Date.now() + 300_000;
  let count = 0;
  let last = -1;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    count = await server.countStored(type);
    const { statements } = await server.d1Totals();
    if (statements !== last) {
      last = statements;
      quietSince = Date.now();
    }
    if (count >= expected && Date.now() - quietSince >= 1000) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { count };
}
