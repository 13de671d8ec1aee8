// Alerts page: unusual downloads and failed maintenance as the rules raised them, with their evidence and acknowledgement.
import { useState } from "hono/jsx/dom";
import { errorText, getJson, sendJson } from "../api";
import { Alert, ScrollTable, useLoad } from "../components";
import { formatDateTime, formatNumber } from "../format";

interface AlertItem {
  id: string;
  rule: string;
  subject: string;
  status: "open" | "acknowledged";
  severity: "warning" | "critical";
  title: string;
  evidence: Record<string, unknown>;
  events_query: string | null;
  count: number;
  first_seen: string;
  last_seen: string;
  acknowledged_at: string | null;
}

const ruleNames: Record<string, string> = {
  download_limit: "Download limit hit",
  record_spike: "Unusual record downloads",
  mirroring: "Mirroring",
  failure_share: "Failed downloads",
  maintenance: "Maintenance failed",
};

/** Evidence values: numbers and text as they are, top lists as "value (count)" lines, windows as a range. */
function EvidenceValue({ value }: { value: unknown }) {
  if (Array.isArray(value)) {
    if (value.length === 0) return <span>none</span>;
    return (
      <ul class="evidence-list">
        {value.map((entry, index) => (
          <li key={index}>
            {entry && typeof entry === "object"
              ? Object.values(entry as Record<string, unknown>)
                  .map((part) => (typeof part === "number" ? `(${formatNumber(part)})` : String(part)))
                  .join(" ")
              : String(entry)}
          </li>
        ))}
      </ul>
    );
  }
  if (value && typeof value === "object" && "from" in value && "to" in value) {
    const window = value as { from: string; to: string };
    return <span>{`${formatDateTime(window.from)} – ${formatDateTime(window.to)}`}</span>;
  }
  if (typeof value === "number") return <span>{formatNumber(value)}</span>;
  return <span>{typeof value === "object" ? JSON.stringify(value) : String(value)}</span>;
}

function Evidence({ alert }: { alert: AlertItem }) {
  const [events, setEvents] = useState<{ count: number; more: boolean } | { error: string }>();
  const loadEvents = async () => {
    try {
      const page = await getJson<{ data: unknown[]; next_cursor: string | null }>(alert.events_query!);
      setEvents({ count: page.data.length, more: page.next_cursor !== null });
    } catch (error) {
      setEvents({ error: errorText(error) });
    }
  };
  return (
    <details>
      <summary>Evidence</summary>
      <dl class="evidence">
        {Object.entries(alert.evidence).map(([name, value]) => (
          <div key={name}>
            <dt>{name.replace(/_/g, " ")}</dt>
            <dd>
              <EvidenceValue value={value} />
            </dd>
          </div>
        ))}
      </dl>
      {alert.events_query && (
        <p>
          Events: <code class="alert-query">GET {decodeURIComponent(alert.events_query)}</code>{" "}
          <button type="button" class="secondary" onClick={loadEvents}>
            Count matching events
          </button>{" "}
          {events && ("error" in events ? <span role="alert">{events.error}</span> : <output>{`${formatNumber(events.count)}${events.more ? "+" : ""} events`}</output>)}
        </p>
      )}
    </details>
  );
}

export function AlertsPage({ isAdmin }: { isAdmin: boolean }) {
  const [status, setStatus] = useState<"" | "open" | "acknowledged">("open");
  const [message, setMessage] = useState<{ kind: "error" | "success"; text: string }>();
  const alerts = useLoad(() => getJson<{ data: AlertItem[] }>("/v1/alerts", { status, limit: 100 }), [status]);

  const acknowledge = async (alert: AlertItem) => {
    try {
      await sendJson("POST", `/v1/alerts/${encodeURIComponent(alert.id)}/acknowledge`);
      setMessage({ kind: "success", text: `Acknowledged: ${alert.title}` });
    } catch (error) {
      setMessage({ kind: "error", text: `Could not acknowledge: ${errorText(error)}` });
    }
    alerts.reload();
  };

  return (
    <section aria-labelledby="alerts-title">
      <h1 id="alerts-title">Alerts</h1>
      <p>Raised by the rules every five minutes: download limits hit, unusual downloads of a record, mirroring, failing downloads and failed maintenance. People appear only as pseudonymous user keys and IP prefixes.</p>
      {message && <Alert kind={message.kind}>{message.text}</Alert>}
      <div class="panel">
        <div class="panel-header">
          <h2>Alerts</h2>
          <label>
            Alert status
            <select value={status} onChange={(event: Event) => setStatus((event.target as HTMLSelectElement).value as typeof status)}>
              <option value="open">Open</option>
              <option value="acknowledged">Acknowledged</option>
              <option value="">All</option>
            </select>
          </label>
        </div>
        {alerts.error && <Alert>{alerts.error}</Alert>}
        {alerts.data && alerts.data.data.length === 0 && <p>No {status || ""} alerts.</p>}
        {alerts.data && alerts.data.data.length > 0 && (
          <ScrollTable label="Alerts">
            <thead>
              <tr>
                <th scope="col">Alert</th>
                <th scope="col">Severity</th>
                <th scope="col">Fired</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {alerts.data.data.map((alert) => (
                <tr key={alert.id}>
                  <td>
                    <strong>{alert.title}</strong>
                    <br />
                    <small>{ruleNames[alert.rule] ?? alert.rule}</small>
                    <Evidence alert={alert} />
                  </td>
                  <td>
                    <span class={`badge badge-${alert.severity === "critical" ? "failure" : "pending"}`}>{alert.severity}</span>
                  </td>
                  <td class="alert-times">
                    {`${formatNumber(alert.count)}×`}
                    <br />
                    <small>{`first ${formatDateTime(alert.first_seen)}`}</small>
                    <br />
                    <small>{`last ${formatDateTime(alert.last_seen)}`}</small>
                  </td>
                  <td>
                    {alert.status === "acknowledged" ? (
                      <span>{`Acknowledged ${formatDateTime(alert.acknowledged_at)}`}</span>
                    ) : isAdmin ? (
                      <button type="button" onClick={() => acknowledge(alert)} aria-label={`Acknowledge: ${alert.title}`}>
                        Acknowledge
                      </button>
                    ) : (
                      <span>Open</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </ScrollTable>
        )}
      </div>
    </section>
  );
}
