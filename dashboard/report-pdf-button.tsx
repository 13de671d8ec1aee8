// "PDF report" on the overview: the figures of the chosen range and interval, rendered by GET /v1/stats/report.pdf.
import { useState } from "hono/jsx/dom";
import { downloadFile, errorText, queryString } from "./api";
import { Alert } from "./components";
import type { Interval } from "./types";

export function ReportPdfButton({ from, to, interval }: { from: string; to: string; interval: Interval }) {
  const [state, setState] = useState<{ busy: boolean; message?: string; error?: string }>({ busy: false });
  const download = async () => {
    setState({ busy: true, message: "Preparing the PDF report…" });
    try {
      const file = await downloadFile(`/v1/stats/report.pdf${queryString({ from, to, interval })}`, "download-audit-report.pdf");
      setState({ busy: false, message: `Downloaded ${file.name}.` });
    } catch (error) {
      setState({ busy: false, error: `The report failed: ${errorText(error)}` });
    }
  };
  return (
    <div class="report-pdf">
      <button type="button" class="secondary" onClick={download} disabled={state.busy}>
        PDF report
      </button>
      {state.message && <Alert kind="info">{state.message}</Alert>}
      {state.error && <Alert>{state.error}</Alert>}
    </div>
  );
}
