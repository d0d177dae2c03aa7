// Tests of crunch.mjs's codec with node's test runner (node --test): the
// binary encoding must be byte for byte the worked example of
// docs/PROTOCOL.md, and replies must decode to typed arrays.
// go test ./clients/js runs this file when node is installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encode, decode, tensor, CrunchError } from "./crunch.mjs";

test("binary gemm request is PROTOCOL.md's worked example", () => {
  const a = tensor(new Float64Array([1, 2, 3, 4]), [2, 2]);
  const b = tensor(new Float64Array([5, 6, 7, 8]), [2, 2]);
  const msg = encode({ id: 7, op: "gemm", args: { a, b } });
  assert.equal(msg.length, 288);
  assert.deepEqual([...msg.subarray(0, 8)], [0x43, 0x52, 0x4e, 0x31, 149, 0, 0, 0]);
  const header = new TextDecoder().decode(msg.subarray(8, 8 + 149));
  assert.equal(header, '{"id":7,"op":"gemm","args":{"a":{"dtype":"f64","shape":[2,2],"buffer":0},' +
    '"b":{"dtype":"f64","shape":[2,2],"buffer":1}},"buffers":[[192,32],[256,32]]}');
  assert.ok(msg.subarray(157, 192).every((x) => x === 0));
  assert.deepEqual([...new Float64Array(msg.buffer.slice(192, 224))], [1, 2, 3, 4]);
  assert.deepEqual([...new Float64Array(msg.buffer.slice(256, 288))], [5, 6, 7, 8]);
});

test("a request without tensors is text", () => {
  assert.equal(encode({ id: 1, op: "modsum", args: { n: 7, iters: 10 } }),
    '{"id":1,"op":"modsum","args":{"n":7,"iters":10}}');
});

test("long headers push the buffers further", () => {
  const x = tensor(new Float32Array(3));
  const msg = encode({ id: 1, op: "sort", args: { x, pad: "y".repeat(300) } });
  const hlen = new DataView(msg.buffer).getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(msg.subarray(8, 8 + hlen)));
  const [off, len] = header.buffers[0];
  assert.ok(off >= 8 + hlen && off % 64 === 0 && len === 12);
});

test("binary and text replies decode to typed arrays", () => {
  const text = decode('{"id":3,"ok":true,"result":{"y":{"dtype":"c128","shape":[1],"data":[1,-2]},' +
    '"n":{"dtype":"i64","shape":[2],"data":[1,2]},"total":5}}');
  assert.ok(text.result.y.data instanceof Float64Array);
  assert.deepEqual([...text.result.y.data], [1, -2]);
  assert.deepEqual([...text.result.n.data], [1n, 2n]);
  assert.equal(text.result.total, 5);

  const header = new TextEncoder().encode('{"id":4,"ok":true,"result":{"c":{"dtype":"f32","shape":[2],"buffer":0}},"buffers":[[128,8]]}');
  const msg = new Uint8Array(136);
  msg.set([0x43, 0x52, 0x4e, 0x31], 0);
  new DataView(msg.buffer).setUint32(4, header.length, true);
  msg.set(header, 8);
  msg.set(new Uint8Array(new Float32Array([1.5, NaN]).buffer), 128);
  const bin = decode(msg.buffer);
  assert.ok(bin.result.c.data instanceof Float32Array);
  assert.equal(bin.result.c.data[0], 1.5);
  assert.ok(Number.isNaN(bin.result.c.data[1]));
});

test("CrunchError carries the code", () => {
  const e = new CrunchError("overloaded", "queue full", 40);
  assert.equal(e.code, "overloaded");
  assert.equal(e.retryAfterMs, 40);
  assert.ok(e instanceof Error);
});
