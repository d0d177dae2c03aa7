// crunch.mjs's token option in node, against a server with TLS and a
// token (run by auth_test.go, which sets CRUNCH_AUTH_ADDR, CRUNCH_TOKEN,
// and NODE_EXTRA_CA_CERTS to the server's self-signed certificate).
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "./crunch.mjs";

const url = `wss://${process.env.CRUNCH_AUTH_ADDR}/v1/ws`;
const token = process.env.CRUNCH_TOKEN;

test("the token opens a wss:// connection", async () => {
  const c = await connect(url, { token });
  try {
    assert.equal(typeof (await c.modsum(7, 1000)), "number");
  } finally {
    c.close();
  }
});

test("no token, or a wrong one, is refused", async () => {
  await assert.rejects(connect(url), /401/);
  await assert.rejects(connect(url, { token: token + "x" }), /401/);
});
