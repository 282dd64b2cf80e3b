// tradenet dashboard: wallet login (EIP-1193 + SIWE), local times, charts from the server's data,
// live updates from the node's event stream. No framework; served by the node (CSP: 'self' only).
"use strict";

async function postJSON(url, body) {
  const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                              body: JSON.stringify(body), credentials: "same-origin"});
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    // the node's RFC 9457 problem: its sentence is what a person reads
    throw new Error(data.detail || data.title || `HTTP ${r.status}`);
  }
  return data;
}

function utf8Hex(text) {
  return "0x" + Array.from(new TextEncoder().encode(text), b => b.toString(16).padStart(2, "0")).join("");
}

function showLoginError(message) {
  const el = document.getElementById("login-error");
  el.textContent = message;
  el.hidden = false;
}

function afterLogin() {
  const next = document.getElementById("login").dataset.next || "/";
  window.location.assign(next);
}

async function walletLogin() {
  if (!window.ethereum || typeof window.ethereum.request !== "function") {
    showLoginError("No browser wallet found: install or unlock an Ethereum wallet (EIP-1193), or ask your node operator for access.");
    return;
  }
  try {
    const accounts = await window.ethereum.request({method: "eth_requestAccounts"});
    if (!accounts || !accounts.length) throw new Error("the wallet shared no account");
    const address = accounts[0];
    const {message} = await postJSON("/ui/login/message", {address});
    const signature = await window.ethereum.request({method: "personal_sign", params: [utf8Hex(message), address]});
    await postJSON("/ui/login", {message, signature});
    afterLogin();
  } catch (e) {
    showLoginError("Login refused: " + (e && e.message ? e.message : e));
  }
}

async function demoLogin(address) {
  try {
    await postJSON("/ui/demo-login", {address});
    afterLogin();
  } catch (e) {
    showLoginError("Login refused: " + (e && e.message ? e.message : e));
  }
}

// ISO-8601 UTC next to the reader's local time
function localTimes(root) {
  const fmt = new Intl.DateTimeFormat(undefined, {dateStyle: "medium", timeStyle: "short"});
  root.querySelectorAll("time[datetime]").forEach(t => {
    if (t.dataset.local) return;
    const d = new Date(t.getAttribute("datetime"));
    if (isNaN(d)) return;
    t.dataset.local = "1";
    const local = document.createElement("span");
    local.className = "local-time";
    local.textContent = ` (${fmt.format(d)} local)`;
    t.after(local);
  });
}

// charts: each <canvas data-chart="ID"> draws the JSON of <script type="application/json" id="ID">
window.tradenetCharts = window.tradenetCharts || {};
function drawCharts(root) {
  if (typeof window.Chart === "undefined") return;
  root.querySelectorAll("canvas[data-chart]").forEach(canvas => {
    const spec = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
    const old = window.tradenetCharts[canvas.id];
    if (old) old.destroy();
    window.tradenetCharts[canvas.id] = new window.Chart(canvas, {
      type: spec.type, data: spec.data,
      options: {responsive: true, maintainAspectRatio: false, animation: false,
                plugins: {legend: {position: "bottom"}}, scales: {y: {beginAtZero: spec.type === "bar"}}}});
  });
}

// utilisation bars: widths set through the CSSOM (the CSP allows no inline style attributes)
function bars(root) {
  root.querySelectorAll(".bar .fill[data-bps]").forEach(f => {
    f.style.width = Math.min(Number(f.dataset.bps) / 100, 100) + "%";
  });
}

function enhance(root) {
  localTimes(root);
  bars(root);
  drawCharts(root);
}

// live updates: every event the node indexes for this member re-renders the page's main part
let refreshTimer = null;
async function refreshMain() {
  const r = await fetch(window.location.href, {credentials: "same-origin"});
  if (!r.ok) return;
  const doc = new DOMParser().parseFromString(await r.text(), "text/html");
  const fresh = doc.getElementById("main");
  const main = document.getElementById("main");
  if (!fresh || !main) return;
  main.replaceChildren(...fresh.childNodes);
  const chainTime = doc.getElementById("chain-time");
  if (chainTime) document.getElementById("chain-time").replaceWith(chainTime);
  enhance(document);
  document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
}

function live() {
  const url = document.body.dataset.stream;
  if (!url || typeof EventSource === "undefined") return;
  const status = document.getElementById("live-status");
  const feed = document.getElementById("live-feed");
  const source = new EventSource(url);
  source.onopen = () => { status.textContent = "live: connected"; status.dataset.state = "open"; };
  source.onerror = () => { status.textContent = "live: reconnecting…"; status.dataset.state = "error"; };
  source.onmessage = msg => {
    let ev;
    try { ev = JSON.parse(msg.data); } catch (e) { return; }
    const li = document.createElement("li");
    li.textContent = `block ${Number(ev.block_number).toLocaleString()} · ${ev.event || "event"} · ${ev.contract}`;
    feed.prepend(li);
    while (feed.children.length > 8) feed.lastElementChild.remove();
    status.textContent = `live: last event in block ${Number(ev.block_number).toLocaleString()}`;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshMain, 400);
  };
}

document.addEventListener("DOMContentLoaded", () => {
  const wallet = document.getElementById("wallet-login");
  if (wallet) wallet.addEventListener("click", walletLogin);
  document.querySelectorAll("button.demo-key").forEach(b => b.addEventListener("click", () => demoLogin(b.dataset.address)));
  enhance(document);
  live();
});
