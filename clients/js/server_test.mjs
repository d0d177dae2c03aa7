// crunch.mjs against a real server, in node (run by server_test.go, which
// sets CRUNCH_ADDR): calls succeed, and failures reject with the codes
// docs/PROTOCOL.md gives them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, tensor, CrunchError } from "./crunch.mjs";

const url = `ws://${process.env.CRUNCH_ADDR}/v1/ws`;

test("a call computes", async () => {
  const c = await connect(url);
  try {
    const a = tensor(new Float64Array([1, 2, 3, 4]), [2, 2]);
    const { c: prod } = await c.call("gemm", { a, b: a }, { exec: "pool" });
    assert.deepEqual(Array.from(prod.data), [7, 10, 15, 22]);
  } finally {
    c.close();
  }
});

test("an op, exec or impl the server lacks is not_found", async () => {
  const c = await connect(url);
  try {
    for (const [what, call] of [
      ["unknown op", () => c.call("no_such_op")],
      ["exec gpu", () => c.modsum(3, 10, { exec: "gpu" })],
      ["impl fortran", () => c.modsum(3, 10, { impl: "fortran" })],
      ["impl modsum lacks", () => c.modsum(3, 10, { impl: "gonum" })],
    ]) {
      await assert.rejects(call, (e) => e instanceof CrunchError && e.code === "not_found", what);
    }
    assert.equal(typeof (await c.modsum(3, 10)), "number"); // still serving
  } finally {
    c.close();
  }
});

test("threads changes the speed, never the result; threads 0 is invalid_argument", async () => {
  const c = await connect(url);
  try {
    // 600^3 multiply-adds: above gemm's parallel threshold.
    const n = 600;
    const a = new Float64Array(n * n).map((_, i) => Math.sin(i));
    const b = new Float64Array(n * n).map((_, i) => Math.cos(3 * i));
    const gemm = async (threads) => (await c.call("gemm",
      { a: tensor(a, [n, n]), b: tensor(b, [n, n]) }, { exec: "pool", impl: "c", threads })).c.data;
    const one = await gemm(1), two = await gemm(2);
    assert.ok(Buffer.from(one.buffer, one.byteOffset, one.byteLength)
      .equals(Buffer.from(two.buffer, two.byteOffset, two.byteLength)), "threads 2 differs from threads 1");
    await assert.rejects(() => c.modsum(3, 10, { threads: 0 }),
      (e) => e instanceof CrunchError && e.code === "invalid_argument");
    assert.equal(await c.modsum(3, 10, { threads: 2 }), 135); // still serving
  } finally {
    c.close();
  }
});
