// Events page: the filters of GET /v1/events, keyset paging, a detail dialog and the CSV or Excel export of the current filters.
import { useEffect, useRef, useState } from "hono/jsx/dom";
import { downloadFile, errorText, getJson, queryString, type QueryValue } from "../api";
import { Alert, Badge, ScrollTable, useLoad } from "../components";
import { addDays, formatBytes, formatDateTime, formatNumber } from "../format";
import type { AuditEvent, EventPage } from "../types";

interface Filters {
  first: string;
  last: string;
  action: string;
  status: string;
  email: string;
  organisation: string;
  resource_id: string;
  doi: string;
  q: string;
  include_duplicates: boolean;
}

const noFilters: Filters = {
  first: "",
  last: "",
  action: "",
  status: "",
  email: "",
  organisation: "",
  resource_id: "",
  doi: "",
  q: "",
  include_duplicates: false,
};

/** The API's query parameters for the filters (the last day is inclusive here, `to` exclusive there). */
function filterParams(filters: Filters): Record<string, QueryValue> {
  return {
    from: filters.first,
    to: filters.last ? addDays(filters.last, 1) : undefined,
    action: filters.action,
    status: filters.status,
    email: filters.email.trim(),
    organisation: filters.organisation.trim(),
    resource_id: filters.resource_id.trim(),
    doi: filters.doi.trim(),
    q: filters.q.trim(),
    include_duplicates: filters.include_duplicates ? "true" : undefined,
  };
}

const textFilters = ["first", "last", "action", "status", "email", "organisation", "resource_id", "doi", "q"] as const;

/** The filters in the page's address (`#/events?action=download&first=2026-11-01`), so a reload or a shared link keeps them. */
function filtersFromHash(): Filters {
  const query = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const filters: Filters = { ...noFilters, include_duplicates: query.get("include_duplicates") === "true" };
  for (const name of textFilters) filters[name] = query.get(name) ?? "";
  return filters;
}

function writeFiltersToHash(filters: Filters) {
  const query = new URLSearchParams();
  for (const name of textFilters) if (filters[name].trim()) query.set(name, filters[name].trim());
  if (filters.include_duplicates) query.set("include_duplicates", "true");
  const text = query.toString();
  history.replaceState(null, "", `#/events${text ? `?${text}` : ""}`);
}

/** A reversed range would silently match nothing: say so instead. */
const rangeProblem = (filters: Filters) =>
  filters.first && filters.last && filters.first > filters.last ? "The first day (From) must not be after the last day (Until)." : undefined;

function filtersFromForm(form: HTMLFormElement): Filters {
  const data = new FormData(form);
  const text = (name: keyof Filters) => String(data.get(name) ?? "");
  return {
    first: text("first"),
    last: text("last"),
    action: text("action"),
    status: text("status"),
    email: text("email"),
    organisation: text("organisation"),
    resource_id: text("resource_id"),
    doi: text("doi"),
    q: text("q"),
    include_duplicates: data.get("include_duplicates") === "on",
  };
}

