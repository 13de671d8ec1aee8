// Shapes of the API answers the dashboard reads (mirrors of the service's OpenAPI schemas).
export type Interval = "day" | "week" | "month";

export interface Stats {
  from: string;
  to: string;
  interval: Interval;
  totals: { events: number; successful: number; failed: number; success_rate: number | null; unique_users: number; bytes: number };
  unique_users_estimated?: boolean;
  top_organisations: { organisation: string | null; events: number; unique_users: number }[];
  top_resources: { resource_type: string | null; resource_id: string | null; doi: string | null; title: string | null; events: number; unique_users: number }[];
  series: { period: string; successful: number; failed: number; bytes: number; unique_users: number }[];
  counted: { actions: string[]; access_methods: AccessMethod[]; note: string };
  access_split: Record<AccessMethod, { successful: number; unique_users: number }>;
  countries: { country: string; successful: number; unique_users: number }[] | null;
}

export type AccessMethod = "regular" | "machine" | "robot";

/** A COUNTER Dataset Report as GET /v1/reports/counter/dsr answers it (the fields the dashboard reads). */
export interface DatasetReport {
  "report-header": { exceptions: { code: number; message: string; data: string }[] };
  "report-datasets": {
    "dataset-title": string;
    "dataset-id": { type: string; value: string }[];
    performance: {
      period: { "begin-date": string; "end-date": string };
      instance: {
        "access-method": "regular" | "machine";
        "metric-type": "total-dataset-investigations" | "unique-dataset-investigations" | "total-dataset-requests" | "unique-dataset-requests";
        count: number;
      }[];
    }[];
  }[];
}

export type EventStatus = "success" | "failure" | "denied";

export interface AuditEvent {
  id: string;
  occurred_at: string;
  received_at: string;
  action: string;
  status: EventStatus;
  resource: { type: string | null; id: string | null; doi: string | null; title: string | null; file: string | null };
  actor: { id: string | null; email: string | null; name: string | null; organisation: string | null };
  client: { ip: string | null; user_agent: string | null; session_id: string | null; country: string | null };
  /** COUNTER access method from the user agent: regular, machine or robot. */
  access_method: AccessMethod | null;
  bytes: number | null;
  message: string | null;
  meta: Record<string, unknown> | null;
  duplicate_of: string | null;
  /** Who stored it: an API key id, bootstrap-admin, anonymous or legacy. */
  key_id: string;
  /** The id the sending portal chose, scoped to its key; null when the service chose `id`. */
  client_id: string | null;
  /** For a row standing for repeated refusals: how many. */
  denied_count: number | null;
}

export interface EventPage {
  data: AuditEvent[];
  next_cursor: string | null;
}

export type JobStatus = "pending" | "processing" | "completed" | "failed" | "cancelled";

export interface Job {
  id: string;
  type: string;
  status: JobStatus;
  progress: number;
  message: string | null;
  result: Record<string, unknown> | null;
  created_at: string;
  updated_at: string;
}

export interface CatalogRecord {
  id: string;
  doi: string | null;
  title: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface RetentionResult {
  cutoff: string;
  events: number;
  archived: string[];
  deleted: number;
  dry_run?: boolean;
}
