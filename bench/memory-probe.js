/* global process, setInterval */
// Preloaded into the server by bench:soak (node -r): every BENCH_PROBE_MS it prints
// process.memoryUsage() in MB as one JSON line on stderr, so the soak can tell the V8
// heap from memory outside it (WebAssembly memories of PGlite and tfjs are ArrayBuffers).
const ms = Number(process.env.BENCH_PROBE_MS) || 5000;
const mb = (b) => Math.round((b / 2 ** 20) * 10) / 10;
setInterval(() => {
  const m = process.memoryUsage();
  process.stderr.write(
    `${JSON.stringify({ memoryProbe: { rss: mb(m.rss), heapUsed: mb(m.heapUsed), heapTotal: mb(m.heapTotal), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers) } })}\n`,
  );
}, ms).unref();
