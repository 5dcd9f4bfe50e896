// A tiny static file server on 127.0.0.1 for the browser tests: serves directories under URL
// prefixes with the MIME types browsers insist on (application/wasm for instantiateStreaming,
// text/javascript for module scripts and workers), and records every request it answers.
import { createServer } from "node:http";
import { createReadStream, promises as fs } from "node:fs";
import path from "node:path";

export const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".wasm": "application/wasm",
  ".safetensors": "application/octet-stream",
  ".wav": "audio/wav",
  ".flac": "audio/flac",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Serves `mounts` ({"/": dir, "/fixtures/": dir2}) on 127.0.0.1 (a free port by default).
 * Resolves to { origin, requests, close() }.
 */
export async function serve(mounts, port = 0) {
  const entries = Object.entries(mounts)
    .map(([prefix, dir]) => [prefix.endsWith("/") ? prefix : `${prefix}/`, path.resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);
  const requests = [];
  const server = createServer(async (req, res) => {
    requests.push({ method: req.method, url: req.url });
    try {
      const url = new URL(req.url, "http://127.0.0.1");
      let pathname = decodeURIComponent(url.pathname);
      const mount = entries.find(([prefix]) => pathname.startsWith(prefix) || `${pathname}/` === prefix);
      if (!mount) throw Object.assign(new Error("not found"), { code: "ENOENT" });
      const [prefix, dir] = mount;
      let file = path.join(dir, pathname.slice(prefix.length));
      if (!file.startsWith(dir)) throw Object.assign(new Error("outside"), { code: "ENOENT" });
      let stat = await fs.stat(file);
      if (stat.isDirectory()) {
        if (!pathname.endsWith("/")) {
          res.writeHead(301, { location: `${pathname}/${url.search}` });
          res.end();
          return;
        }
        file = path.join(file, "index.html");
        stat = await fs.stat(file);
      }
      res.writeHead(200, {
        "content-type": MIME[path.extname(file).toLowerCase()] ?? "application/octet-stream",
        "content-length": stat.size,
        "cache-control": "no-cache",
      });
      if (req.method === "HEAD") res.end();
      else createReadStream(file).pipe(res);
    } catch (e) {
      res.writeHead(e.code === "ENOENT" || e.code === "ENOTDIR" ? 404 : 500, { "content-type": "text/plain" });
      res.end(String(e.message));
    }
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const address = server.address();
  return {
    origin: `http://127.0.0.1:${address.port}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

// `node tests/lib/server.mjs DIR [PORT]`: serve a directory by hand.
if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2] ?? ".";
  const s = await serve({ "/": dir }, Number(process.argv[3] ?? 0));
  console.log(`serving ${path.resolve(dir)} at ${s.origin}/`);
}
