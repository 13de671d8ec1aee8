// Admin page (admin keys only): retention dry run and run, rollup rebuild, API keys list / create / revoke, the seal chain.
import { useState } from "hono/jsx/dom";
import { errorText, getJson, sendJson } from "../api";
import { Alert, ScrollTable, useLoad } from "../components";
import { addDays, formatDateTime, formatDay, formatNumber, lastDays } from "../format";
import type { ApiKey, RetentionResult } from "../types";
import { SealChainCard } from "./integrity-card";

const scopes = ["read", "ingest", "catalog", "admin"] as const;

export function AdminPage() {
  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title">Admin</h1>
      <div class="two-columns">
        <Retention />
        <RollupRebuild />
      </div>
      <ApiKeys />
      <SealChainCard />
    </section>
  );
}

/** The days field: empty (the configured default) or a whole number of days the API accepts; otherwise a message. */
function parseDays(input: HTMLInputElement): { days?: number; problem?: string } {
  const text = input.value;
  // A number field reports text it cannot read (e.g. "1e") as an empty value, flagged badInput.
  if (text.trim() === "" && !input.validity.badInput) return {};
  const days = Number(text);
  if (!Number.isInteger(days) || days < 1 || days > 36_500) return { problem: "Enter a whole number of days from 1 to 36,500, or leave the field empty for the configured default." };
  return { days };
}

/** The confirmation of a real run, from its dry run: the cutoff day and how many events and daily archives it touches. */
function confirmation(preview: RetentionResult): string {
  const cutoffDay = formatDay(preview.cutoff.slice(0, 10));
  return (
    `Archive to R2 and then delete ${formatNumber(preview.events)} raw event(s) that occurred before ${cutoffDay} (00:00 UTC), ` +
    `in ${formatNumber(preview.archived.length)} daily archive(s)? Rollups stay, so statistics keep counting them.`
  );
}

