// Read a LINDI / kerchunk reference file with zarrita (JavaScript), print what it sees as JSON.
//
// usage: node zarrita_driver.mjs NODE_FOLDER JOB_JSON
//   NODE_FOLDER  folder whose node_modules holds zarrita and @zarrita/storage (zarrita_env.py)
//   JOB_JSON     {"source": url-or-path, "local": bool,
//                 "nodes": [{"path": "a/b", "slice": [[start, stop], ...] or null}, ...]}
// A local source is read from disk (ReferenceStore.fromSpec) and its byte-range references to
// local files (absolute paths, which the store cannot fetch itself) are served from disk; a URL
// is read with ReferenceStore.fromUrl and fetch.
// Output: {"nodes": {path: {"kind", "attrs", ["shape", "dtype", "chunks", "data", "dataShape"]}
//          or {"error": "Name: message"}}}. BigInt values are printed as numbers.
import { open as openFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

async function load(folder, name) {
  const dir = join(folder, "node_modules", name);
  const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
  const entry = manifest.exports["."].import;
  return import(pathToFileURL(join(dir, entry)).href);
}

function fileUrls(spec) {
  // The ReferenceStore makes a Request of every reference's url, which a bare path is not:
  // spell absolute local paths (in references and templates) as file:// URLs.
  const local = (url) => (typeof url === "string" && url.startsWith("/") ? `file://${url}` : url);
  for (const [name, url] of Object.entries(spec.templates ?? {})) spec.templates[name] = local(url);
  for (const [key, ref] of Object.entries(spec.refs)) {
    if (Array.isArray(ref)) spec.refs[key] = [local(ref[0]), ...ref.slice(1)];
  }
  return spec;
}

async function localFetch(request) {
  if (!request.url.startsWith("file://")) return fetch(request);
  // byte-range references to local files: "bytes=START-STOP" of the file named by the url
  const [start, stop] = request.headers.get("Range").slice(6).split("-").map(Number);
  const handle = await openFile(request.url.replace(/^file:\/\//, ""), "r");
  try {
    const buffer = Buffer.alloc(stop - start + 1);
    await handle.read(buffer, 0, buffer.length, start);
    return new Response(buffer, { status: 206 });
  } finally {
    await handle.close();
  }
}

function plain(value) {
  if (typeof value === "bigint") return Number(value);
  if (ArrayBuffer.isView(value)) return Array.from(value, plain);
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

async function main() {
  const [folder, jobPath] = process.argv.slice(2);
  const zarr = await load(folder, "zarrita");
  const { ReferenceStore } = await load(folder, "@zarrita/storage");
  const job = JSON.parse(await readFile(jobPath, "utf8"));
  const store = job.local
    ? ReferenceStore.fromSpec(fileUrls(JSON.parse(await readFile(job.source, "utf8"))), { fetch: localFetch })
    : await ReferenceStore.fromUrl(job.source);
  const root = zarr.root(store);
  const out = {};
  for (const { path, slice } of job.nodes) {
    try {
      const node = await zarr.open.v2(path ? root.resolve(path) : root);
      const entry = { kind: node instanceof zarr.Array ? "array" : "group", attrs: node.attrs };
      if (node instanceof zarr.Array) {
        const selection = slice ? slice.map(([a, b]) => zarr.slice(a, b)) : null;
        const chunk = await zarr.get(node, selection);
        Object.assign(entry, {
          shape: node.shape, dtype: node.dtype, chunks: node.chunks,
          data: plain(chunk.data), dataShape: chunk.shape,
        });
      }
      out[path] = entry;
    } catch (err) {
      out[path] = { error: `${err.name}: ${err.message}` };
    }
  }
  process.stdout.write(JSON.stringify({ nodes: out }));
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
