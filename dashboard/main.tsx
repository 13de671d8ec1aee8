// The dashboard's entry: sign-in with an API key, then hash-routed pages (overview, events, jobs, alerts, admin).
import { render, useEffect, useRef, useState } from "hono/jsx/dom";
import { ApiFailure, errorText, onUnauthorized, request, session, type Access } from "./api";
import { Alert } from "./components";
import { AdminPage } from "./pages/admin";
import { AlertsPage } from "./pages/alerts";
import { EventsPage } from "./pages/events";
import { JobsPage } from "./pages/jobs";
import { OverviewPage } from "./pages/overview";
import "./styles.css";

type Page = "overview" | "events" | "jobs" | "alerts" | "admin";

interface DashboardSettings {
  catalog_record_url: string;
}

const pageTitles: Record<Page, string> = { overview: "Overview", events: "Events", jobs: "Jobs", alerts: "Alerts", admin: "Admin" };

/** The page named by the hash, `#/events?action=download` → events (a page keeps its own state in the query). */
function currentPage(): Page {
  const name = location.hash.replace(/^#\/?/, "").split("?")[0]!;
  return name in pageTitles ? (name as Page) : "overview";
}

/** Whether the key may call `path` (false on 403; other failures are real errors). */
const allowed = (key: string, path: string) =>
  request("GET", path, { key }).then(
    () => true,
    (error: unknown) => {
      if (error instanceof ApiFailure && error.status === 403) return false;
      throw error;
    },
  );

/** Checks the key against the API: read scope is required; admin unlocks the admin page, ingest the jobs page, catalog its record search. */
async function verifyKey(key: string): Promise<Access> {
  await request("GET", "/v1/events?limit=1", { key });
  const [admin, ingest, catalog] = await Promise.all([allowed(key, "/v1/keys"), allowed(key, "/v1/jobs?limit=1"), allowed(key, "/v1/records?limit=1")]);
  return { admin, ingest, catalog };
}

function signInMessage(error: unknown): string {
  if (error instanceof ApiFailure && error.status === 401) return "That API key was not accepted: it is unknown or has been revoked. Check it and try again.";
  if (error instanceof ApiFailure && error.status === 403) return "That API key is valid but lacks the read scope, which the dashboard needs.";
  return `Could not sign in: ${errorText(error)}`;
}

function SignIn({ onSignedIn, notice }: { onSignedIn: (key: string, access: Access) => void; notice?: string }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    const key = (input.current?.value ?? "").trim();
    if (!key) {
      setError("Paste an API key first.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(key, await verifyKey(key));
    } catch (failure) {
      setError(signInMessage(failure));
      input.current?.select();
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <form class="panel" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">download-audit</h1>
        <p>Sign in with an API key that has at least the read scope. It is kept in this browser tab only, until you sign out or close the tab.</p>
        {notice && <Alert kind="info">{notice}</Alert>}
        <label>
          API key
          <input ref={input} type="password" name="api_key" autocomplete="off" spellcheck={false} required aria-describedby={error ? "sign-in-error" : undefined} />
        </label>
        {error && (
          <p id="sign-in-error" class="alert alert-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

function App() {
  const [key, setKey] = useState(session.key());
  const [access, setAccess] = useState(session.access());
  const [page, setPage] = useState<Page>(currentPage());
  const [notice, setNotice] = useState<string>();
  const [settings, setSettings] = useState<DashboardSettings>({ catalog_record_url: "https://doi.org/{doi}" });
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    const follow = () => setPage(currentPage());
    addEventListener("hashchange", follow);
    onUnauthorized((message) => {
      session.clear();
      setKey(null);
      setNotice(`You were signed out: ${message}.`);
    });
    fetch("/dashboard/settings.json")
      .then((response) => (response.ok ? (response.json() as Promise<DashboardSettings>) : undefined))
      .then((loaded) => loaded && setSettings(loaded))
      .catch(() => undefined);
    return () => removeEventListener("hashchange", follow);
  }, []);
  // After sign-in and on every page change, focus goes to the page's main heading (not the body); not on a reload.
  const firstPage = useRef(Boolean(key));
  useEffect(() => {
    document.title = key ? `${pageTitles[page]} · download-audit` : "Sign in · download-audit";
    if (key && !firstPage.current) {
      const heading = main.current?.querySelector<HTMLElement>("h1");
      if (heading) {
        heading.tabIndex = -1;
        heading.focus();
      } else main.current?.focus();
    }
    firstPage.current = false;
  }, [page, key]);

  if (!key) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(newKey, granted) => {
          session.save(newKey, granted);
          setNotice(undefined);
          setAccess(granted);
          setKey(newKey);
        }}
      />
    );
  }

  // Pages the key cannot use are not offered: jobs need the ingest scope, admin the admin scope.
  const visible = (["overview", "events", "jobs", "alerts", "admin"] as const).filter((name) => (name === "jobs" ? access.ingest : name === "admin" ? access.admin : true));
  const shown = visible.includes(page) ? page : "overview";
  return (
    <>
      <a class="skip-link" href="#main" onClick={(event: Event) => (event.preventDefault(), main.current?.focus())}>
        Skip to content
      </a>
      <header class="top-bar">
        <span class="brand">download-audit</span>
        <nav aria-label="Dashboard pages">
          <ul>
            {visible.map((name) => (
              <li key={name}>
                <a href={`#/${name}`} aria-current={name === shown ? "page" : undefined}>
                  {pageTitles[name]}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          class="secondary sign-out"
          onClick={() => {
            session.clear();
            setKey(null);
            setNotice("You signed out.");
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" ref={main} tabindex={-1}>
        {shown === "overview" && <OverviewPage catalogRecordUrl={settings.catalog_record_url} />}
        {shown === "events" && <EventsPage />}
        {shown === "jobs" && <JobsPage canSearchRecords={access.catalog} />}
        {shown === "alerts" && <AlertsPage isAdmin={access.admin} />}
        {shown === "admin" && <AdminPage />}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
