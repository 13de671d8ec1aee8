#!/usr/bin/env node
// `npx download-audit <command>`: the service's API for terminals and scripts (commands below; exit codes in lib/client.mjs).
import { writeFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import { CliError, connection, EXIT, query, request, requestJson } from "./lib/client.mjs";
import { importFile } from "./lib/import.mjs";
import { attachmentName, humanBytes, printJson, printTable, progressBar, saveBody } from "./lib/output.mjs";

const [major] = process.versions.node.split(".").map(Number);
if (major < 20) {
  process.stderr.write(`download-audit needs Node.js 20 or later (this is ${process.versions.node})\n`);
  process.exit(EXIT.usage);
}

const program = new Command("download-audit")
  .description("Command-line client of a download-audit service")
  .option("--url <url>", "service base URL (default: $DOWNLOAD_AUDIT_URL)")
  .option("--key <key>", "API key (default: $DOWNLOAD_AUDIT_KEY)")
  .option("--json", "print JSON (for scripts) instead of tables")
  .showHelpAfterError()
  .exitOverride();

const integer = (name, min, max) => (value) => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
  return number;
};

/** Global options merged with the command's own. */
const settings = (command) => command.optsWithGlobals();
const conn = (command) => connection(settings(command));
const asJson = (command) => Boolean(settings(command).json);

const eventRows = (events) =>
  events.map((event) => [
    event.occurred_at.replace("T", " ").slice(0, 19),
    event.action,
    event.status,
    event.resource.id ? `${event.resource.type}/${event.resource.id}` : "",
    event.actor.email ?? event.actor.id ?? "",
    event.actor.organisation ?? "",
    event.bytes ?? "",
  ]);
const EVENT_HEAD = ["time (UTC)", "action", "status", "resource", "who", "organisation", "bytes"];

/** The filters of GET /v1/events as options, shared by `events` and `export`. */
function withEventFilters(command) {
  return command
    .option("--from <date>", "inclusive date or date-time")
    .option("--to <date>", "exclusive date or date-time")
    .option("--action <action>")
    .addOption(new Option("--status <status>").choices(["success", "failure", "denied"]))
    .option("--resource-type <type>")
    .option("--resource-id <id>")
    .option("--doi <doi>")
    .option("--actor-id <id>")
    .option("--email <email>")
    .option("--organisation <name>")
    .option("-q, --q <text>", "text search over message, title and organisation")
    .option("--include-duplicates", "include duplicate repeats");
}

const eventFilters = (options) => ({
  from: options.from,
  to: options.to,
  action: options.action,
  status: options.status,
  resource_type: options.resourceType,
  resource_id: options.resourceId,
  doi: options.doi,
  actor_id: options.actorId,
  email: options.email,
  organisation: options.organisation,
  q: options.q,
  include_duplicates: options.includeDuplicates ? "true" : undefined,
});

program
  .command("recent")
  .description("events of the last minutes, newest first")
  .option("--minutes <n>", "how far back", integer("--minutes", 1, 10_080), 60)
  .option("--action <action>", "only this action")
  .option("--limit <n>", "at most this many", integer("--limit", 1, 500), 100)
  .action(async (options, command) => {
    const body = await requestJson(conn(command), "GET", `/v1/events/recent${query({ minutes: options.minutes, action: options.action, limit: options.limit })}`);
    if (asJson(command)) return printJson(body);
    printTable(EVENT_HEAD, eventRows(body.data));
  });

withEventFilters(program.command("events").description("find events, newest first"))
  .option("--limit <n>", "page size", integer("--limit", 1, 1000), 50)
  .option("--cursor <cursor>", "continue from a previous page's next_cursor")
  .action(async (options, command) => {
    const body = await requestJson(conn(command), "GET", `/v1/events${query({ ...eventFilters(options), limit: options.limit, cursor: options.cursor })}`);
    if (asJson(command)) return printJson(body);
    printTable(EVENT_HEAD, eventRows(body.data));
    if (body.next_cursor) process.stdout.write(`more: --cursor ${body.next_cursor}\n`);
  });

