// Jobs page: start a ZIP bundle of records, and follow bundle jobs live (polling) with progress, cancel and download.
import { useEffect, useState } from "hono/jsx/dom";
import { errorText, getJson, sendJson } from "../api";
import { Alert, Badge, ScrollTable, useLoad } from "../components";
import { formatBytes, formatDateTime, formatNumber, formatPercent } from "../format";
import type { CatalogRecord, Job } from "../types";

const POLL_MS = 2500;
const activeStatuses = new Set(["pending", "processing"]);

/** The signed download link of a completed bundle job. */
function downloadUrl(job: Job): string | undefined {
  const url = job.result?.url ?? job.result?.download_url;
  return typeof url === "string" ? url : undefined;
}

/** What the job says, with a finished bundle's size in readable units (the API's message counts raw bytes). */
function jobMessage(job: Job): string {
  const files = job.result?.total_files;
  const size = job.result?.zip_size;
  if (job.status === "completed" && typeof files === "number" && typeof size === "number") {
    return `Bundle ready: ${formatNumber(files)} file${files === 1 ? "" : "s"}, ${formatBytes(size)}`;
  }
  return job.message ?? "–";
}

/** Progress as a bar while the job runs or when it finished; a stopped job shows no percentage (it would mislead). */
function JobProgress({ job }: { job: Job }) {
  if (job.status === "cancelled" || job.status === "failed") {
    return <span class="progress-text">{job.status === "cancelled" ? "Cancelled" : "Stopped"}</span>;
  }
  return (
    <>
      <progress max={100} value={job.progress} aria-label={`Progress of job ${job.id}`}>
        {formatPercent(job.progress / 100)}
      </progress>
      <span class="progress-text">{formatPercent(job.progress / 100)}</span>
    </>
  );
}

