import { seedDemoData } from "./seed";
import { startService } from "./service";
const service = await startService("/tmp/dash/wrangler.log", { BUNDLE_SLICE_BYTES: String(1024 * 1024) });
const seeded = await seedDemoData(service.baseUrl, service.adminKey);
console.log(JSON.stringify({ ...service, seeded }));
await new Promise(() => {});
