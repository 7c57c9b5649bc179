// The live thermal view of one drone: JPEG frames over a websocket, with the detections.
export class ThermalView {
  constructor(els) {
    this.els = els;
    this.ws = null;
    this.frames = 0;
    els.close.onclick = () => this.close();
    els.select.onchange = () => this.open(els.select.value);
  }

  names(list) {
    const cur = this.els.select.value;
    this.els.select.innerHTML = list.map((n) => `<option${n === cur ? ' selected' : ''}>${n}</option>`).join('');
  }

  open(name) {
    this.close();
    if (!name) return;
    this.els.panel.hidden = false;
    this.els.select.value = name;
    this.frames = 0;
    this.els.count.textContent = '0';
    this.els.info.textContent = `connecting to ${name}'s camera…`;
    const url = new URL(`ws/thermal/${encodeURIComponent(name)}`, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url);
    ws.binaryType = 'blob';
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') {
        const m = JSON.parse(ev.data);
        if (m.type === 'frame') {
          const d = m.detections.map((x) => `${x.class.split('_')[0]} ${Math.round(x.confidence * 100)}%`).join(', ');
          this.els.info.textContent = `frame ${m.frame_id}: ${m.detections.length} detection(s)${d ? ': ' + d : ''}`;
        } else if (m.type === 'waiting') {
          this.els.info.textContent = 'waiting for frames…';
        } else if (m.type === 'error') {
          this.els.info.textContent = m.error;
        }
        return;
      }
      const old = this.els.img.src;
      this.els.img.src = URL.createObjectURL(ev.data);
      if (old.startsWith('blob:')) URL.revokeObjectURL(old);
      this.frames += 1;
      this.els.count.textContent = String(this.frames);
    };
  }

  close() {
    if (this.ws) { this.ws.onmessage = null; this.ws.close(); this.ws = null; }
    this.els.panel.hidden = true;
  }
}
