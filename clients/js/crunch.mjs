// crunch.mjs: a browser (and Node) client for the crunch compute service,
// an ES module without dependencies. Typed arrays go out in binary
// WebSocket frames and come back as typed arrays; many calls may be in
// flight at once on one connection; a failure rejects with a CrunchError
// carrying the protocol's code. The protocol is docs/PROTOCOL.md.
//
//   import { connect, tensor } from "/crunch.mjs";
//   const c = await connect();                       // ws(s)://<this host>/v1/ws
//   const a = tensor(new Float64Array([1, 2, 3, 4]), [2, 2]);
//   const { c: prod } = await c.call("gemm", { a, b: a });
//   prod.data;                                       // Float64Array [7, 10, 15, 22]
//   await c.modsum(7, 1e6, { exec: "pool" });        // a number
//   await c.call("gemm", { a, b: a }, { threads: 2 }); // up to 2 threads, same result
//   const rttMs = await c.ping();

const MAGIC = [0x43, 0x52, 0x4e, 0x31]; // "CRN1"
const ALIGN = 64; // buffer offsets: the protocol needs multiples of 8

// Protocol dtypes and the typed arrays that hold them (complex dtypes as
// interleaved re, im).
const ARRAYS = {
  u8: Uint8Array, u16: Uint16Array, u32: Uint32Array, i32: Int32Array,
  i64: BigInt64Array, f32: Float32Array, f64: Float64Array,
  c64: Float32Array, c128: Float64Array,
};
const COMPLEX = { c64: 2, c128: 2 };

/** A failure reply: code is the protocol's error code, retryAfterMs is set
 *  with "overloaded". */
export class CrunchError extends Error {
  constructor(code, message, retryAfterMs) {
    super(`${code}: ${message}`);
    this.name = "CrunchError";
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

/** tensor(data, shape, dtype) makes an argument from a typed array; dtype
 *  defaults from the array's type (Float64Array: f64, and so on). */
export function tensor(data, shape = [data.length], dtype = undefined) {
  dtype ??= Object.keys(ARRAYS).find((k) => !COMPLEX[k] && data instanceof ARRAYS[k]);
  if (!dtype) throw new TypeError("crunch: no protocol dtype for this array");
  return { dtype, shape, data };
}

/** connect opens a connection: url defaults to this page's host. With
 *  opts.token, for a server started with --auth-token-file: in Node it is
 *  sent as "Authorization: Bearer TOKEN"; in a browser, which cannot set
 *  headers on a WebSocket, it is first posted to the server's /login
 *  (same origin), which answers with an HttpOnly cookie that the
 *  WebSocket's handshake then carries. A browser that has the cookie
 *  already (the status page's login) needs no token. */
export async function connect(url, opts = {}) {
  const loc = globalThis.location;
  if (!url) url = `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/v1/ws`;
  const inNode = !!globalThis.process?.versions?.node && !globalThis.document;
  let ws;
  if (opts.token && inNode) {
    // Node's WebSocket (undici) takes headers in its second argument.
    ws = new WebSocket(url, { headers: { Authorization: `Bearer ${opts.token}` } });
  } else {
    if (opts.token) await login(url, opts.token);
    ws = new WebSocket(url);
  }
  ws.binaryType = "arraybuffer";
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(new Client(ws));
    ws.onerror = () => reject(new Error(`crunch: cannot connect to ${url}` +
      " (a server with a token refuses a connection without it, with HTTP 401: connect(url, { token }))"));
  });
}

/** login posts token to the server of the WebSocket URL url, from a
 *  browser: the answer sets the cookie. The token goes in the body, so no
 *  URL, history or log keeps it. */
async function login(url, token) {
  const u = new URL(url);
  u.protocol = u.protocol === "wss:" ? "https:" : "http:";
  u.pathname = "/login";
  u.search = "";
  const res = await fetch(u, {
    method: "POST", body: new URLSearchParams({ token }), credentials: "same-origin", redirect: "manual",
  });
  // 303 to the status page (opaque with redirect "manual"): the cookie is set.
  if (res.status === 401) throw new Error("crunch: the server refused the token (HTTP 401)");
}

/** Client is one connection. Options of every call: exec, impl,
 *  timeoutMs, threads (the most threads the kernel may use, its own
 *  included: an integer >= 1, capped by info()'s limits.max_threads;
 *  absent means that cap; it changes the speed, never the result; sent
 *  as given, so the server answers 0 with invalid_argument), progress (a
 *  function given the fraction done). */