export function JobsPage({ canSearchRecords }: { canSearchRecords: boolean }) {
  const [statusFilter, setStatusFilter] = useState("");
  const [jobs, setJobs] = useState<Job[]>();
  const [loadError, setLoadError] = useState<string>();
  const [actionMessage, setActionMessage] = useState<{ kind: "error" | "success"; text: string }>();
  const [refresh, setRefresh] = useState(0);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      if (!document.hidden) {
        try {
          const answer = await getJson<{ data: Job[] }>("/v1/jobs", { status: statusFilter });
          if (stopped) return;
          setJobs(answer.data);
          setLoadError(undefined);
        } catch (error) {
          if (stopped) return;
          setLoadError(errorText(error));
        }
      }
      if (!stopped) timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [statusFilter, refresh]);

  const cancel = async (job: Job) => {
    try {
      await sendJson("DELETE", `/v1/jobs/${encodeURIComponent(job.id)}`);
      setActionMessage({ kind: "success", text: `Job ${job.id} cancelled.` });
    } catch (error) {
      setActionMessage({ kind: "error", text: `Could not cancel job ${job.id}: ${errorText(error)}` });
    }
    setRefresh((value) => value + 1);
  };
  const running = (jobs ?? []).filter((job) => activeStatuses.has(job.status)).length;

  return (
    <section aria-labelledby="jobs-title">
      <h1 id="jobs-title">Jobs</h1>
      <NewBundle
        canSearchRecords={canSearchRecords}
        onCreated={(text) => {
          setActionMessage({ kind: "success", text });
          setRefresh((value) => value + 1);
        }}
      />
      {actionMessage && <Alert kind={actionMessage.kind}>{actionMessage.text}</Alert>}
      <div class="panel">
        <div class="panel-header">
          <h2>Bundle jobs</h2>
          <label>
            Status
            <select value={statusFilter} onChange={(event: Event) => setStatusFilter((event.target as HTMLSelectElement).value)}>
              <option value="">All</option>
              {["pending", "processing", "completed", "failed", "cancelled"].map((status) => (
                <option key={status} value={status}>
                  {status}
                </option>
              ))}
            </select>
          </label>
        </div>
        <p class="muted" aria-live="polite">
          {jobs ? `${formatNumber(running)} running; refreshed every ${POLL_MS / 1000} s.` : loadError ? "" : "Loading jobs…"}
        </p>
        {loadError && <Alert>Could not load jobs: {loadError}</Alert>}
        {jobs && jobs.length === 0 && <p class="empty">No jobs yet.</p>}
        {jobs && jobs.length > 0 && (
          <ScrollTable label="Bundle jobs">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Message</th>
                <th scope="col">Updated</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((job) => {
                const url = downloadUrl(job);
                return (
                  <tr key={job.id} data-job-id={job.id} data-status={job.status}>
                    <td>
                      <code class="id">{job.id}</code>
                      <span class="muted block">
                        {job.type} · {formatDateTime(job.created_at)}
                      </span>
                    </td>
                    <td>
                      <Badge status={job.status} />
                    </td>
                    <td class="progress-cell">
                      <JobProgress job={job} />
                    </td>
                    <td>{jobMessage(job)}</td>
                    <td>{formatDateTime(job.updated_at)}</td>
                    <td>
                      <div class="actions">
                      {activeStatuses.has(job.status) && (
                        <button type="button" class="danger" onClick={() => cancel(job)} aria-label={`Cancel job ${job.id}`}>
                          Cancel
                        </button>
                      )}
                      {job.status === "completed" && url && (
                        <a class="button" href={url} download aria-label={`Download the bundle of job ${job.id}`}>
                          Download
                        </a>
                      )}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </ScrollTable>
        )}
      </div>
    </section>
  );
}

function NewBundle({ canSearchRecords, onCreated }: { canSearchRecords: boolean; onCreated: (message: string) => void }) {
  const [search, setSearch] = useState("");
  const [chosen, setChosen] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const records = useLoad(
    () => (canSearchRecords ? getJson<{ data: CatalogRecord[] }>("/v1/records", { q: search.trim(), limit: 50 }) : Promise.resolve(undefined)),
    [search, canSearchRecords],
  );

  const toggle = (id: string, checked: boolean) => setChosen(checked ? [...new Set([...chosen, id])] : chosen.filter((item) => item !== id));
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const typed = String(data.get("other_ids") ?? "")
      .split(/[\s,]+/)
      .filter(Boolean);
    const recordIds = [...new Set([...chosen, ...typed])];
    if (recordIds.length === 0) {
      setError("Choose at least one record.");
      return;
    }
    const user = Object.fromEntries(
      (["email", "name", "organisation"] as const).map((field) => [field, String(data.get(field) ?? "").trim()]).filter(([, value]) => value),
    );
    setBusy(true);
    setError(undefined);
    try {
      const answer = await sendJson<{ bundle_id: string; job: { id: string } }>("POST", "/v1/bundles", {
        record_ids: recordIds,
        include_files: data.get("include_files") === "on",
        user,
      });
      setChosen([]);
      form.reset();
      onCreated(`Bundle job ${answer.job.id} started for ${formatNumber(recordIds.length)} record(s).`);
    } catch (failure) {
      setError(`The bundle could not be started: ${errorText(failure)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel bundle-form" onSubmit={submit} aria-labelledby="new-bundle-title">
      <h2 id="new-bundle-title">New ZIP bundle</h2>
      {canSearchRecords ? (
        <>
          <label>
            Find records
            <input type="search" value={search} onInput={(event: Event) => setSearch((event.target as HTMLInputElement).value)} placeholder="title or id" />
          </label>
          {records.error && <Alert>Could not load records: {records.error}</Alert>}
          <fieldset class="record-list">
            <legend>Records ({formatNumber(chosen.length)} chosen)</legend>
            {(records.data?.data ?? []).map((record) => (
              <label key={record.id} class="checkbox">
                <input type="checkbox" value={record.id} checked={chosen.includes(record.id)} onChange={(event: Event) => toggle(record.id, (event.target as HTMLInputElement).checked)} />
                <span>
                  {record.title} <span class="muted">({record.id}{record.doi ? `, DOI ${record.doi}` : ""})</span>
                </span>
              </label>
            ))}
            {records.data && records.data.data.length === 0 && <p class="empty">No records match.</p>}
          </fieldset>
        </>
      ) : (
        <p class="note" data-testid="no-catalog-scope">
          This key lacks the <code>catalog</code> scope, so the catalog cannot be searched here: type the record ids below.
        </p>
      )}
      <label>
        {canSearchRecords ? "Other record ids (comma-separated)" : "Record ids (comma-separated)"}
        <input type="text" name="other_ids" />
      </label>
      <label class="checkbox">
        <input type="checkbox" name="include_files" />
        Include data files (otherwise metadata PDFs only)
      </label>
      <fieldset class="inline-fields">
        <legend>For whom (recorded in the audit event)</legend>
        <label>
          Email
          <input type="email" name="email" autocomplete="off" />
        </label>
        <label>
          Name
          <input type="text" name="name" autocomplete="off" />
        </label>
        <label>
          Organisation
          <input type="text" name="organisation" />
        </label>
      </fieldset>
      {error && <Alert>{error}</Alert>}
      <div class="form-actions">
        <button type="submit" disabled={busy}>
          {busy ? "Starting…" : "Create bundle"}
        </button>
      </div>
    </form>
  );
}
