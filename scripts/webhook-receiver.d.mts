// Types of scripts/webhook-receiver.mjs, for the browser tests that import it.
export const SECRET_FILE: string;
export interface ReceivedMessage {
  id: string;
  type: string;
  timestamp: string;
  data: any;
  attempts: number;
  received_at: string;
}
export interface RunningReceiver {
  url: string;
  port: number;
  messages: Map<string, ReceivedMessage>;
  state: { fail: boolean; requests: number; rejected: number };
  close(): Promise<void>;
}
export function startReceiver(options?: { port?: number; secret?: () => string | undefined; log?: boolean }): Promise<RunningReceiver>;