program
  .command("stats")
  .description("counted downloads over a range: totals, series, top organisations and resources")
  .option("--from <date>")
  .option("--to <date>")
  .addOption(new Option("--interval <interval>").choices(["day", "week", "month"]).default("day"))
  .option("--action <actions>", "comma-separated actions (default: the download actions)")
  .option("--resource-type <type>")
  .option("--resource-id <id>")
  .option("--organisation <name>")
  .option("--top <n>", "length of the top lists", integer("--top", 1, 100))
  .action(async (options, command) => {
    const body = await requestJson(
      conn(command),
      "GET",
      `/v1/stats${query({ from: options.from, to: options.to, interval: options.interval, action: options.action, resource_type: options.resourceType, resource_id: options.resourceId, organisation: options.organisation, top: options.top })}`,
    );
    if (asJson(command)) return printJson(body);
    const { totals } = body;
    process.stdout.write(`${body.from} to ${body.to}${body.unique_users_estimated ? " (unique users estimated)" : ""}\n`);
    printTable(
      ["events", "successful", "failed", "success rate", "unique users", "bytes"],
      [[totals.events, totals.successful, totals.failed, totals.success_rate === null ? "–" : `${(totals.success_rate * 100).toFixed(1)} %`, totals.unique_users, humanBytes(totals.bytes)]],
    );
    printTable([body.interval, "successful", "failed", "bytes", "users"], body.series.map((row) => [row.period, row.successful, row.failed, humanBytes(row.bytes), row.unique_users]));
    printTable(["organisation", "events", "users"], body.top_organisations.map((row) => [row.organisation, row.events, row.unique_users]));
    printTable(["resource", "title", "events", "users"], body.top_resources.map((row) => [`${row.resource_type}/${row.resource_id}`, row.title ?? "", row.events, row.unique_users]));
  });

program
  .command("report")
  .description("a daily, weekly or monthly report as Markdown, PDF or JSON")
  .addArgument(new Command().createArgument("<period>", "daily, weekly or monthly").choices(["daily", "weekly", "monthly"]))
  .option("--date <YYYY-MM-DD>", "the day of a daily report (default today, UTC)")
  .option("--week <YYYY-Www>", "the ISO week of a weekly report (default this week)")
  .option("--month <YYYY-MM>", "the month of a monthly report (default this month)")
  .addOption(new Option("--format <format>").choices(["md", "pdf", "json"]).default("md"))
  .option("-o, --output <file>", "write to a file (a PDF goes to the file the service names when omitted)")
  .action(async (period, options, command) => {
    const format = asJson(command) ? "json" : options.format;
    const response = await request(
      conn(command),
      "GET",
      `/v1/reports/${period}${query({ date: options.date, week: options.week, month: options.month, format: format === "md" ? "markdown" : format })}`,
    );
    const output = options.output ?? (format === "pdf" ? attachmentName(response, `report-${period}.pdf`) : undefined);
    if (output) {
      const { bytes } = await saveBody(response, output);
      process.stderr.write(`wrote ${output} (${humanBytes(bytes)})\n`);
    } else process.stdout.write(await response.text());
  });

withEventFilters(program.command("export").description("export events to a file (CSV, NDJSON or Excel), with a progress bar"))
  .addOption(new Option("--format <format>").choices(["csv", "ndjson", "xlsx"]).default("csv"))
  .requiredOption("-o, --output <file>", "the file to write")
  .action(async (options, command) => {
    const response = await request(conn(command), "GET", `/v1/events/export.${options.format}${query(eventFilters(options))}`);
    const bar = progressBar(options.format === "xlsx" ? "Exporting {received} ({speed}/s)" : "Exporting {rows} rows, {received} ({speed}/s)");
    const started = Date.now();
    bar.start(1, 0, { rows: 0, received: "0 B", speed: "0 B" });
    const { bytes, lines } = await saveBody(response, options.output, ({ bytes, lines }) =>
      bar.update(0, { rows: Math.max(0, lines - (options.format === "csv" ? 1 : 0)).toLocaleString("en-US"), received: humanBytes(bytes), speed: humanBytes(Math.round(bytes / Math.max((Date.now() - started) / 1000, 0.001))) }),
    );
    bar.update(1);
    bar.stop();
    const rows = options.format === "xlsx" ? null : Math.max(0, lines - (options.format === "csv" ? 1 : 0));
    if (asJson(command)) return printJson({ file: options.output, format: options.format, bytes, rows });
    process.stderr.write(`wrote ${options.output} (${humanBytes(bytes)}${rows === null ? "" : `, ${rows.toLocaleString("en-US")} rows`})\n`);
  });

