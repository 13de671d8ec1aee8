// Scripted HTTP clients that the COUNTER Code of Practice for Research Data reports as machine access (not robots).
export interface MachineAgent {
  name: string;
  /** Case-insensitive regular expression source matched anywhere in the user agent. */
  pattern: string;
  /** A user agent the client really sends; the test checks each entry against it. */
  example: string;
}

export const MACHINE_AGENTS: readonly MachineAgent[] = [
  { name: "curl", pattern: "(^|[^a-z])curl\\/", example: "curl/8.5.0" },
  { name: "Wget", pattern: "\\bwget2?\\/", example: "Wget/1.21.4" },
  { name: "python-requests", pattern: "python-requests\\/", example: "python-requests/2.31.0" },
  { name: "Python-urllib", pattern: "python-urllib\\d?\\/", example: "Python-urllib/3.11" },
  { name: "urllib3", pattern: "\\burllib3\\/", example: "urllib3/2.2.1" },
  { name: "httpx", pattern: "python-httpx\\/", example: "python-httpx/0.27.0" },
  { name: "aiohttp", pattern: "aiohttp\\/", example: "Python/3.11 aiohttp/3.9.1" },
  { name: "python", pattern: "^python[ /-]", example: "Python/3.12" },
  { name: "PycURL", pattern: "pycurl\\/", example: "PycURL/7.45.2 libcurl/8.1.2 OpenSSL/3.0.9 zlib/1.2.13" },
  { name: "Java", pattern: "^java\\/", example: "Java/17.0.2" },
  { name: "Apache-HttpClient", pattern: "apache-httpclient\\/", example: "Apache-HttpClient/4.5.14 (Java/17.0.2)" },
  { name: "libwww-perl", pattern: "libwww-perl", example: "libwww-perl/6.72" },
  { name: "lwp", pattern: "^lwp", example: "lwp-request/6.72 libwww-perl/6.72" },
  { name: "aria2", pattern: "^aria2\\/", example: "aria2/1.37.0" },
  { name: "Go-http-client", pattern: "go-http-client\\/", example: "Go-http-client/2.0" },
  { name: "okhttp", pattern: "okhttp\\/", example: "okhttp/4.12.0" },
  { name: "node-fetch", pattern: "node-fetch", example: "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)" },
  { name: "undici (Node.js fetch)", pattern: "^(node|undici)$", example: "node" },
  { name: "axios", pattern: "^axios\\/", example: "axios/1.6.7" },
  { name: "R libcurl", pattern: "libcurl\\/[\\d.]+ r-curl\\/", example: "libcurl/8.4.0 r-curl/5.2.0 httr/1.4.7" },
  { name: "R download.file", pattern: "^R \\(\\d", example: "R (4.4.1 x86_64-pc-linux-gnu x86_64 linux-gnu)" },
  { name: "httr", pattern: "\\bhttr\\/", example: "httr/1.4.7" },
  { name: "libcurl", pattern: "^libcurl", example: "libcurl-agent/1.0" },
  { name: "PHP", pattern: "^php\\/", example: "PHP/8.2.12" },
  { name: "Guzzle", pattern: "guzzlehttp\\/", example: "GuzzleHttp/7" },
  { name: "ruby", pattern: "^ruby", example: "Ruby" },
  { name: "Faraday", pattern: "^faraday v", example: "Faraday v2.7.4" },
  { name: "HTTPie", pattern: "^httpie\\/", example: "HTTPie/3.2.2" },
  { name: "PowerShell", pattern: "windowspowershell\\/", example: "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3803" },
  { name: "HTTP.jl", pattern: "^http\\.jl", example: "HTTP.jl/1.10.1" },
  { name: "Dart", pattern: "\\(dart:io\\)", example: "Dart/3.2 (dart:io)" },
  { name: "Deno", pattern: "^deno\\/", example: "Deno/1.40.0" },
  { name: "Bun", pattern: "^bun\\/", example: "Bun/1.0.25" },
  { name: "rclone", pattern: "^rclone\\/", example: "rclone/v1.65.0" },
];