function Retention() {
  const [result, setResult] = useState<RetentionResult & { dryRun: boolean }>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const run = async (form: HTMLFormElement, dryRun: boolean) => {
    // Each action replaces the card's previous message, whatever it was.
    setResult(undefined);
    setError(undefined);
    const { days, problem } = parseDays(form.elements.namedItem("older_than_days") as HTMLInputElement);
    if (problem) {
      setError(problem);
      return;
    }
    const request = (preview: boolean) =>
      sendJson<RetentionResult>("POST", "/v1/maintenance/retention", { dry_run: preview, ...(days === undefined ? {} : { older_than_days: days }) });
    setBusy(true);
    try {
      if (!dryRun) {
        const preview = await request(true);
        if (preview.events === 0) {
          setResult({ ...preview, dryRun: true });
          return;
        }
        if (!confirm(confirmation(preview))) return;
      }
      setResult({ ...(await request(dryRun)), dryRun });
    } catch (failure) {
      setError(`Retention failed: ${errorText(failure)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel" aria-labelledby="retention-title" onSubmit={(event: Event) => event.preventDefault()}>
      <h2 id="retention-title">Retention</h2>
      <p class="muted">Raw events older than the cutoff are archived to R2, verified, then deleted. Leave the field empty for the configured default.</p>
      <label>
        Older than (days)
        <input type="number" name="older_than_days" min={1} max={36500} step={1} inputmode="numeric" aria-describedby="retention-days-help" />
      </label>
      <p id="retention-days-help" class="muted">
        A whole number of days, 1 or more.
      </p>
      <div class="form-actions">
        <button type="button" class="secondary" disabled={busy} onClick={(event: Event) => run((event.currentTarget as HTMLButtonElement).form!, true)}>
          Dry run
        </button>
        <button type="button" class="danger" disabled={busy} onClick={(event: Event) => run((event.currentTarget as HTMLButtonElement).form!, false)}>
          Run retention…
        </button>
      </div>
      {error && <Alert>{error}</Alert>}
      {result && (
        <div role="status" class="result" data-testid="retention-result">
          <p>
            <strong>{result.dryRun ? "Dry run:" : "Done:"}</strong> cutoff {formatDay(result.cutoff.slice(0, 10))} (events before it);{" "}
            {result.events === 0
              ? "no event is that old, nothing to archive."
              : result.dryRun
                ? `${formatNumber(result.events)} event(s) would be archived and deleted.`
                : `${formatNumber(result.events)} event(s) archived, ${formatNumber(result.deleted)} deleted.`}
          </p>
          {result.archived.length > 0 && (
            <details>
              <summary>{formatNumber(result.archived.length)} archive object(s)</summary>
              <ul>
                {result.archived.map((key) => (
                  <li key={key}>
                    <code>{key}</code>
                  </li>
                ))}
              </ul>
            </details>
          )}
        </div>
      )}
    </form>
  );
}

function RollupRebuild() {
  const initial = lastDays(7);
  const [result, setResult] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const first = String(data.get("first"));
    const last = String(data.get("last"));
    setResult(undefined);
    setError(undefined);
    if (first > last) {
      setError("The first day must come before the last day.");
      return;
    }
    setBusy(true);
    try {
      const answer = await sendJson<Record<string, unknown>>("POST", "/v1/maintenance/rollup", { from: first, to: addDays(last, 1) });
      setResult(`Rollups rebuilt from ${first} to ${last}. ${summarise(answer)}`);
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel" aria-labelledby="rollup-title" onSubmit={submit}>
      <h2 id="rollup-title">Rollup rebuild</h2>
      <p class="muted">Recomputes the daily rollups of a range from the raw events (idempotent).</p>
      <div class="inline-fields">
        <label>
          From
          <input type="date" name="first" required value={initial.first} />
        </label>
        <label>
          Until (inclusive)
          <input type="date" name="last" required value={initial.last} />
        </label>
      </div>
      <div class="form-actions">
        <button type="submit" disabled={busy}>
          Rebuild rollups
        </button>
      </div>
      {error && <Alert>Rebuild failed: {error}</Alert>}
      {result && <Alert kind="success">{result}</Alert>}
    </form>
  );
}

/** The numeric fields of a maintenance answer, e.g. "days: 7, rows: 120". */
function summarise(answer: Record<string, unknown> | null): string {
  return Object.entries(answer ?? {})
    .filter(([, value]) => typeof value === "number")
    .map(([name, value]) => `${name.replace(/_/g, " ")}: ${formatNumber(value as number)}`)
    .join(", ");
}

function ApiKeys() {
  const keys = useLoad(() => getJson<{ data: ApiKey[] }>("/v1/keys"), []);
  const [created, setCreated] = useState<ApiKey & { key: string }>();
  const [error, setError] = useState<string>();
  const [copied, setCopied] = useState(false);

  const create = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const chosen = data.getAll("scopes").map(String);
    setError(undefined);
    setCreated(undefined);
    if (chosen.length === 0) {
      setError("Choose at least one scope.");
      return;
    }
    try {
      setCreated(await sendJson<ApiKey & { key: string }>("POST", "/v1/keys", { name: String(data.get("name")).trim(), scopes: chosen }));
      setCopied(false);
      form.reset();
      keys.reload();
    } catch (failure) {
      setError(`The key could not be created: ${errorText(failure)}`);
    }
  };
  const revoke = async (key: ApiKey) => {
    if (!confirm(`Revoke the key “${key.name}” (${key.prefix}…)? Clients using it stop working at once.`)) return;
    setError(undefined);
    try {
      await sendJson("DELETE", `/v1/keys/${encodeURIComponent(key.id)}`);
      keys.reload();
    } catch (failure) {
      setError(`The key could not be revoked: ${errorText(failure)}`);
    }
  };
  const copy = async (secret: string) => {
    await navigator.clipboard.writeText(secret).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  };

  return (
    <section class="panel" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <form class="inline-fields key-form" onSubmit={create} aria-label="Create an API key">
        <label>
          Name
          <input type="text" name="name" required maxlength={100} />
        </label>
        <fieldset class="scopes">
          <legend>Scopes</legend>
          {scopes.map((scope) => (
            <label key={scope} class="checkbox">
              <input type="checkbox" name="scopes" value={scope} checked={scope === "read"} />
              {scope}
            </label>
          ))}
        </fieldset>
        <div class="form-actions">
          <button type="submit">Create key</button>
        </div>
      </form>
      {error && <Alert>{error}</Alert>}
      {created && (
        <div class="new-key" role="status" data-testid="new-key">
          <p>
            <strong>New key “{created.name}”.</strong> Copy it now: it is shown only this once.
          </p>
          <code class="secret">{created.key}</code>
          <div class="form-actions">
            <button type="button" class="secondary" onClick={() => copy(created.key)}>
              {copied ? "Copied" : "Copy"}
            </button>
            <button type="button" class="secondary" onClick={() => setCreated(undefined)}>
              I have stored it
            </button>
          </div>
        </div>
      )}
      {keys.error && <Alert>Could not load the keys: {keys.error}</Alert>}
      {keys.data && keys.data.data.length === 0 && <p class="empty">No API keys yet: only the bootstrap ADMIN_API_KEY works.</p>}
      {keys.data && keys.data.data.length > 0 && (
        <ScrollTable label="API keys">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">State</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.data.map((key) => (
              <tr key={key.id} data-key-id={key.id}>
                <td>{key.name}</td>
                <td>
                  <code>{key.prefix}…</code>
                </td>
                <td>{key.scopes.join(", ")}</td>
                <td>{formatDateTime(key.created_at)}</td>
                <td>{formatDateTime(key.last_used_at)}</td>
                <td>{key.revoked_at ? <span class="badge badge-cancelled">Revoked {formatDateTime(key.revoked_at)}</span> : <span class="badge badge-completed">Active</span>}</td>
                <td>
                  {!key.revoked_at && (
                    <button type="button" class="danger" onClick={() => revoke(key)} aria-label={`Revoke key ${key.name}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </ScrollTable>
      )}
    </section>
  );
}
