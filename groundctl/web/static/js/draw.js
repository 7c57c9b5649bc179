// The search area on the map: outer polygons, no-fly holes, the last known point and launch
// points, drawn and edited with Leaflet-Geoman or imported from a file.
import { api, showError } from './api.js';

const STYLES = {
  area: { color: '#1f4e8c', weight: 2, fillOpacity: 0.08 },
  nofly: { color: '#c0262d', weight: 2, fillColor: '#c0262d', fillOpacity: 0.35, dashArray: '4 3' },
};

export class AreaEditor {
  constructor(map, els) {
    this.map = map;
    this.els = els;
    this.group = L.featureGroup().addTo(map);
    this.role = 'area';
    map.pm.addControls({
      position: 'topleft',
      drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawRectangle: false,
      drawPolygon: false, drawCircle: false, drawText: false, cutPolygon: false, rotateMode: false,
      dragMode: false, editMode: true, removalMode: true,
    });
    map.pm.setGlobalOptions({ snappable: true, snapDistance: 12, allowSelfIntersection: false });
    map.on('pm:create', (e) => this._created(e.layer));
    map.on('pm:remove', (e) => { this.group.removeLayer(e.layer); this.changed(); });
    map.on('pm:drawend', () => this._tools());
    els.area.onclick = () => this.draw('area', 'Polygon');
    els.hole.onclick = () => this.draw('nofly', 'Polygon');
    els.lkp.onclick = () => this.draw('lkp', 'Marker');
    els.launch.onclick = () => this.draw('launch', 'Marker');
    els.clear.onclick = () => { this.group.clearLayers(); this.changed(); };
    els.importInput.onchange = () => this.importFile(els.importInput.files[0]);
  }

  draw(role, shape) {
    this.role = role;
    const opts = shape === 'Marker'
      ? { markerStyle: { icon: this._pointIcon(role) } }
      : { pathOptions: STYLES[role], templineStyle: STYLES[role], hintlineStyle: { ...STYLES[role], dashArray: '5 5' } };
    this.map.pm.enableDraw(shape, opts);
    this._tools(role);
  }

  _tools(active) {
    for (const [k, el] of Object.entries({ area: this.els.area, nofly: this.els.hole, lkp: this.els.lkp, launch: this.els.launch })) {
      el.classList.toggle('on', k === active && this.map.pm.globalDrawModeEnabled());
    }
  }

  _pointIcon(role) {
    return role === 'lkp'
      ? L.divIcon({ className: 'lkp-icon', html: '✕', iconSize: [22, 22], iconAnchor: [11, 11] })
      : L.divIcon({ className: 'team-icon', html: 'L', iconSize: [22, 22], iconAnchor: [11, 11] });
  }

  _created(layer) {
    layer.gcRole = this.role;
    if (layer.setStyle && STYLES[this.role]) layer.setStyle(STYLES[this.role]);
    if (this.role === 'lkp') {
      // One last known point: a new one replaces the old.
      this.group.eachLayer((l) => { if (l.gcRole === 'lkp') this.group.removeLayer(l); });
      layer.bindTooltip('last known point');
    } else if (this.role === 'launch') {
      layer.bindTooltip('launch point');
    }
    this.group.addLayer(layer);
    layer.on('pm:edit', () => this.changed());
    this.changed();
  }

  add(feature) {
    const role = (feature.properties && feature.properties.role) === 'nofly' ? 'nofly' : 'area';
    const layer = L.geoJSON(feature).getLayers()[0];
    this.role = role;
    this._created(layer);
  }

  async importFile(file) {
    if (!file) return;
    try {
      const doc = await api(`api/areas/import?filename=${encodeURIComponent(file.name)}`, { method: 'POST', body: file });
      for (const f of doc.features) this.add(f);
      this.map.fitBounds(this.group.getBounds(), { padding: [30, 30] });
      showError(this.els.error, null);
    } catch (err) {
      showError(this.els.error, err);
    }
    this.els.importInput.value = '';
  }

  layers(role) {
    return this.group.getLayers().filter((l) => l.gcRole === role);
  }

  geojson() {
    const features = [];
    for (const role of ['area', 'nofly']) {
      for (const l of this.layers(role)) {
        const f = l.toGeoJSON();
        f.properties = { role };
        features.push(f);
      }
    }
    return { type: 'FeatureCollection', features };
  }

  launches() {
    return this.layers('launch').map((l) => [l.getLatLng().lat, l.getLatLng().lng]);
  }

  lkp() {
    const l = this.layers('lkp')[0];
    return l ? [l.getLatLng().lat, l.getLatLng().lng] : null;
  }

  changed() {
    const n = this.layers('area').length, h = this.layers('nofly').length;
    this.els.info.textContent = n
      ? `${n} area polygon(s), ${h} no-fly zone(s), ${this.layers('launch').length} launch point(s)${this.lkp() ? ', last known point' : ''}`
      : 'Draw an area, or import GeoJSON / KML / .plan.';
    if (this.onchange) this.onchange();
  }
}
