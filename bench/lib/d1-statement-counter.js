// Streaming tail worker of the traced bench instance: counts the D1 statements the app runs, from the runtime's own D1 spans.
// workerd opens a span per D1 call (d1_run, d1_all, d1_first, d1_raw, d1_exec, d1_batch) and tags batches with
// `db.operation.batch.size` and every call with its aggregated `cloudflare.d1.response.rows_written`.
const singleStatementSpans = new Set(["d1_run", "d1_all", "d1_first", "d1_raw", "d1_exec"]);

const totals = { calls: 0, statements: 0, rowsWritten: 0 };

export default {
  tailStream() {
    return (event) => {
      const { type } = event.event;
      if (type === "spanOpen" && event.event.name.startsWith("d1_")) {
        totals.calls += 1;
        if (singleStatementSpans.has(event.event.name)) totals.statements += 1;
      } else if (type === "attributes") {
        for (const { name, value } of event.event.info) {
          if (name === "db.operation.batch.size") totals.statements += Number(value);
          else if (name === "cloudflare.d1.response.rows_written") totals.rowsWritten += Number(value);
        }
      }
    };
  },
  fetch() {
    return Response.json(totals);
  },
};