program
  .command("import")
  .description("import historical events from NDJSON or CSV in chunks; re-running after a crash continues and stores nothing twice")
  .argument("<file>", "an .ndjson or .csv file")
  .option("--dry-run", "validate only; store nothing")
  .addOption(new Option("--format <format>", "default: from the file extension").choices(["ndjson", "csv"]))
  .option("--chunk <lines>", "lines per request", integer("--chunk", 1, 50_000), 5_000)
  .option("--restart", "ignore a saved position and send the whole file again (stores nothing twice either way)")
  .action(async (file, options, command) => {
    const bar = progressBar("Importing |{bar}| {value}/{total} lines");
    let started = false;
    const result = await importFile(conn(command), file, { dryRun: options.dryRun, format: options.format, chunkLines: options.chunk, restart: options.restart }, (done, total) => {
      if (!started) bar.start(total, done);
      else bar.update(done);
      started = true;
    });
    bar.stop();
    if (asJson(command)) printJson(result);
    else {
      if (result.resumed_after > 0) process.stdout.write(`resumed after ${result.resumed_after.toLocaleString("en-US")} lines sent by an earlier run\n`);
      printTable(["lines", "valid", "invalid", "inserted", "already stored"], [[result.lines, result.valid, result.invalid.length, result.inserted, result.replayed]]);
      if (result.dry_run) process.stdout.write("dry run: nothing was stored\n");
      for (const problem of result.invalid.slice(0, 20))
        process.stdout.write(`${problem.where}: ${problem.errors.map((error) => `${error.path} ${error.message}`).join("; ")}\n`);
      if (result.invalid.length > 20) process.stdout.write(`…and ${result.invalid.length - 20} more invalid lines (use --json for all)\n`);
    }
    if (result.invalid.length > 0) process.exitCode = EXIT.partial;
  });

program
  .command("retention")
  .description("archive raw events older than N days to R2 and delete them (or only report, with --dry-run)")
  .option("--older-than-days <n>", "default: the service's RETENTION_DAYS", integer("--older-than-days", 1, 36_500))
  .option("--dry-run", "report what would be archived and deleted")
  .action(async (options, command) => {
    const body = await requestJson(conn(command), "POST", "/v1/maintenance/retention", { body: { older_than_days: options.olderThanDays, dry_run: Boolean(options.dryRun) } });
    if (asJson(command)) return printJson(body);
    printTable(
      Object.keys(body).filter((name) => typeof body[name] !== "object"),
      [Object.values(body).filter((value) => typeof value !== "object")],
    );
  });

const keyRows = (keys) => keys.map((key) => [key.id, key.name, key.prefix, key.scopes.join(","), key.created_at, key.revoked_at ?? "", key.last_used_at ?? ""]);
const KEY_HEAD = ["id", "name", "prefix", "scopes", "created", "revoked", "last used"];
const keys = program.command("keys").description("API keys (admin scope)");
keys.command("list").action(async (options, command) => {
  const body = await requestJson(conn(command), "GET", "/v1/keys");
  if (asJson(command)) return printJson(body);
  printTable(KEY_HEAD, keyRows(body.data));
});
keys
  .command("create")
  .argument("<name>")
  .requiredOption("--scopes <scopes>", "comma-separated: read, ingest, catalog, admin")
  .action(async (name, options, command) => {
    const body = await requestJson(conn(command), "POST", "/v1/keys", { body: { name, scopes: options.scopes.split(",").map((scope) => scope.trim()).filter(Boolean) } });
    if (asJson(command)) return printJson(body);
    printTable(KEY_HEAD, keyRows([body]));
    process.stdout.write(`secret (shown once): ${body.key}\n`);
  });
