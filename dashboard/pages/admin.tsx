// Admin page (admin keys only): retention dry run and run, rollup rebuild, API keys list / create / revoke, the seal chain.
import { useState } from "hono/jsx/dom";
import { errorText, getJson, sendJson } from "../api";
import { Alert, ScrollTable, useLoad } from "../components";
import { addDays, formatDateTime, formatNumber, lastDays } from "../format";
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

function Retention() {
  const [result, setResult] = useState<RetentionResult & { dryRun: boolean }>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const run = async (form: HTMLFormElement, dryRun: boolean) => {
    const days = (form.elements.namedItem("older_than_days") as HTMLInputElement).value;
    if (!dryRun && !confirm("Archive and delete the raw events older than the cutoff? Rollups stay.")) return;
    setBusy(true);
    setError(undefined);
    try {
      const answer = await sendJson<RetentionResult>("POST", "/v1/maintenance/retention", {
        dry_run: dryRun,
        ...(days ? { older_than_days: Number(days) } : {}),
      });
      setResult({ ...answer, dryRun });
    } catch (failure) {
      setError(errorText(failure));
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
        <input type="number" name="older_than_days" min={1} step={1} inputmode="numeric" />
      </label>
      <div class="form-actions">
        <button type="button" class="secondary" disabled={busy} onClick={(event: Event) => run((event.currentTarget as HTMLButtonElement).form!, true)}>
          Dry run
        </button>
        <button type="button" class="danger" disabled={busy} onClick={(event: Event) => run((event.currentTarget as HTMLButtonElement).form!, false)}>
          Run retention…
        </button>
      </div>
      {error && <Alert>Retention failed: {error}</Alert>}
      {result && (
        <div role="status" class="result" data-testid="retention-result">
          <p>
            <strong>{result.dryRun ? "Dry run:" : "Done:"}</strong> cutoff {formatDateTime(result.cutoff)}; {formatNumber(result.events)} event(s){" "}
            {result.dryRun ? "would be archived and deleted" : `archived, ${formatNumber(result.deleted)} deleted`}.
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
    if (first > last) {
      setError("The first day must come before the last day.");
      return;
    }
    setBusy(true);
    setError(undefined);
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
    if (chosen.length === 0) {
      setError("Choose at least one scope.");
      return;
    }
    setError(undefined);
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
