// Drones on the map (heading, trail, battery, mode, sortie), the swept ground, the flight.
import { api, colour, esc, showError } from './api.js';

const TRAIL = 400; // points kept per drone trail

function arrow(c, heading) {
  return `<svg viewBox="-13 -13 26 26"><g transform="rotate(${heading || 0})">
    <path d="M0,-11 L8,9 L0,4 L-8,9 Z" fill="${c}" stroke="#000" stroke-width="1.2"/></g></svg>`;
}

export class Fleet {
  constructor(map, els) {
    this.map = map;
    this.els = els;
    this.drones = new Map(); // sysid -> {marker, trail, state, name}
    this.names = new Map(); // sysid -> fleet name (from sorties or live states)
    this.sweptLayer = L.geoJSON(null, { style: { color: '#2a7d3c', weight: 0, fillColor: '#3cb43c', fillOpacity: 0.28 }, interactive: false, pmIgnore: true, snapIgnore: true }).addTo(map);
    this.sweptArea = 0;
    this.flight = null;
    els.fly.onclick = () => this.fly();
    els.stop.onclick = () => this.stop();
  }

  drone(sysid) {
    let d = this.drones.get(sysid);
    if (!d) {
      const c = colour(sysid - 1);
      d = { state: { sysid }, color: c };
      d.trail = L.polyline([], { color: c, weight: 2, opacity: 0.7, interactive: false, pmIgnore: true, snapIgnore: true }).addTo(this.map);
      d.marker = L.marker([0, 0], { icon: this._icon(d), zIndexOffset: 1000, pmIgnore: true, snapIgnore: true });
      this.drones.set(sysid, d);
    }
    return d;
  }

  _icon(d) {
    const name = this.names.get(d.state.sysid) || `#${d.state.sysid}`;
    return L.divIcon({
      className: 'drone',
      html: `${arrow(d.color, d.state.heading_deg)}<span class="lbl">${esc(name)}</span>`,
      iconSize: [26, 26],
      iconAnchor: [13, 13],
    });
  }

  // A state: live from the link (this server's flight) or a track point from the database.
  update(s, fromTrack = false) {
    if (s.lat === undefined || s.lat === null) return;
    const d = this.drone(s.sysid);
    const ts = s.t_link || s.ts || 0;
    if (s.name) this.names.set(s.sysid, s.name);
    if (fromTrack) {
      d.trail.addLatLng([s.lat, s.lon]);
      const pts = d.trail.getLatLngs();
      if (pts.length > TRAIL) d.trail.setLatLngs(pts.slice(-TRAIL));
      if (ts < (d.liveTs || 0) - 1) return; // the live state is newer
    } else {
      d.liveTs = ts;
    }
    const heading = s.heading_deg;
    const moved = d.state.heading_deg !== heading || !d.placed;
    d.state = { ...d.state, ...s };
    d.marker.setLatLng([s.lat, s.lon]);
    if (moved) d.marker.setIcon(this._icon(d));
    if (!d.placed) { d.marker.addTo(this.map); d.placed = true; }
    d.dirty = true;
  }

  sorties(items) {
    for (const s of items) if (s.vehicle) this.names.set(s.sysid, s.vehicle);
    this.lastSorties = items;
    this.table();
  }

  setSwept(swept) {
    this.sweptLayer.clearLayers();
    if (swept && swept.geometry) this.sweptLayer.addData(swept.geometry);
    this.sweptArea = swept && swept.geometry ? this.sweptLayer.getLayers().length : 0;
    this.els.sweptPct.textContent = swept ? swept.pct : 0;
    this.sweptPct = swept ? swept.pct : 0;
  }

  table() {
    const rows = [];
    const active = new Map();
    for (const s of this.lastSorties || []) if (['uploading', 'flying', 'returning', 'overwatch'].includes(s.status)) active.set(s.sysid, s);
    for (const [sysid, d] of [...this.drones].sort((a, b) => a[0] - b[0])) {
      const s = d.state, so = active.get(sysid);
      const lanes = s.lanes_total ? `${s.lanes_swept}/${s.lanes_total}` : so ? `${so.swept.length}/${so.lanes.length}` : '';
      const phase = s.phase || (so ? `${so.role} ${so.status}` : '');
      rows.push(`<tr data-sysid="${sysid}"><td style="color:${d.color}">▲ ${esc(this.names.get(sysid) || '#' + sysid)}</td>
        <td>${esc(s.mode || '')}</td><td>${s.battery_pct != null ? Math.round(s.battery_pct) + '%' : ''}</td>
        <td>${esc(phase)}</td><td>${lanes}</td><td>${s.alt_rel_m != null ? Math.round(s.alt_rel_m) : ''}</td>
        <td><button class="watch" data-name="${esc(this.names.get(sysid) || '')}" title="live thermal view">thermal</button></td></tr>`);
    }
    this.els.table.innerHTML = rows.join('');
  }

  refresh() {
    let any = false;
    for (const d of this.drones.values()) if (d.dirty) { d.dirty = false; any = true; }
    if (any) this.table();
  }

  setFlight(f) {
    this.flight = f;
    const running = f && ['starting', 'flying'].includes(f.status);
    this.els.status.textContent = f ? `Flight of plan ${f.plan_id} (${f.mode}): ${f.status}${f.message ? ' — ' + f.message : ''}` : 'No flight from this map.';
    this.els.stop.disabled = !running;
    this.els.fly.disabled = running || !this.planId || this.flying === 'none';
    if (f && f.preflight) this.els.preflight.textContent = f.preflight;
  }

  setPlan(planId) {
    this.planId = planId;
    this.setFlight(this.flight);
  }

  async fly() {
    try {
      this.els.fly.disabled = true;
      const f = await api('api/flight', { method: 'POST', json: { plan_id: this.planId } });
      showError(this.els.error, null);
      this.setFlight(f);
    } catch (err) {
      showError(this.els.error, err);
      this.setFlight(this.flight);
    }
  }

  async stop() {
    try {
      this.els.stop.disabled = true;
      this.setFlight(await api('api/flight?on_exit=rtl', { method: 'DELETE' }));
    } catch (err) {
      showError(this.els.error, err);
    }
  }

  clear() {
    for (const d of this.drones.values()) { d.trail.remove(); d.marker.remove(); }
    this.drones.clear();
  }
}
