// The plan form and the plan on the map: segments coloured per drone, lanes (swept ones
// dimmed), sortie routes, launch points; a summary table and the exports.
import { api, colour, esc, showError } from './api.js';

const mmss = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

export class PlanView {
  constructor(map, els, editor) {
    this.map = map;
    this.els = els;
    this.editor = editor;
    this.layer = L.layerGroup().addTo(map);
    this.lanes = new Map(); // lane id -> polyline
    this.plan = null;
    this.swept = new Set();
    els.form.onsubmit = (e) => { e.preventDefault(); this.submit(); };
  }

  fill(cfg) {
    const sel = (el, names, pick) => {
      el.innerHTML = names.map((n) => `<option${n === pick ? ' selected' : ''}>${esc(n)}</option>`).join('');
    };
    sel(this.els.form.camera, cfg.cameras, cfg.cameras.includes('h20t') ? 'h20t' : cfg.cameras[0]);
    sel(this.els.form.airframe, cfg.airframes, cfg.airframes.includes('mavic3t') ? 'mavic3t' : cfg.airframes[0]);
  }

  request() {
    const f = this.els.form;
    const num = (el) => (el.value === '' ? null : Number(el.value));
    const body = {
      area: this.editor.geojson(),
      name: f.name.value,
      camera: f.camera.value,
      overlap_pct: num(f.overlap_pct),
      drones: num(f.drones),
      airframes: [f.airframe.value],
      launches: this.editor.launches(),
      lkp: this.editor.lkp(),
      sweep_deg: num(f.sweep_deg),
      turn_margin_m: num(f.turn_margin_m),
      hole_margin_m: num(f.hole_margin_m),
    };
    if (f.altmode.value === 'px') body.min_px_on_person = num(f.min_px_on_person);
    else body.alt_m = num(f.alt_m);
    return body;
  }

  async submit() {
    this.els.button.disabled = true;
    this.els.button.textContent = 'Planning…';
    try {
      const doc = await api('api/plans', { method: 'POST', json: this.request() });
      showError(this.els.error, null);
      this.show(doc);
      this.setLkp(doc.lkp);
      if (this.onplanned) this.onplanned(doc);
    } catch (err) {
      showError(this.els.error, err);
    } finally {
      this.els.button.disabled = false;
      this.els.button.textContent = 'Plan';
    }
  }

  async load(planId) {
    if (!planId || (this.plan && this.plan.id === planId)) return;
    this.show(await api(`api/plans/${planId}`));
  }

  show(doc) {
    this.plan = doc;
    this.layer.clearLayers();
    this.lanes.clear();
    const ring = (r) => r.map(([lon, lat]) => [lat, lon]);
    for (const r of doc.area) L.polygon(ring(r), { color: '#333', weight: 1.5, fill: false, interactive: false, pmIgnore: true, snapIgnore: true }).addTo(this.layer);
    for (const r of doc.holes) L.polygon(ring(r), { color: '#c0262d', weight: 1, fillColor: '#c0262d', fillOpacity: 0.3, interactive: false, pmIgnore: true, snapIgnore: true }).addTo(this.layer);
    for (const seg of doc.segments) {
      const c = colour(seg.index);
      for (const r of seg.outline) {
        L.polygon(ring(r), { color: c, weight: 1, fillColor: c, fillOpacity: 0.12, className: 'segment', pmIgnore: true, snapIgnore: true })
          .bindTooltip(`segment ${seg.index + 1}: ${mmss(seg.stats.est_time_s)}, POD ${seg.stats.pod.toFixed(2)}`)
          .addTo(this.layer);
      }
      for (const route of seg.routes) L.polyline(route, { color: c, weight: 1, opacity: 0.5, dashArray: '2 4', interactive: false, pmIgnore: true, snapIgnore: true }).addTo(this.layer);
      L.circleMarker(seg.launch, { radius: 6, color: '#000', weight: 1, fillColor: c, fillOpacity: 1, pmIgnore: true, snapIgnore: true }).bindTooltip(`launch ${seg.index + 1}`).addTo(this.layer);
    }
    for (const lane of doc.lanes) {
      const line = L.polyline(lane.coords, { color: colour(lane.segment), weight: 3, opacity: 0.9, className: 'lane', interactive: false, pmIgnore: true, snapIgnore: true }).addTo(this.layer);
      this.lanes.set(lane.id, line);
    }
    this.paintSwept();
    this.summary(doc);
    const b = this.layer.getLayers().length ? L.featureGroup(this.layer.getLayers()).getBounds() : null;
    if (b && b.isValid() && !this.fitted) { this.map.fitBounds(b, { padding: [30, 30] }); this.fitted = true; }
  }

  setLkp(lkp) {
    if (this.lkpMarker) this.lkpMarker.remove();
    this.lkpMarker = lkp ? L.marker(lkp, {
      icon: L.divIcon({ className: 'lkp-icon', html: '✕', iconSize: [22, 22], iconAnchor: [11, 11] }),
      pmIgnore: true, snapIgnore: true,
    }).bindTooltip('last known point').addTo(this.map) : null;
  }

  setSwept(lanes) {
    this.swept = new Set(lanes);
    this.paintSwept();
  }

  paintSwept() {
    for (const [id, line] of this.lanes) {
      const done = this.swept.has(id);
      line.setStyle({ opacity: done ? 0.25 : 0.9, weight: done ? 2 : 3 });
    }
  }

  summary(doc) {
    const st = doc.stats, cam = doc.camera;
    const rows = doc.segments.map((s) => `<tr><td style="color:${colour(s.index)}">■ ${s.index + 1}</td><td>${s.sorties}</td>
      <td>${(s.stats.length_m / 1000).toFixed(2)}</td><td>${mmss(s.stats.est_time_s)}</td><td>${(s.stats.area_m2 / 1e6).toFixed(3)}</td><td>${s.stats.pod.toFixed(2)}</td></tr>`).join('');
    const exp = ['plan', 'qgc', 'kml', 'geojson'].map((f) => `<a href="api/plans/${doc.id}/export?format=${f}" download>${f === 'plan' ? 'plan JSON' : f === 'qgc' ? 'QGC .plan (zip)' : f.toUpperCase()}</a>`).join(' · ');
    this.els.summary.innerHTML = `<p><strong>Plan ${doc.id}</strong> ${esc(doc.name)}: ${(st.searchable_m2 / 1e6).toFixed(3)} km² searchable,
      ${cam.name} at ${cam.alt_agl_m.toFixed(0)} m, lanes ${cam.lane_spacing_m.toFixed(0)} m apart, ${cam.px_on_person.toFixed(1)} px on a person;
      coverage <span id="coverage">${st.coverage_pct.toFixed(1)}</span> %, ${st.sorties} sortie(s), longest segment ${mmss(st.max_segment_time_s)}, POD ${st.pod.toFixed(2)}</p>
      <table id="segments"><thead><tr><th>seg</th><th>sorties</th><th>km</th><th>time</th><th>km²</th><th>POD</th></tr></thead><tbody>${rows}</tbody></table>
      <p>Export: ${exp}</p>`;
  }
}
