// Samples a CPU profile of one worker of a running bench (started with BENCH_INSPECT=<port>) over the DevTools protocol,
// writes it as a .cpuprofile (Chrome DevTools, speedscope) and prints self and inclusive time per function.
// Usage: node bench/lib/cpu-profile.mjs <port> <seconds> <out.cpuprofile> [worker, default core:user:app; d1:db is local D1]
import { writeFileSync } from "node:fs";

const [port, seconds, out, worker = "core:user:app"] = process.argv.slice(2);
if (!port || !seconds || !out) throw new Error("usage: node bench/lib/cpu-profile.mjs <port> <seconds> <out.cpuprofile> [worker]");
const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
const target = targets.find((candidate) => candidate.title === `workerd: worker ${worker}`);
if (!target) throw new Error(`no worker ${worker}; workers: ${targets.map((candidate) => candidate.title).join(", ")}`);
const socket = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
  socket.addEventListener("open", resolve);
  socket.addEventListener("error", reject);
});
let lastId = 0;
const waiting = new Map();
socket.addEventListener("message", (event) => {
  const message = JSON.parse(event.data);
  waiting.get(message.id)?.(message);
  waiting.delete(message.id);
});
const call = (method, params = {}) =>
  new Promise((resolve) => {
    const id = ++lastId;
    waiting.set(id, resolve);
    socket.send(JSON.stringify({ id, method, params }));
  });
await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 200 });
await call("Profiler.start");
await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
const { result } = await call("Profiler.stop");
socket.close();
const profile = result.profile;
writeFileSync(out, JSON.stringify(profile));

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map(profile.nodes.flatMap((node) => (node.children ?? []).map((child) => [child, node.id])));
const label = (node) => `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.split("/").pop()}:${node.callFrame.lineNumber}`;
const self = new Map();
const inclusive = new Map();
let total = 0;
profile.samples.forEach((sample, index) => {
  const micros = profile.timeDeltas[index] ?? 0;
  total += micros;
  self.set(label(nodes.get(sample)), (self.get(label(nodes.get(sample))) ?? 0) + micros);
  const seen = new Set();
  for (let id = sample; id !== undefined; id = parents.get(id)) {
    const name = label(nodes.get(id));
    if (!seen.has(name)) inclusive.set(name, (inclusive.get(name) ?? 0) + micros);
    seen.add(name);
  }
});
const print = (title, times) => {
  console.log(`${title} (of ${(total / 1000).toFixed(0)} ms sampled)`);
  for (const [name, micros] of [...times].sort((a, b) => b[1] - a[1]).slice(0, 40))
    console.log(`${(micros / 1000).toFixed(0).padStart(7)} ms ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${name}`);
};
print("self time", self);
print("inclusive time", inclusive);
