// Types of scripts/simulate-scraper.mjs, for the browser tests that import it.
interface Target {
  base: string;
  key: string;
}
export function registerReceiver(options: Target & { receiverUrl: string }): Promise<string | undefined>;
export function scrape(options: Target & { records?: number; ip?: string; recordPrefix?: string }): Promise<{ sent: number; denied: number }>;
export function evaluate(options: Target): Promise<{ skipped: boolean; fired: number; opened: number }>;
