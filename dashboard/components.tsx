// Small pieces shared by the pages: loading hook, status badges, alerts and scrollable tables.
import type { Child } from "hono/jsx";
import { useCallback, useEffect, useState } from "hono/jsx/dom";
import { errorText } from "./api";

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` whenever `deps` change; a stale answer never overwrites a newer one. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => current && setState({ data, loading: false }),
      (error: unknown) => current && setState({ error: errorText(error), loading: false }),
    );
    return () => {
      current = false;
    };
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

const badgeLabels: Record<string, string> = {
  success: "Success",
  failure: "Failed",
  denied: "Denied",
  pending: "Pending",
  processing: "Processing",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};

export function Badge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`}>{badgeLabels[status] ?? status}</span>;
}

export function Alert({ children, kind = "error" }: { children: Child; kind?: "error" | "info" | "success" }) {
  return (
    <p class={`alert alert-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </p>
  );
}

/** A table that scrolls sideways on narrow screens, reachable by keyboard. */
export function ScrollTable({ label, children }: { label: string; children: Child }) {
  return (
    <div class="table-scroll" role="region" aria-label={label} tabindex={0}>
      <table>{children}</table>
    </div>
  );
}
