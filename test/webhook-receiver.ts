// A webhook receiver inside the Workers test runtime: intercepts the service's outbound fetch to one host, verifies each
// delivery with the Standard Webhooks reference implementation, and stores messages idempotently by webhook-id.
import { Webhook } from "standardwebhooks";
import { vi } from "vitest";

export interface Received {
  id: string;
  type: string;
  data: any;
  attempts: number;
}

export class TestReceiver {
  /** Verified messages by webhook-id: a retry of a message already stored is counted, not stored twice. */
  readonly messages = new Map<string, Received>();
  /** Every request that reached the receiver, verified or not. */
  readonly requests: { id: string | null; verified: boolean; status: number; redirect: string }[] = [];
  /** When set, the receiver answers 302 to this location instead of accepting. */
  redirectTo: string | null = null;
  /** When true, the receiver never answers (until the sender gives up and aborts). */
  hang = false;
  /** The status the receiver answers with while it is "down"; null when it is up. */
  down: number | null = null;
  secret = "";
  private readonly spy;

  constructor(readonly host: string) {
    const realFetch = globalThis.fetch;
    this.spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      if (new URL(request.url).host !== host) return realFetch(input, init);
      return this.handle(request);
    });
  }

  private async handle(request: Request): Promise<Response> {
    const id = request.headers.get("webhook-id");
    const { redirect } = request;
    if (this.hang) {
      this.requests.push({ id, verified: false, status: 0, redirect });
      return new Promise<Response>((_, reject) => request.signal.addEventListener("abort", () => reject(request.signal.reason)));
    }
    if (this.redirectTo !== null) {
      this.requests.push({ id, verified: false, status: 302, redirect });
      return new Response(null, { status: 302, headers: { location: this.redirectTo } });
    }
    if (this.down !== null) {
      this.requests.push({ id, verified: false, status: this.down, redirect });
      return new Response("receiver is down", { status: this.down });
    }
    const body = await request.text();
    let payload: any;
    try {
      payload = new Webhook(this.secret).verify(body, Object.fromEntries(request.headers));
    } catch {
      this.requests.push({ id, verified: false, status: 401, redirect });
      return new Response("bad signature", { status: 401 });
    }
    this.requests.push({ id, verified: true, status: 204, redirect });
    const existing = this.messages.get(id!);
    if (existing) existing.attempts++;
    else this.messages.set(id!, { id: id!, type: payload.type, data: payload.data, attempts: 1 });
    return new Response(null, { status: 204 });
  }

  ofType(type: string): Received[] {
    return [...this.messages.values()].filter((message) => message.type === type);
  }

  restore(): void {
    this.spy.mockRestore();
  }
}