export class Client {
  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, progress}
    ws.onmessage = (ev) => this.#deliver(decode(ev.data));
    ws.onclose = () => {
      for (const p of this.pending.values()) p.reject(new Error("crunch: connection closed"));
      this.pending.clear();
    };
  }

  close() { this.ws.close(1000); }

  /** ping returns the round trip of the protocol's ping op in ms. */
  async ping() {
    const start = performance.now();
    await this.call("ping");
    return performance.now() - start;
  }

  info() { return this.call("info"); }

  async modsum(n, iters = 1e7, opts = {}) {
    return (await this.call("modsum", { n, iters }, opts)).total;
  }

  /** start sends a request and returns {id, result}: id for cancel, result
   *  a promise of the reply's result (with .stats). */
  start(op, args = undefined, opts = {}) {
    const id = this.nextId++;
    const req = { id, op };
    if (args) req.args = args;
    if (opts.exec) req.exec = opts.exec;
    if (opts.impl) req.impl = opts.impl;
    if (opts.timeoutMs) req.timeout_ms = opts.timeoutMs;
    if (opts.threads != null) req.threads = opts.threads; // 0 too: the server judges it
    if (opts.progress) req.progress = true;
    const result = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, progress: opts.progress });
    });
    this.ws.send(encode(req));
    return { id, result };
  }

  /** call sends op with args (tensors, numbers, booleans, strings) and
   *  resolves to its result. */
  call(op, args, opts) { return this.start(op, args, opts).result; }

  cancel(target) { return this.call("cancel", { target }); }

  #deliver(reply) {
    const p = this.pending.get(reply.id);
    if (!p) return; // id 0: a request the server could not read
    if ("progress" in reply && !("ok" in reply)) {
      p.progress?.(reply.progress);
      return;
    }
    this.pending.delete(reply.id);
    if (reply.ok) {
      const result = reply.result ?? {};
      Object.defineProperty(result, "stats", { value: reply.stats, enumerable: false });
      p.resolve(result);
    } else {
      const e = reply.error ?? {};
      p.reject(new CrunchError(e.code ?? "internal", e.message ?? "", e.retry_after_ms));
    }
  }
}

const align = (n) => Math.ceil(n / ALIGN) * ALIGN;

/** encode writes a request: binary when it holds tensors, else text. */
export function encode(req) {
  const buffers = [];
  const args = {};
  for (const [k, v] of Object.entries(req.args ?? {})) {
    if (v && ArrayBuffer.isView(v.data)) {
      buffers.push(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));
      args[k] = { dtype: v.dtype, shape: v.shape, buffer: buffers.length - 1 };
    } else {
      args[k] = v;
    }
  }
  if (buffers.length === 0) return JSON.stringify(req);
  const body = { ...req, args };
  const utf8 = new TextEncoder();
  // The header's length fixes the offsets, which are in the header.
  let reserve = 0, header, offsets;
  for (;;) {
    let pos = align(8 + utf8.encode(JSON.stringify({ ...body, buffers: [] })).length + reserve);
    offsets = buffers.map((b) => { const o = [pos, b.length]; pos = align(pos + b.length); return o; });
    header = utf8.encode(JSON.stringify({ ...body, buffers: offsets }));
    if (8 + header.length <= offsets[0][0]) break;
    reserve += ALIGN;
  }
  const last = offsets[offsets.length - 1];
  const out = new Uint8Array(last[0] + last[1]);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, header.length, true);
  out.set(header, 8);
  buffers.forEach((b, i) => out.set(b, offsets[i][0]));
  return out;
}

/** decode reads a reply; tensors become {dtype, shape, data: TypedArray}. */
export function decode(msg) {
  let reply, bytes = null;
  if (typeof msg === "string") {
    reply = JSON.parse(msg);
  } else {
    bytes = new Uint8Array(msg);
    const hlen = new DataView(msg).getUint32(4, true);
    reply = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
  }
  const value = (v) => {
    if (!v || typeof v !== "object" || !("dtype" in v)) return v;
    const Arr = ARRAYS[v.dtype];
    let data;
    if ("buffer" in v) {
      const [off, len] = reply.buffers[v.buffer];
      data = new Arr(bytes.slice(off, off + len).buffer); // a copy: aligned for its type
    } else {
      data = Arr === BigInt64Array ? BigInt64Array.from(v.data.map(BigInt)) : Arr.from(v.data);
    }
    return { dtype: v.dtype, shape: v.shape, data };
  };
  if (reply.result && typeof reply.result === "object") {
    for (const k of Object.keys(reply.result)) reply.result[k] = value(reply.result[k]);
  }
  return reply;
}
