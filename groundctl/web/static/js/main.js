// The coordinator's map: everything comes from the server's websocket (a snapshot of the
// operation database on connect, then changes), so every open browser shows the same.
import { api, esc, utc } from './api.js';
import { addBackground } from './basemap.js';
import { AreaEditor } from './draw.js';
import { Fleet } from './fleet.js';
import { Hits } from './hits.js';
import { PlanView } from './plan.js';
import { Teams } from './teams.js';
import { ThermalView } from './thermal.js';

const $ = (id) => document.getElementById(id);
const gc = (window.gc = { latency: [], messages: 0, snapshots: 0, readyAt: null });

const map = L.map('map', { preferCanvas: false, zoomControl: true, attributionControl: true }).setView([20, 0], 2);
gc.map = map;

const whoEl = $('who');
whoEl.value = localStorage.getItem('gc-name') || '';
whoEl.onchange = () => localStorage.setItem('gc-name', whoEl.value.trim());
const who = () => whoEl.value.trim();

for (const b of document.querySelectorAll('#tabs button')) {
  b.onclick = () => {
    for (const x of document.querySelectorAll('#tabs button')) x.classList.toggle('on', x === b);
    for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== `tab-${b.dataset.tab}`;
  };
}

const editor = new AreaEditor(map, {
  area: $('draw-area'), hole: $('draw-hole'), lkp: $('draw-lkp'), launch: $('draw-launch'),
  clear: $('clear-area'), importInput: $('import'), info: $('area-info'), error: $('plan-error'),
});
const plan = new PlanView(map, { form: $('plan-form'), button: $('plan-btn'), error: $('plan-error'), summary: $('plan-summary') }, editor);
const fleet = new Fleet(map, {
  fly: $('fly-btn'), stop: $('stop-btn'), error: $('fly-error'), status: $('flight-status'),
  table: document.querySelector('#vehicles tbody'), sweptPct: $('swept-pct'), preflight: $('preflight'),
});
const hits = new Hits(map, { table: document.querySelector('#hits tbody'), count: $('hit-count') }, who);
const teams = new Teams(map, { list: $('teams') });
const thermal = new ThermalView({
  panel: $('thermal'), img: $('thermal-img'), info: $('thermal-info'), count: $('thermal-count'),
  select: $('thermal-vehicle'), close: $('thermal-close'),
});
Object.assign(gc, { editor, plan, fleet, hits, teams, thermal });

plan.onplanned = (doc) => { fleet.setPlan(doc.id); };
document.querySelector('#vehicles tbody').onclick = (e) => {
  const b = e.target.closest('button.watch');
  if (b && b.dataset.name) thermal.open(b.dataset.name);
};

function log(items) {
  const ol = $('log');
  for (const e of items) {
    const li = document.createElement('li');
    li.className = e.severity || 'info';
    li.textContent = `${utc(e.ts)} ${e.kind}${e.sysid ? ' #' + e.sysid : ''} ${e.message || ''}`;
    ol.prepend(li);
  }
  while (ol.children.length > 300) ol.lastChild.remove();
}

function liveNames() {
  thermal.names([...fleet.drones.values()].map((d) => fleet.names.get(d.state.sysid)).filter(Boolean));
}

async function applySnapshot(s) {
  gc.snapshots += 1;
  $('op').textContent = s.operation ? s.operation.name : `${gc.config.operation} (new)`;
  fleet.clear();
  hits.clear();
  fleet.sorties(s.sorties);
  for (const p of s.tracks) fleet.update(p, true);
  for (const v of s.vehicles || []) fleet.update(v);
  hits.upsert(s.hits);
  hits.setOverwatch(s.overwatch);
  teams.set(s.teams, hits.hits);
  $('log').innerHTML = '';
  log(s.events);
  fleet.setFlight(s.flight);
  fleet.setSwept(s.swept);
  plan.setLkp(s.operation && s.operation.lkp);
  if (s.current_plan_id) {
    fleet.setPlan(s.current_plan_id);
    try { await plan.load(s.current_plan_id); } catch (err) { console.warn(err); }
    if (s.swept) plan.setSwept(s.swept.lanes);
  } else if (!plan.fitted) {
    const b = L.featureGroup([...hits.hits.values()].map((e) => e.marker)).getBounds();
    if (b.isValid()) map.fitBounds(b, { padding: [30, 30] });
  }
  liveNames();
  fleet.table();
  if (gc.readyAt === null) gc.readyAt = performance.now();
}

function handle(m) {
  gc.messages += 1;
  switch (m.type) {
    case 'snapshot': return applySnapshot(m);
    case 'vehicles': {
      const now = Date.now() / 1000;
      for (const v of m.items) {
        if (v.t_link) gc.latency.push(now - v.t_link);
        fleet.update(v);
      }
      if (gc.latency.length > 200000) gc.latency.splice(0, 100000);
      return liveNames();
    }
    case 'tracks': for (const p of m.items) fleet.update(p, true); return;
    case 'sorties': return fleet.sorties(m.items);
    case 'swept':
      fleet.setSwept(m.swept);
      if (m.swept && plan.plan && m.swept.plan_id !== plan.plan.id) plan.load(m.swept.plan_id);
      if (m.swept) plan.setSwept(m.swept.lanes);
      return;
    case 'plans':
      $('op').textContent = gc.config.operation;
      if (!m.current_plan_id) return undefined;
      fleet.setPlan(m.current_plan_id);
      return plan.load(m.current_plan_id); // a plan made in another browser shows here too
    case 'hits': hits.upsert(m.items); return teams.set(gc.lastTeams || [], hits.hits);
    case 'acks': return log(m.items.map((a) => ({ ts: a.ts, kind: 'ack', message: `${a.hit_id.slice(0, 8)}: ${a.status} by ${a.by}` })));
    case 'overwatch': return hits.setOverwatch(m.items);
    case 'teams': gc.lastTeams = m.items; return teams.set(m.items, hits.hits);
    case 'events': return log(m.items);
    case 'flight': return fleet.setFlight(m.flight);
    default: return undefined;
  }
}

let backoff = 500;
function connect() {
  const url = new URL('ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url);
  gc.ws = ws;
  ws.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'ok'; backoff = 500; };
  // Messages are handled in order, each after the configuration is in.
  let queue = configured;
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'snapshot' && m.teams) gc.lastTeams = m.teams;
    queue = queue.then(() => handle(m)).catch((err) => console.error(err));
  };
  ws.onclose = () => {
    $('conn').textContent = 'reconnecting'; $('conn').className = 'bad';
    setTimeout(connect, backoff);
    backoff = Math.min(8000, backoff * 2);
  };
}

setInterval(() => fleet.refresh(), 500);

// The snapshot and the configuration are fetched side by side: the hits are drawn as soon as
// both are in.
const configured = api('api/config').then((cfg) => {
  gc.config = cfg;
  fleet.flying = cfg.flying;
  addBackground(map, cfg);
  plan.fill(cfg);
  document.title = `groundctl: ${cfg.operation}`;
  return cfg;
}).catch((err) => {
  document.body.innerHTML = `<p class="error">${esc(err.message)}</p>`;
  throw err;
});
connect();
