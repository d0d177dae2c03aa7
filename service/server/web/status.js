// The status page: polls /v1/status every second, pings the server over
// its own WebSocket every 100 ms and charts the round trips, and can pin
// the CPU with modsum jobs on the pool to show that pings stay fast.
import { connect } from "/crunch.mjs";

const $ = (id) => document.getElementById(id);
const WINDOW = 300; // samples kept: 30 s at 100 ms
const rtts = []; // [time ms, rtt ms]
let client;
let last = null; // previous /v1/status, for the request rate

function percentile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

async function pollStatus() {
  try {
    const st = await (await fetch("/v1/status", { cache: "no-store" })).json();
    $("conns").textContent = st.connections;
    $("inflight").textContent = st.in_flight;
    if (last) {
      const dt = st.uptime_s - last.uptime_s;
      $("rps").textContent = dt > 0 ? ((st.answered - last.answered) / dt).toFixed(1) : "–";
    }
    last = st;
    $("execs").innerHTML = Object.entries(st.executors).sort().map(([name, e]) =>
      `<tr><td>${name}</td><td>${e.slots || "no cap"}</td><td>${e.busy}</td><td>${e.queued}</td><td>${e.deaths ?? ""}</td></tr>`,
    ).join("");
    showCluster(st.cluster);
    $("err").textContent = "";
  } catch (e) {
    $("err").textContent = `status: ${e.message}`;
  }
}

// showCluster fills the cluster's table (hidden outside a cluster).
function showCluster(cl) {
  $("cluster").hidden = !cl;
  if (!cl) return;
  const esc = (t) => String(t).replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  $("node").textContent = cl.node;
  $("nodes").innerHTML = cl.nodes.map((n) => {
    const execs = Object.entries(n.executors ?? {}).sort().map(([name, e]) =>
      `${esc(name)} ${e.busy}/${e.slots || "∞"}${e.queued ? `, ${e.queued} queued` : ""}`).join("; ");
    const name = esc(n.name) + (n.self ? " (this node)" : "") + (n.leaving ? " (leaving)" : "");
    return `<tr><td>${name}</td><td>${n.slots}</td><td>${n.busy}</td><td>${execs}</td><td>${n.seen_ms} ms ago</td></tr>`;
  }).join("");
}

async function pingLoop() {
  for (;;) {
    const t0 = performance.now();
    try {
      const rtt = await client.ping();
      rtts.push([t0, rtt]);
      if (rtts.length > WINDOW) rtts.shift();
    } catch (e) {
      $("err").textContent = `ping: ${e.message}`;
      return;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - t0))));
  }
}

function draw() {
  const c = $("chart");
  // Draw at the canvas's displayed size, so that text is not stretched.
  const scale = globalThis.devicePixelRatio || 1;
  const w = c.clientWidth, h = c.clientHeight, pad = 30;
  if (c.width !== Math.round(w * scale) || c.height !== Math.round(h * scale)) {
    c.width = Math.round(w * scale);
    c.height = Math.round(h * scale);
  }
  const g = c.getContext("2d");
  g.setTransform(scale, 0, 0, scale, 0, 0);
  g.clearRect(0, 0, w, h);
  const sorted = rtts.map((r) => r[1]).sort((a, b) => a - b);
  $("p50").textContent = sorted.length ? percentile(sorted, 0.5).toFixed(2) : "–";
  $("p99").textContent = sorted.length ? percentile(sorted, 0.99).toFixed(2) : "–";
  const top = Math.max(5, percentile(sorted, 1) * 1.2 || 5);
  g.strokeStyle = "#ccc";
  g.fillStyle = "#666";
  g.font = "12px system-ui";
  for (const ms of [0, top / 2, top]) {
    const y = h - pad - (ms / top) * (h - 2 * pad);
    g.lineWidth = 1;
    g.beginPath(); g.moveTo(pad, y); g.lineTo(w, y); g.stroke();
    g.fillText(`${ms.toFixed(1)} ms`, 2, y - 3);
  }
  if (rtts.length > 1) {
    const now = performance.now();
    g.strokeStyle = "#1565c0";
    g.lineWidth = 2;
    g.beginPath();
    rtts.forEach(([t, rtt], i) => {
      const x = pad + (1 - (now - t) / (WINDOW * 100)) * (w - pad);
      const y = h - pad - (Math.min(rtt, top) / top) * (h - 2 * pad);
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke();
  }
  requestAnimationFrame(draw);
}

// pinCPU keeps every pool slot busy (and a queue behind) with modsum jobs
// for 10 s, on a connection of its own.
async function pinCPU() {
  $("load").disabled = true;
  const heavy = await connect();
  const slots = last?.executors?.pool?.slots || 2;
  const until = performance.now() + 10_000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < until) {
      await heavy.modsum(7, 3e8, { exec: "pool" }).catch(() => {});
      done++;
      $("loadstate").textContent = `${done} modsum jobs done…`;
    }
  };
  await Promise.all(Array.from({ length: 2 * slots }, worker));
  heavy.close();
  $("loadstate").textContent = `${done} modsum jobs of 3·10⁸ iterations done; pings above stayed live throughout.`;
  $("load").disabled = false;
}

client = await connect();
$("load").onclick = pinCPU;
pollStatus();
setInterval(pollStatus, 1000);
pingLoop();
requestAnimationFrame(draw);
