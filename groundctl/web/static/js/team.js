// A ground team's phone: share the browser's location with the coordinator, see the way to
// each confirmed find.
import { api, esc } from './api.js';

const $ = (id) => document.getElementById(id);
const nameEl = $('team-name');
nameEl.value = localStorage.getItem('gc-team') || new URLSearchParams(location.search).get('team') || '';
let watch = null;

function show(t) {
  const rows = (t.to || []).map((l) => `<tr><td>${esc(l.target_class.split('_')[0])} ${esc(l.hit_id.slice(0, 8))}</td>
    <td>${l.distance_m >= 1000 ? (l.distance_m / 1000).toFixed(2) + ' km' : Math.round(l.distance_m) + ' m'}</td><td>${Math.round(l.bearing_deg)}°</td></tr>`);
  document.querySelector('#team-legs tbody').innerHTML = rows.join('') || '<tr><td colspan="3" class="muted">none yet</td></tr>';
}

async function send(pos) {
  const team = nameEl.value.trim();
  try {
    const t = await api(`api/teams/${encodeURIComponent(team)}/position`, {
      method: 'POST',
      json: { lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy_m: pos.coords.accuracy },
    });
    $('team-status').textContent = `sent ${new Date().toISOString().slice(11, 19)} UTC: ${pos.coords.latitude.toFixed(5)}, ${pos.coords.longitude.toFixed(5)}`;
    $('team-error').hidden = true;
    show(t);
  } catch (err) {
    $('team-error').textContent = err.message;
    $('team-error').hidden = false;
  }
}

$('team-form').onsubmit = (e) => {
  e.preventDefault();
  localStorage.setItem('gc-team', nameEl.value.trim());
  if (watch !== null) navigator.geolocation.clearWatch(watch);
  watch = navigator.geolocation.watchPosition(send, (err) => {
    $('team-error').textContent = `location: ${err.message}`;
    $('team-error').hidden = false;
  }, { enableHighAccuracy: true, maximumAge: 5000 });
};
