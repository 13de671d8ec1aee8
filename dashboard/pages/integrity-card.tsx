// Admin card of the ledger's seal chain: the last sealed window, the last verification and its problems, and buttons to
// seal now and to verify the last 7 days.
import { useState } from "hono/jsx/dom";
import { errorText, getJson, sendJson } from "../api";
import { Alert, useLoad } from "../components";
import { formatDateTime, formatNumber } from "../format";

interface Seal {
  from: number;
  to: number;
  tree_size: number;
  root: string;
  key_id: string;
  sealed_at: number;
}

interface Verification {
  id: string;
  from: string;
  to: string;
  status: "pending" | "done";
  ok: boolean | null;
  windows: number;
  rows: number;
  problems: { kind: string; detail: string }[];
  created_at: string;
  finished_at: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

function Outcome({ verification }: { verification: Verification }) {
  if (verification.status === "pending") return <span class="badge badge-pending">Running</span>;
  return verification.ok ? <span class="badge badge-success">Passed</span> : <span class="badge badge-failure">Failed</span>;
}

export function SealChainCard() {
  const status = useLoad(() => getJson<{ last_seal: Seal | null; last_verification: Verification | null }>("/v1/integrity/status"), []);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();

  const act = async (work: () => Promise<string>) => {
    setBusy(true);
    setError(undefined);
    setNotice(undefined);
    try {
      setNotice(await work());
      status.reload();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  const sealNow = () =>
    act(async () => {
      const result = await sendJson<{ sealed: Seal[] }>("POST", "/v1/integrity/seal");
      return result.sealed.length === 0 ? "Nothing new to seal yet." : `Sealed ${formatNumber(result.sealed.length)} window(s).`;
    });
  const verify = () =>
    act(async () => {
      const to = Date.now();
      const result = await sendJson<Verification>("POST", "/v1/integrity/verify", { from: iso(to - 7 * 86_400_000), to: iso(to) });
      if (result.status === "pending") return "The verification runs as a job; the cron finishes it within 15 minutes.";
      return result.ok ? `Verification passed: ${formatNumber(result.windows)} window(s), ${formatNumber(result.rows)} row(s).` : `Verification found ${formatNumber(result.problems.length)} problem(s).`;
    });

  const seal = status.data?.last_seal;
  const verification = status.data?.last_verification;
  return (
    <section class="panel" aria-labelledby="seal-chain-title" data-testid="seal-chain-status">
      <h2 id="seal-chain-title">Seal chain</h2>
      <p class="muted">The ledger is sealed every 15 minutes in signed, chained Merkle windows; a verification recomputes them.</p>
      {status.error && <Alert>The seal chain status could not be loaded: {status.error}</Alert>}
      <dl class="facts">
        <dt>Last sealed window</dt>
        <dd data-testid="last-seal">
          {seal ? (
            <>
              up to {formatDateTime(iso(seal.to))}: {formatNumber(seal.tree_size)} row(s), key <code>{seal.key_id}</code>
            </>
          ) : status.loading ? (
            "…"
          ) : (
            "No seal yet"
          )}
        </dd>
        <dt>Last verification</dt>
        <dd data-testid="last-verification">
          {verification ? (
            <>
              <Outcome verification={verification} /> {formatDateTime(verification.finished_at ?? verification.created_at)}:{" "}
              {formatNumber(verification.windows)} window(s), {formatNumber(verification.rows)} row(s)
            </>
          ) : status.loading ? (
            "…"
          ) : (
            "None yet"
          )}
        </dd>
      </dl>
      {verification && verification.problems.length > 0 && (
        <ul class="problems" aria-label="Problems found">
          {verification.problems.slice(0, 10).map((problem, index) => (
            <li key={index}>
              <strong>{problem.kind.replace(/_/g, " ")}</strong>: {problem.detail}
            </li>
          ))}
        </ul>
      )}
      <div class="form-actions">
        <button type="button" class="secondary" disabled={busy} onClick={sealNow}>
          Seal now
        </button>
        <button type="button" disabled={busy} onClick={verify}>
          Verify last 7 days
        </button>
      </div>
      {error && <Alert>The request failed: {error}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}
    </section>
  );
}
