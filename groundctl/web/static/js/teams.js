// Ground teams on the map, with the distance and bearing from each to every confirmed find.
import { esc, utc } from './api.js';

const compass = (deg) => ['N', 'NE', 'E', 'SE', 'S', 'SW', 'W', 'NW'][Math.round(deg / 45) % 8];

export class Teams {
  constructor(map, els) {
    this.map = map;
    this.els = els;
    this.markers = new Map();
    this.lines = L.layerGroup().addTo(map);
  }

  set(items, hits) {
    this.lines.clearLayers();
    const html = [];
    for (const t of items) {
      let m = this.markers.get(t.team);
      if (!m) {
        m = L.marker([t.lat, t.lon], { icon: L.divIcon({ className: 'team-icon', html: esc(t.team.slice(0, 2)), iconSize: [22, 22], iconAnchor: [11, 11] }), pmIgnore: true, snapIgnore: true })
          .bindTooltip(esc(t.team)).addTo(this.map);
        this.markers.set(t.team, m);
      }
      m.setLatLng([t.lat, t.lon]);
      const legs = (t.to || []).map((l) => {
        const h = hits.get(l.hit_id);
        if (h) L.polyline([[t.lat, t.lon], [h.hit.lat, h.hit.lon]], { color: '#1b5fbf', weight: 1.5, dashArray: '6 4', interactive: false, pmIgnore: true, snapIgnore: true }).addTo(this.lines);
        const d = l.distance_m >= 1000 ? `${(l.distance_m / 1000).toFixed(2)} km` : `${Math.round(l.distance_m)} m`;
        return `<li class="leg" data-hit="${esc(l.hit_id)}">${esc(l.target_class.split('_')[0])} ${esc(l.hit_id.slice(0, 8))}: <strong>${d}</strong>, bearing <strong>${Math.round(l.bearing_deg)}°</strong> (${compass(l.bearing_deg)})</li>`;
      }).join('');
      html.push(`<div class="team" data-team="${esc(t.team)}"><strong>${esc(t.team)}</strong> at ${t.lat.toFixed(5)}, ${t.lon.toFixed(5)}${t.accuracy_m != null ? ' ±' + Math.round(t.accuracy_m) + ' m' : ''}, ${utc(t.ts)} UTC (${esc(t.source || '')})
        <ul>${legs || '<li class="muted">no confirmed find yet</li>'}</ul></div>`);
    }
    this.els.list.innerHTML = html.join('') || '<p class="muted">No ground team has reported yet.</p>';
  }
}