export function EventsPage() {
  const [filters, setFilters] = useState<Filters>(filtersFromHash);
  const [formProblem, setFormProblem] = useState<string>();
  const [pageSize, setPageSize] = useState(25);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [selected, setSelected] = useState<AuditEvent | null>(null);
  const [exportState, setExportState] = useState<{ busy: boolean; message?: string; error?: string }>({ busy: false });
  const cursor = cursors.at(-1);
  const actions = useLoad(() => getJson<{ action: string }[]>("/v1/actions"), []);
  const page = useLoad(
    () => getJson<EventPage>("/v1/events", { ...filterParams(filters), limit: pageSize, cursor }),
    [filters, pageSize, cursor],
  );

  const apply = (event: Event) => {
    event.preventDefault();
    const next = filtersFromForm(event.currentTarget as HTMLFormElement);
    const problem = rangeProblem(next);
    setExportState({ busy: false });
    setFormProblem(problem);
    if (problem) return;
    setFilters(next);
    writeFiltersToHash(next);
    setCursors([undefined]);
  };
  const reset = (event: Event) => {
    // Cleared by hand: a native reset would restore the values the page was loaded with (from the address).
    event.preventDefault();
    for (const element of Array.from((event.currentTarget as HTMLFormElement).elements)) {
      if (element instanceof HTMLSelectElement) element.selectedIndex = 0;
      else if (element instanceof HTMLInputElement && element.type === "checkbox") element.checked = false;
      else if (element instanceof HTMLInputElement) element.value = "";
    }
    setExportState({ busy: false });
    setFormProblem(undefined);
    setFilters({ ...noFilters });
    writeFiltersToHash(noFilters);
    setCursors([undefined]);
  };
  const exportAs = async (format: "csv" | "xlsx") => {
    setExportState({ busy: true, message: `Preparing the ${format === "csv" ? "CSV" : "Excel"} export…` });
    try {
      const file = await downloadFile(`/v1/events/export.${format}${queryString(filterParams(filters))}`, `download-audit.${format}`);
      setExportState({ busy: false, message: `Downloaded ${file.name} (${formatBytes(file.bytes)}).` });
    } catch (error) {
      setExportState({ busy: false, error: `The export failed: ${errorText(error)}` });
    }
  };

  return (
    <section aria-labelledby="events-title">
      <h1 id="events-title">Events</h1>
      <form class="filters panel" onSubmit={apply} onReset={reset} aria-label="Event filters">
        <label>
          From
          <input type="date" name="first" value={filters.first} />
        </label>
        <label>
          Until (inclusive)
          <input type="date" name="last" value={filters.last} />
        </label>
        <label>
          Action
          <select name="action">
            <option value="">Any</option>
            {(actions.data ?? []).map((item) => (
              <option key={item.action} value={item.action} selected={item.action === filters.action}>
                {item.action}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select name="status">
            <option value="">Any</option>
            <option value="success" selected={filters.status === "success"}>
              Success
            </option>
            <option value="failure" selected={filters.status === "failure"}>
              Failed
            </option>
            <option value="denied" selected={filters.status === "denied"}>
              Denied
            </option>
          </select>
        </label>
        <label>
          Email
          <input type="email" name="email" autocomplete="off" value={filters.email} />
        </label>
        <label>
          Organisation
          <input type="text" name="organisation" value={filters.organisation} />
        </label>
        <label>
          Record id
          <input type="text" name="resource_id" value={filters.resource_id} />
        </label>
        <label>
          DOI
          <input type="text" name="doi" placeholder="10.1234/abc" value={filters.doi} />
        </label>
        <label>
          Text search
          <input type="search" name="q" placeholder="title, organisation, message" value={filters.q} />
        </label>
        <label class="checkbox">
          <input type="checkbox" name="include_duplicates" checked={filters.include_duplicates} />
          Include duplicate repeats
        </label>
        <div class="form-actions">
          <button type="submit">Apply filters</button>
          <button type="reset" class="secondary">
            Clear
          </button>
          <button type="button" class="secondary" onClick={() => exportAs("csv")} disabled={exportState.busy}>
            Export CSV
          </button>
          <button type="button" class="secondary" onClick={() => exportAs("xlsx")} disabled={exportState.busy}>
            Export Excel
          </button>
        </div>
      </form>
      {formProblem && <Alert>{formProblem}</Alert>}
      {exportState.message && <Alert kind="info">{exportState.message}</Alert>}
      {exportState.error && <Alert>{exportState.error}</Alert>}
      {page.error && <Alert>Could not load events: {page.error}</Alert>}

      <div class="panel">
        <ScrollTable label="Events">
          <caption class="sr-only">Events, newest first</caption>
          <thead>
            <tr>
              <th scope="col" class="nowrap">Time</th>
              <th scope="col">Action</th>
              <th scope="col">Status</th>
              <th scope="col">Record</th>
              <th scope="col">User</th>
              <th scope="col">Organisation</th>
              <th scope="col" class="number">Bytes</th>
              <th scope="col">
                <span class="sr-only">Details</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(page.data?.data ?? []).map((item) => (
              <tr key={item.id} class={item.duplicate_of ? "duplicate" : ""}>
                <td class="nowrap">{formatDateTime(item.occurred_at)}</td>
                <td>{item.action}</td>
                <td>
                  <Badge status={item.status} />
                  {item.duplicate_of && <span class="tag">duplicate</span>}
                </td>
                <td>{item.resource.title ?? item.resource.id ?? "–"}</td>
                <td>{item.actor.email ?? item.actor.name ?? item.actor.id ?? "–"}</td>
                <td>{item.actor.organisation ?? "–"}</td>
                <td class="number">{formatBytes(item.bytes)}</td>
                <td>
                  <button type="button" class="link" onClick={() => setSelected(item)} aria-label={`Details of event ${item.id}`}>
                    Details
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </ScrollTable>
        {page.data && page.data.data.length === 0 && <p class="empty">No events match these filters.</p>}
        <nav class="pager" aria-label="Event pages">
          <button type="button" class="secondary" disabled={cursors.length <= 1 || page.loading} onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous page
          </button>
          <span aria-live="polite">
            Page {formatNumber(cursors.length)}
            {page.loading ? " (loading…)" : ""}
          </span>
          <button
            type="button"
            class="secondary"
            disabled={!page.data?.next_cursor || page.loading}
            onClick={() => page.data?.next_cursor && setCursors([...cursors, page.data.next_cursor])}
          >
            Next page
          </button>
          <label>
            Per page
            <select
              value={String(pageSize)}
              onChange={(event: Event) => {
                setPageSize(Number((event.target as HTMLSelectElement).value));
                setCursors([undefined]);
              }}
            >
              {[25, 50, 100].map((size) => (
                <option key={size} value={String(size)}>
                  {size}
                </option>
              ))}
            </select>
          </label>
        </nav>
      </div>
      {selected && <EventDetail event={selected} onClose={() => setSelected(null)} onOpen={setSelected} />}
    </section>
  );
}

function EventDetail({ event, onClose, onOpen }: { event: AuditEvent; onClose: () => void; onOpen: (event: AuditEvent) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<string>();
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
  }, []);
  const openOriginal = async (id: string) => {
    try {
      onOpen(await getJson<AuditEvent>(`/v1/events/${encodeURIComponent(id)}`));
      setError(undefined);
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const rows: [string, string | null][] = [
    ["Event id", event.id],
    ["Client's id", event.client_id],
    ["Stored by key", event.key_id],
    ["Refused attempts", event.denied_count === null ? null : formatNumber(event.denied_count)],
    ["Occurred", formatDateTime(event.occurred_at)],
    ["Received", formatDateTime(event.received_at)],
    ["Action", event.action],
    ["Record type", event.resource.type],
    ["Record id", event.resource.id],
    ["Title", event.resource.title],
    ["DOI", event.resource.doi],
    ["File", event.resource.file],
    ["User id", event.actor.id],
    ["Email", event.actor.email],
    ["Name", event.actor.name],
    ["Organisation", event.actor.organisation],
    ["IP (truncated)", event.client.ip],
    ["User agent", event.client.user_agent],
    ["Access (COUNTER)", event.access_method],
    ["Country", event.client.country],
    ["Bytes", event.bytes === null ? null : `${formatNumber(event.bytes)} (${formatBytes(event.bytes)})`],
    ["Message", event.message],
  ];
  return (
    <dialog ref={dialog} class="detail" aria-labelledby="detail-title" onClose={onClose}>
      <header>
        <h2 id="detail-title">Event details</h2>
        <button type="button" class="secondary" onClick={() => dialog.current?.close()} autofocus>
          Close
        </button>
      </header>
      <p>
        <Badge status={event.status} />
        {event.status === "denied" && <span class="note">Denied attempt: a guard (rate limit) refused it; no statistic counts it.</span>}
      </p>
      {event.duplicate_of && (
        <p class="note" data-testid="duplicate-of">
          Duplicate of <code>{event.duplicate_of}</code>: a repeat within the dedup window, not counted in statistics.{" "}
          <button type="button" class="link" onClick={() => openOriginal(event.duplicate_of!)}>
            Open the original
          </button>
        </p>
      )}
      {error && <Alert>{error}</Alert>}
      <dl>
        {rows.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value ?? <span class="muted">–</span>}</dd>
          </div>
        ))}
      </dl>
      {event.meta && (
        <>
          <h3>Meta</h3>
          <pre>{JSON.stringify(event.meta, null, 2)}</pre>
        </>
      )}
    </dialog>
  );
}
