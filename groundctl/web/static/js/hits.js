// Thermal hits: markers by class (size by confidence), the position uncertainty, the thermal
// chip, confirm / dismiss / found, and which drone holds overwatch over a find.
import { api, esc, pct, utc } from './api.js';

export const CLASS_COLOURS = { person: '#e0241b', animal: '#2f9e2f', vehicle_or_hot_object: '#f08c00', unknown: '#777' };
const STATUS = { received: 'received', team_dispatched: 'confirmed: team sent', found: 'found', false_alarm: 'dismissed' };

export class Hits {
  constructor(map, els, who) {
    this.map = map;
    this.els = els;
    this.who = who;
    this.renderer = L.canvas({ padding: 0.3 });
    this.layer = L.layerGroup().addTo(map);
    this.hits = new Map(); // id -> {hit, marker}
    this.overwatch = {};
    this.ring = null;
    els.table.onclick = (e) => {
      const tr = e.target.closest('tr[data-id]');
      if (tr) this.open(tr.dataset.id);
    };
  }

  upsert(items) {
    for (const h of items) {
      let e = this.hits.get(h.id);
      const style = {
        radius: 5 + 6 * h.confidence,
        color: h.status === 'false_alarm' ? '#999' : '#000',
        weight: ['team_dispatched', 'found'].includes(h.status) ? 3 : 1,
        fillColor: h.status === 'false_alarm' ? '#ccc' : CLASS_COLOURS[h.target_class] || '#777',
        fillOpacity: 0.9,
      };
      if (!e) {
        const marker = L.circleMarker([h.lat, h.lon], { ...style, renderer: this.renderer, bubblingMouseEvents: false, pmIgnore: true, snapIgnore: true });
        marker.on('click', () => this.open(h.id));
        marker.addTo(this.layer);
        e = { hit: h, marker };
        this.hits.set(h.id, e);
      } else {
        e.marker.setLatLng([h.lat, h.lon]);
        e.marker.setStyle(style);
        e.marker.setRadius(style.radius);
      }
      e.hit = h;
      if (this.openId === h.id && e.marker.isPopupOpen()) e.marker.setPopupContent(this.popup(h));
    }
    this.table();
  }

  setOverwatch(items) {
    this.overwatch = items || {};
    this.table();
    if (this.openId && this.hits.has(this.openId)) {
      const e = this.hits.get(this.openId);
      if (e.marker.isPopupOpen()) e.marker.setPopupContent(this.popup(e.hit));
    }
  }

  popup(h) {
    const ow = this.overwatch[h.id];
    const drones = (h.vehicle_ids || []).join(', ');
    return `<div class="hit-popup" data-id="${esc(h.id)}">
      <strong class="cls">${esc(h.target_class.replaceAll('_', ' '))}</strong> ${pct(h.confidence)}
      ${h.has_chip ? `<img class="chip" src="api/hits/${encodeURIComponent(h.id)}/chip.png?r=${h.revision}" alt="thermal chip">` : '<p class="muted">no chip</p>'}
      <div>seen ${utc(h.first_seen)}–${utc(h.last_seen)} UTC, ${h.sighting_count} sighting(s) by drone ${esc(drones)}</div>
      <div>${h.lat.toFixed(6)}, ${h.lon.toFixed(6)} ± ${h.uncertainty_m.toFixed(1)} m${h.temp_c != null ? `, ${h.temp_c.toFixed(1)} °C` : ''}</div>
      <div>status: <span class="status status-${esc(h.status || 'new')}">${esc(STATUS[h.status] || 'new')}</span>${h.status_by ? ' by ' + esc(h.status_by) : ''}</div>
      ${ow ? `<div class="overwatch">overwatch: <strong>${esc(ow.vehicle)}</strong></div>` : ''}
      <div><button data-ack="confirm">Confirm, send team</button><button data-ack="dismiss">Dismiss</button><button data-ack="found">Found</button></div>
      <div class="ack-error error" hidden></div></div>`;
  }

  open(id) {
    const e = this.hits.get(id);
    if (!e) return;
    this.openId = id;
    if (this.ring) this.ring.remove();
    this.ring = L.circle([e.hit.lat, e.hit.lon], { radius: e.hit.uncertainty_m, color: '#000', weight: 1, dashArray: '3 3', fill: false, interactive: false, pmIgnore: true, snapIgnore: true }).addTo(this.map);
    e.marker.unbindPopup();
    e.marker.bindPopup(() => this.popup(e.hit), { minWidth: 220 }).openPopup();
    const el = e.marker.getPopup().getElement();
    if (el) el.onclick = (ev) => this._button(ev, id);
    for (const tr of this.els.table.querySelectorAll('tr')) tr.classList.toggle('sel', tr.dataset.id === id);
  }

  async _button(ev, id) {
    const b = ev.target.closest('button[data-ack]');
    if (!b) return;
    const box = ev.target.closest('.hit-popup');
    const err = box.querySelector('.ack-error');
    try {
      const by = this.who();
      if (!by) throw new Error('by: type your name at the top of the page first (it goes with your answer)');
      await api(`api/hits/${encodeURIComponent(id)}/ack`, { method: 'POST', json: { status: b.dataset.ack, by } });
      err.hidden = true;
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  }

  table() {
    const order = { person: 0, animal: 1, vehicle_or_hot_object: 2 };
    const rows = [...this.hits.values()].map((e) => e.hit)
      .sort((a, b) => (order[a.target_class] ?? 9) - (order[b.target_class] ?? 9) || b.confidence - a.confidence)
      .slice(0, 300)
      .map((h) => {
        const ow = this.overwatch[h.id];
        return `<tr data-id="${esc(h.id)}"${h.id === this.openId ? ' class="sel"' : ''}><td style="color:${CLASS_COLOURS[h.target_class]}">● ${esc(h.target_class.split('_')[0])}</td>
          <td>${pct(h.confidence)}</td><td>${utc(h.last_seen)}</td><td>${h.uncertainty_m.toFixed(0)}</td>
          <td class="status-${esc(h.status || 'new')}">${esc(STATUS[h.status] || 'new')}${ow ? ' · watched by ' + esc(ow.vehicle) : ''}</td></tr>`;
      });
    this.els.table.innerHTML = rows.join('');
    this.els.count.textContent = this.hits.size;
  }

  clear() {
    this.layer.clearLayers();
    this.hits.clear();
  }
}
