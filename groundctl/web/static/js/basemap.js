// Backgrounds that need no internet: a graticule on a blank map by default, an XYZ URL or the
// server's local MBTiles / PMTiles when configured, and the DEM's hillshade.
const STEPS = [30, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001];

export class Graticule extends L.LayerGroup {
  onAdd(map) {
    this._map = map;
    map.on('moveend', this.redraw, this);
    this.redraw();
  }

  onRemove(map) {
    map.off('moveend', this.redraw, this);
    this.clearLayers();
  }

  redraw() {
    const map = this._map;
    this.clearLayers();
    const b = map.getBounds();
    const span = Math.max(b.getNorth() - b.getSouth(), (b.getEast() - b.getWest()) / 2);
    const step = STEPS.find((s) => span / s >= 4) || STEPS[STEPS.length - 1];
    const digits = Math.max(0, Math.ceil(-Math.log10(step)));
    const style = { color: '#8a93a0', weight: 0.6, opacity: 0.7, interactive: false, pmIgnore: true, snapIgnore: true };
    const s = Math.max(-85, b.getSouth()), n = Math.min(85, b.getNorth());
    for (let lat = Math.ceil(s / step) * step; lat <= n; lat += step) {
      this.addLayer(L.polyline([[lat, b.getWest()], [lat, b.getEast()]], style));
      this.addLayer(this._label([lat, b.getWest()], `${lat.toFixed(digits)}°`));
    }
    for (let lon = Math.ceil(b.getWest() / step) * step; lon <= b.getEast(); lon += step) {
      this.addLayer(L.polyline([[s, lon], [n, lon]], style));
      this.addLayer(this._label([b.getSouth(), lon], `${lon.toFixed(digits)}°`));
    }
  }

  _label(latlng, text) {
    return L.marker(latlng, {
      interactive: false,
      keyboard: false,
      pmIgnore: true,
      snapIgnore: true,
      icon: L.divIcon({ className: 'grat-label', html: text, iconSize: null, iconAnchor: [-2, 14] }),
    });
  }
}

export function addBackground(map, cfg) {
  const layers = {};
  const bg = cfg.background || { kind: 'none' };
  if (bg.kind === 'xyz' || bg.kind === 'local') {
    layers.Tiles = L.tileLayer(bg.url, { maxZoom: 22, maxNativeZoom: 19, attribution: bg.attribution || '' }).addTo(map);
  }
  layers.Graticule = new Graticule().addTo(map);
  if (cfg.hillshade) {
    layers.Hillshade = L.imageOverlay(cfg.hillshade.url, cfg.hillshade.bounds, { opacity: 0.8, interactive: false }).addTo(map);
  }
  return layers;
}