keys
  .command("revoke")
  .argument("<id>")
  .action(async (id, options, command) => {
    const body = await requestJson(conn(command), "DELETE", `/v1/keys/${encodeURIComponent(id)}`);
    if (asJson(command)) return printJson(body);
    printTable(KEY_HEAD, keyRows([body]));
  });

program
  .command("reproduce")
  .description("a person's downloads as a fetch-and-verify Bash script, a JSON manifest, BibTeX or RIS")
  .option("--actor-id <id>")
  .option("--email <email>")
  .option("--from <date>")
  .option("--to <date>")
  .addOption(new Option("--format <format>").choices(["sh", "json", "bibtex", "ris"]).default("sh"))
  .option("--link-hours <n>", "lifetime of signed links", integer("--link-hours", 1, 168))
  .option("-o, --output <file>", "write to a file instead of stdout")
  .action(async (options, command) => {
    if (Boolean(options.actorId) === Boolean(options.email)) throw new CliError("Give exactly one of --actor-id and --email", EXIT.usage);
    const format = asJson(command) ? "json" : options.format;
    const response = await request(
      conn(command),
      "GET",
      `/v1/reproduce${query({ actor_id: options.actorId, email: options.email, from: options.from, to: options.to, format, link_hours: options.linkHours })}`,
    );
    const text = await response.text();
    if (options.output) {
      await writeFile(options.output, text, { mode: format === "sh" ? 0o755 : 0o644 });
      process.stderr.write(`wrote ${options.output}\n`);
    } else process.stdout.write(text);
  });

program
  .command("verify")
  .description("recompute the sealed windows of a range on the service and check roots, counts, signatures and the chain (admin key)")
  .requiredOption("--from <time>", "start of the receipt-time range (RFC 3339, e.g. 2026-11-01T00:00:00Z)")
  .requiredOption("--to <time>", "end of the range, exclusive (RFC 3339)")
  .option("--poll-seconds <n>", "how often to ask while a long verification runs as a job", integer("--poll-seconds", 1, 600), 5)
  .action(async (options, command) => {
    const connection_ = conn(command);
    let verification = await requestJson(connection_, "POST", "/v1/integrity/verify", { body: { from: options.from, to: options.to } });
    while (verification.status !== "done") {
      process.stderr.write(`verification ${verification.id}: ${verification.windows} window(s), ${verification.rows} row(s) so far\n`);
      await new Promise((resolve) => setTimeout(resolve, options.pollSeconds * 1000));
      verification = await requestJson(connection_, "GET", `/v1/integrity/verifications/${encodeURIComponent(verification.id)}`);
    }
    if (asJson(command)) printJson(verification);
    else {
      process.stdout.write(`${verification.ok ? "ok" : "FAILED"}: ${verification.windows} window(s), ${verification.rows} row(s) from ${verification.from} to ${verification.to}\n`);
      printTable(["problem", "window", "detail"], verification.problems.map((problem) => [problem.kind, `${problem.from} – ${problem.to}`, problem.detail]));
    }
    // Offline checks of exported files, without the service: npm run verify -- <dir>.
    if (!verification.ok) process.exitCode = EXIT.verificationFailed;
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CliError) {
    process.stderr.write(`error: ${error.message}\n`);
    if (error.details && !Array.isArray(error.details)) process.stderr.write(`${JSON.stringify(error.details)}\n`);
    for (const detail of Array.isArray(error.details) ? error.details : []) process.stderr.write(`  ${detail.path}: ${detail.message}\n`);
    process.exitCode = error.exitCode;
  } else if (error?.code?.startsWith?.("commander.")) {
    // Commander has printed the message (or the help/version, which exit 0).
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    process.stderr.write(`error: ${error?.message ?? error}\n`);
    process.exitCode = EXIT.service;
  }
}
