/* nexus-ml live health dashboard: one card per module (demand, 80 % band, capacity at target
 * utilisation, replicas, anomaly score, decision markers), live through server-sent events.
 * The state is embedded in the page (<script id="state">); a static snapshot is the same page
 * with data-live="0" and the vendored scripts inlined, openable without a server. */
(function () {
  "use strict";
  const I18N = {
    pt: {
      title: "Nexus — saúde dos módulos", filter: "Filtrar módulos…", live: "ao vivo",
      offline: "reconectando…", snapshot: "instantâneo", logout: "Sair",
      incidents: "Incidentes abertos", alerts: "Alertas recentes", decisions: "Decisões recentes",
      none: "nenhum", demand: "Demanda real (req/min)", forecast: "Previsão",
      band: "Faixa de 80 %", capacity: "Capacidade na utilização-alvo", replicas: "Réplicas",
      anomaly: "Escore de anomalia", confidence: "Confiança", reasons: "Motivos",
      coverage: "Cobertura 80 %", mape: "MAPE 24 h", modules: "módulos", actions: "aplicadas / decididas 24 h",
      attention: "atenção", policy: "política", repeats: "repetida ×", until: "até", tz: "horário de Brasília",
      sent: "enviado", grouped: "agrupado", noBand: "sem previsão", now: "agora",
      action: { scale_up: "Aumentar réplicas", scale_down: "Reduzir réplicas", restart: "Reiniciar",
        rollback: "Rollback", alert: "Alertar", hold: "Manter" },
      status: { decided: "decidida", applied: "aplicada", skipped: "não aplicada", failed: "falhou" },
    },
    en: {
      title: "Nexus — module health", filter: "Filter modules…", live: "live",
      offline: "reconnecting…", snapshot: "snapshot", logout: "Sign out",
      incidents: "Open incidents", alerts: "Recent alerts", decisions: "Recent decisions",
      none: "none", demand: "Actual demand (req/min)", forecast: "Forecast",
      band: "80 % band", capacity: "Capacity at target utilisation", replicas: "Replicas",
      anomaly: "Anomaly score", confidence: "Confidence", reasons: "Reasons",
      coverage: "80 % coverage", mape: "MAPE 24 h", modules: "modules", actions: "applied / decided 24 h",
      attention: "attention", policy: "policy", repeats: "repeated ×", until: "until", tz: "Brasília time",
      sent: "sent", grouped: "grouped", noBand: "no forecast", now: "now",
      action: { scale_up: "Scale up", scale_down: "Scale down", restart: "Restart",
        rollback: "Roll back", alert: "Alert", hold: "Hold" },
      status: { decided: "decided", applied: "applied", skipped: "skipped", failed: "failed" },
    },
  };
  const GLYPH = { scale_up: "▲", scale_down: "▼", restart: "↻", rollback: "↶", alert: "!" };
  const MARK_COLOR = { scale_up: "#3ecf8e", scale_down: "#7cc4ff", restart: "#f08c3a",
    rollback: "#e0609f", alert: "#f5b94a" };
  const TZ = "America/Sao_Paulo";
  const MAX_POINTS = 2880;
  const body = document.body;
  const params = new URLSearchParams(location.search);
  // ?lang= wins (a snapshot file has no server to render it), then the page's own language
  const asked = params.get("lang") || body.dataset.lang;
  const lang = asked === "en" ? "en" : "pt";
  const T = I18N[lang];
  document.documentElement.lang = lang;
  // the state comes inside the page (one request, no fetch before the first render)
  const embedded = document.getElementById("state");
  const live = body.dataset.live === "1";
  const focus = { module: params.get("module"), at: parseAt(params.get("at")) };
  const num = new Intl.NumberFormat(lang === "pt" ? "pt-BR" : "en-US", { maximumFractionDigits: 1 });
  const pct = new Intl.NumberFormat(lang === "pt" ? "pt-BR" : "en-US", { style: "percent", maximumFractionDigits: 0 });
  const timeFmt = new Intl.DateTimeFormat(lang === "pt" ? "pt-BR" : "en-GB",
    { timeZone: TZ, day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" });
  const mods = new Map();
  const store = { alerts: [], incidents: [], hours: 24, now: null, nowAt: 0 };
  // the service's time (a replay or a snapshot lives on its own clock), moved on by our own
  function serviceNow() {
    return store.now === null ? Date.now() / 1000 : store.now + (live ? (performance.now() - store.nowAt) / 1000 : 0);
  }
  const api = { ready: false, firstRenderMs: null, seen: {}, errors: [], marks: {} };
  window.__nexusDash = api;

  function parseAt(v) {
    if (!v) return null;
    const n = Number(v);
    if (Number.isFinite(n)) return n > 1e12 ? n / 1000 : n;
    const d = Date.parse(v);
    return Number.isFinite(d) ? d / 1000 : null;
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const fmtTime = (t) => timeFmt.format(new Date(t * 1000));
  const fmtNum = (v) => (v === null || v === undefined ? "–" : num.format(v));
  const $ = (id) => document.getElementById(id);

  /* ---------- data ---------- */
  function load(m) {
    const s = m.series;
    let mod = mods.get(m.module);
    if (!mod) {
      mod = { name: m.module, markers: new Map(), future: { t: [], mean: [], lo: [], hi: [] } };
      mods.set(m.module, mod);
    }
    const held = mod.t ? { t: mod.t, actual: mod.actual, mean: mod.mean, lo: mod.lo, hi: mod.hi,
      replicas: mod.replicas, capacity: mod.capacity, anomaly: mod.anomaly } : null;
    for (const k of ["actual", "mean", "lo", "hi", "replicas", "anomaly"]) mod[k] = s[k];
    // packed on the wire: times as a start and steps, capacity = replicas × per replica
    const t = new Array(s.actual.length);
    for (let i = 0, at = s.t0; i < t.length; i++) { if (i) at += s.dt[i - 1]; t[i] = at; }
    mod.t = t;
    mod.perReplica = m.per_replica;
    mod.capacity = s.replicas.map((r) => (r === null || m.per_replica === null ? null : Math.round(r * m.per_replica * 10) / 10));
    if (held) {  // minutes that arrived by event after this state was made are kept
      const last = t.length ? t[t.length - 1] : -Infinity;
      for (let i = 0; i < held.t.length; i++) {
        if (held.t[i] <= last) continue;
        for (const k of Object.keys(held)) mod[k].push(held[k][i]);
      }
    }
    mod.future = m.future;
    // a marker that arrived by event after this state was made (a higher id) is kept
    const newest = m.markers.reduce((a, mk) => Math.max(a, mk.id), 0);
    const incoming = new Map(m.markers.map((mk) => [mk.id, mk]));
    for (const [id, old] of [...mod.markers]) {
      if (id > newest) continue;
      if (incoming.has(id)) incoming.get(id).node = old.node;  // the same element, updated
      else if (old.node) old.node.remove();
      mod.markers.delete(id);
    }
    for (const mk of m.markers) mod.markers.set(mk.id, mk);
    return mod;
  }
  function addPoint(p) {
    const mod = mods.get(p.module) || addModule(load({ module: p.module, per_replica: null,
      series: { t0: null, dt: [], actual: [], mean: [], lo: [], hi: [], replicas: [], anomaly: [] },
      future: { t: [], mean: [], lo: [], hi: [] }, markers: [] }));
    const n = mod.t.length;
    if (n && p.t <= mod.t[n - 1]) return;
    for (const k of ["t", "actual", "mean", "lo", "hi", "replicas", "capacity", "anomaly"]) {
      mod[k].push(p[k]);
      if (mod[k].length > MAX_POINTS) mod[k].shift();
    }
    dirty(mod);
  }
  function addModule(mod) { buildCard(mod); drawSoon(mod, false); renderStats(mod); return mod; }
  function quality(mod) {
    const last = mod.t.length ? mod.t[mod.t.length - 1] : 0;
    let n = 0, inside = 0, err = 0, errN = 0;
    for (let i = 0; i < mod.t.length; i++) {
      if (mod.t[i] <= last - 86400) continue;
      const a = mod.actual[i], lo = mod.lo[i], hi = mod.hi[i], m = mod.mean[i];
      if (a === null || lo === null || hi === null || m === null) continue;
      n++; if (a >= lo && a <= hi) inside++;
      if (a) { err += Math.abs(a - m) / Math.abs(a); errN++; }
    }
    return { n, coverage: n ? inside / n : null, mape: errN ? (100 * err) / errN : null };
  }
  function demandData(mod) {
    const last = mod.t.length ? mod.t[mod.t.length - 1] : -Infinity;
    const fi = mod.future.t.map((t, i) => [t, i]).filter(([t]) => t > last);
    const cap = lastValue(mod.capacity);
    const pad = (arr, f) => arr.concat(fi.map(f));
    return [
      pad(mod.t, ([t]) => t),
      pad(mod.actual, () => null),
      pad(mod.mean, ([, i]) => mod.future.mean[i]),
      pad(mod.lo, ([, i]) => mod.future.lo[i]),
      pad(mod.hi, ([, i]) => mod.future.hi[i]),
      pad(mod.capacity, () => cap),
    ];
  }
  const lastValue = (arr) => { for (let i = arr.length - 1; i >= 0; i--) if (arr[i] !== null) return arr[i]; return null; };

  /* ---------- cards ---------- */
  function buildCard(mod) {
    const card = el("article", "card");
    card.id = "m-" + mod.name;
    card.dataset.module = mod.name;
    const head = el("header");
    head.append(el("h3", "", mod.name.replace(/^nexus-/, "")), el("span", "name", mod.name));
    mod.stats = el("div", "stats");
    head.append(mod.stats);
    mod.chartEl = el("div", "chart demand");
    mod.smallEl = el("div", "chart small");
    card.append(head, mod.chartEl, mod.smallEl);
    mod.card = card;
    $("modules").append(card);
    return mod;
  }
  // Charts are drawn screen first: the cards in view (and a deep-linked one) at once, the
  // rest a few per frame, so the first screen does not wait for thirty modules' canvases.
  const pending = [];
  function drawSoon(mod, now) {
    if (mod.u1) return;
    if (now) { createCharts(mod); return; }
    pending.push(mod);
    if (pending.length === 1 && api.ready) nextChunk();
  }
  function nextChunk() { requestAnimationFrame(() => setTimeout(drainCharts, 0)); }
  function drainCharts() {
    const until = performance.now() + 40;
    while (pending.length && performance.now() < until) createCharts(pending.shift());
    if (pending.length) nextChunk();
    else if (!api.complete) requestAnimationFrame(() => { api.completeMs = performance.now(); api.complete = true; });
  }
  // every card of the grid is as wide as the first: measure once (a layout per card would
  // force 30 synchronous layouts while the charts are built)
  let cardWidth = 0;
  function chartWidth(mod) {
    if (!cardWidth) cardWidth = mod.card.clientWidth;
    return Math.max(320, cardWidth - 22);
  }
  // São Paulo has kept UTC-3 all year since 2019: a fixed shift is exact and ~50× cheaper than
  // uPlot.tzDate's Intl round trip, which uPlot calls for every tick of every chart
  const TZ_OFFSET_MIN = 180;
  function tzDate(ts) {
    const d = new Date(ts * 1e3);
    return new Date(d.getTime() + (d.getTimezoneOffset() - TZ_OFFSET_MIN) * 60000);
  }
  const two = (n) => String(n).padStart(2, "0");
  function timeTicks(u, splits) {
    return splits.map((ts, i) => {
      const d = tzDate(ts), hm = two(d.getHours()) + ":" + two(d.getMinutes());
      const day = i === 0 || (d.getHours() === 0 && d.getMinutes() === 0);
      return day ? hm + "\n" + two(d.getDate()) + "/" + two(d.getMonth() + 1) : hm;
    });
  }
  function createCharts(mod) {
    const sync = uPlot.sync("nx-" + mod.name);
    const axisStyle = { stroke: "#8797a8", grid: { stroke: "#232d38", width: 1 }, ticks: { stroke: "#2a3542" } };
    const cursor = { sync: { key: sync.key }, drag: { x: true, y: false } };
    mod.u1 = new uPlot({
      width: chartWidth(mod), height: 170, tzDate, cursor, legend: { show: false },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.08)] } },
      axes: [Object.assign({}, axisStyle, { values: timeTicks, space: 60 }), Object.assign({}, axisStyle, { size: 48, values: (u, v) => v.map((x) => num.format(x)) })],
      series: [
        {},
        { label: T.demand, stroke: "#e6edf3", width: 1.4, points: { show: false } },
        { label: T.forecast, stroke: "#4fa3ff", width: 1.2, points: { show: false } },
        { label: "lo", stroke: "rgba(79,163,255,0.35)", width: 0.5, points: { show: false } },
        { label: "hi", stroke: "rgba(79,163,255,0.35)", width: 0.5, points: { show: false } },
        { label: T.capacity, stroke: "#f5b94a", width: 1.2, points: { show: false },
          paths: uPlot.paths.stepped({ align: 1 }) },
      ],
      bands: [{ series: [4, 3], fill: "rgba(79,163,255,0.16)" }],
      hooks: { draw: [(u) => drawOverlay(mod, u)] },
    }, demandData(mod), mod.chartEl);
    mod.u2 = new uPlot({
      width: chartWidth(mod), height: 70, tzDate, cursor, legend: { show: false },
      scales: { x: { time: true }, r: { range: (u, min, max) => [0, Math.max(2, (max || 1) + 1)] },
        a: { range: (u, min, max) => [0, Math.max(1, max || 1)] } },
      axes: [Object.assign({}, axisStyle, { show: false }),
        Object.assign({}, axisStyle, { scale: "r", size: 48, space: 14, incrs: [1, 2, 5, 10, 20, 50], values: (u, v) => v.map((x) => String(x)) }),
        Object.assign({}, axisStyle, { scale: "a", side: 1, size: 34, space: 14, grid: { show: false } })],
      series: [
        {},
        { label: T.replicas, scale: "r", stroke: "#b48cff", width: 1.5, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } },
        { label: T.anomaly, scale: "a", stroke: "#ff5d5d", width: 1, fill: "rgba(255,93,93,0.18)", points: { show: false } },
      ],
    }, [mod.t, mod.replicas, mod.anomaly], mod.smallEl);
    mod.layer = mod.u1.over;
    applyRange(mod);
    renderMarkers(mod);
    renderStats(mod);
  }
  function inView(card) {
    const r = card.getBoundingClientRect();
    return r.bottom > 0 && r.top < window.innerHeight;
  }
  function applyRange(mod) {
    const xs = mod.u1.data[0];
    if (!xs.length) return;
    let max = xs[xs.length - 1];
    let min = Math.max(xs[0], (mod.t.length ? mod.t[mod.t.length - 1] : max) - store.hours * 3600);
    if (focus.at && focus.module === mod.name) { min = focus.at - 3 * 3600; max = Math.max(focus.at + 3600, min + 3600); }
    mod.u1.setScale("x", { min, max });
    mod.u2.setScale("x", { min, max });
  }
  function drawOverlay(mod, u) {
    const ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
    ctx.save();
    ctx.lineWidth = 1;
    for (const mk of mod.markers.values()) {
      const x = Math.round(u.valToPos(mk.t, "x", true));
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      ctx.strokeStyle = (MARK_COLOR[mk.action] || "#8797a8") + "66";
      ctx.setLineDash(mk.status === "skipped" ? [2, 3] : []);
      ctx.beginPath(); ctx.moveTo(x + 0.5, top); ctx.lineTo(x + 0.5, top + h); ctx.stroke();
    }
    if (focus.at && focus.module === mod.name) {
      const x = Math.round(u.valToPos(focus.at, "x", true));
      ctx.strokeStyle = "#ffffff"; ctx.setLineDash([4, 4]);
      ctx.beginPath(); ctx.moveTo(x + 0.5, top); ctx.lineTo(x + 0.5, top + h); ctx.stroke();
    }
    ctx.restore();
    placeMarkers(mod);
  }
  function renderMarkers(mod) {
    if (!mod.u1) return;  // drawn with its chart
    const layer = mod.layer;
    for (const mk of mod.markers.values()) {
      let node = mk.node;
      if (!node) {
        node = el("div", "mk");
        node.tabIndex = 0;
        node.dataset.id = mk.id;
        node.addEventListener("mouseenter", () => showTip(mod, mk.id, node));
        node.addEventListener("focus", () => showTip(mod, mk.id, node));
        node.addEventListener("mouseleave", hideTip);
        node.addEventListener("blur", hideTip);
        layer.append(node);
        mk.node = node;
      }
      node.className = "mk " + mk.action + " " + mk.status;
      node.dataset.glyph = GLYPH[mk.action] || "•";
      node.setAttribute("aria-label", (T.action[mk.action] || mk.action) + " " + fmtTime(mk.t));
    }
    placeMarkers(mod);
  }
  function placeMarkers(mod) {
    if (!mod.u1) return;
    const w = mod.u1.bbox.width / uPlot.pxRatio;  // no DOM read: no forced layout
    const rows = [-Infinity, -Infinity, -Infinity];  // right edge of the last marker per row
    const placed = [...mod.markers.values()].filter((mk) => mk.node)
      .map((mk) => [mod.u1.valToPos(mk.t, "x"), mk]).sort((a, b) => a[0] - b[0]);
    for (const [x, mk] of placed) {
      const visible = Number.isFinite(x) && x >= 0 && x <= w;
      mk.node.style.display = visible ? "" : "none";
      if (!visible) continue;
      // markers closer than their width stack in up to three rows, so each stays hoverable
      let row = rows.findIndex((edge) => edge <= x - 15);
      if (row < 0) row = rows.indexOf(Math.min(...rows));
      rows[row] = x;
      mk.node.style.left = x + "px";
      mk.node.style.top = row * 15 + "px";
    }
  }
  function renderStats(mod) {
    const q = quality(mod);
    const rep = lastValue(mod.replicas), cap = lastValue(mod.capacity), act = lastValue(mod.actual);
    const parts = [
      [T.demand.split(" (")[0], fmtNum(act)],
      [T.replicas, rep === null ? "–" : String(rep)],
      [T.capacity.split(" ")[0], fmtNum(cap)],
      [T.coverage, q.coverage === null ? T.noBand : pct.format(q.coverage), q.coverage !== null && q.coverage < 0.6 ? "bad" : q.coverage !== null && q.coverage < 0.7 ? "warn" : ""],
      [T.mape, q.mape === null ? "–" : num.format(q.mape) + " %"],
    ];
    mod.stats.replaceChildren(...parts.map(([k, v, c]) => {
      const s = el("span", c || "", k + " ");
      s.append(el("b", "", v));
      return s;
    }));
    const hourAgo = (mod.t.length ? mod.t[mod.t.length - 1] : serviceNow()) - 3600;
    const recent = [...mod.markers.values()].filter((m) => m.t >= hourAgo);
    const incident = store.incidents.some((i) => i.module === mod.name);
    mod.card.classList.toggle("att-bad", incident || recent.some((m) => m.status === "failed"));
    mod.card.classList.toggle("att-warn", !mod.card.classList.contains("att-bad") &&
      ((q.coverage !== null && q.coverage < 0.6) || recent.some((m) => ["restart", "rollback", "alert"].includes(m.action))));
    mod.quality = q;
  }

  /* ---------- tooltip ---------- */
  function showTip(mod, id, node) {
    const mk = mod.markers.get(id);
    if (!mk) return;
    const tip = $("tooltip");
    const h = el("h4", "", (GLYPH[mk.action] || "") + " " + (T.action[mk.action] || mk.action) + " — " + mod.name.replace(/^nexus-/, ""));
    const meta = el("div", "meta", fmtTime(mk.t) + " · " + T.confidence + " " + pct.format(mk.confidence) +
      (mk.target || mk.current ? " · " + T.replicas + " " + mk.current + " → " + mk.target : "") +
      (mk.policy ? " · " + T.policy + " " + mk.policy : ""));
    const st = el("div");
    st.append(el("span", "tag " + mk.status, T.status[mk.status] || mk.status));
    if (mk.status_reason) st.append(document.createTextNode(" " + mk.status_reason));
    if (mk.repeats > 1) st.append(document.createTextNode(" · " + T.repeats + mk.repeats + (mk.last ? " (" + T.until + " " + fmtTime(mk.last) + ")" : "")));
    const list = el("ul");
    for (const r of mk.reasons) list.append(el("li", "", r));
    tip.replaceChildren(h, meta, st, el("div", "meta", T.reasons + ":"), list);
    tip.hidden = false;
    const r = node.getBoundingClientRect();
    const left = Math.min(window.innerWidth - tip.offsetWidth - 8, r.right + 8);
    tip.style.left = Math.max(8, left) + "px";
    tip.style.top = Math.min(window.innerHeight - tip.offsetHeight - 8, r.bottom + 6) + "px";
  }
  function hideTip() { $("tooltip").hidden = true; }

  /* ---------- side panels and summary ---------- */
  function li(when, text, module) {
    const item = el("li");
    item.append(el("span", "when", when));
    if (module) {
      const a = el("a", "", module.replace(/^nexus-/, ""));
      a.href = "#m-" + module;
      item.append(a, document.createTextNode(" "));
    }
    item.append(document.createTextNode(text));
    return item;
  }
  function renderSide() {
    const inc = store.incidents.map((i) => li(fmtTime(i.started_at), i.error_type + " (" + i.id + ")", i.module));
    $("incidents").replaceChildren(...(inc.length ? inc : [el("li", "empty", T.none)]));
    const al = store.alerts.slice(-30).reverse().map((a) => li(fmtTime(a.t), ((a.titles && a.titles[lang]) || a.problem) + (a.sent ? "" : " · " + T.grouped) + (a.detail ? " — " + a.detail : ""), a.module));
    $("alerts").replaceChildren(...(al.length ? al : [el("li", "empty", T.none)]));
    const all = [];
    for (const mod of mods.values()) for (const mk of mod.markers.values()) all.push([mod.name, mk]);
    all.sort((a, b) => b[1].t - a[1].t);
    const feed = all.slice(0, 40).map(([name, mk]) => {
      const item = li(fmtTime(mk.t), (T.action[mk.action] || mk.action) + " " + pct.format(mk.confidence) + " ", name);
      item.append(el("span", "tag " + mk.status, T.status[mk.status] || mk.status));
      return item;
    });
    $("feed").replaceChildren(...(feed.length ? feed : [el("li", "empty", T.none)]));
    renderSummary(all);
  }
  function renderSummary(all) {
    const dayAgo = serviceNow() - 86400;
    const applied = all.filter(([, m]) => m.t >= dayAgo && m.status === "applied").length;
    const decided = all.filter(([, m]) => m.t >= dayAgo).length;
    const attention = [...mods.values()].filter((m) => m.card.classList.contains("att-bad") || m.card.classList.contains("att-warn")).length;
    const covs = [...mods.values()].map((m) => m.quality && m.quality.coverage).filter((c) => c !== null && c !== undefined);
    const chip = (label, value, cls) => { const c = el("span", "chip " + (cls || ""), label + " "); c.append(el("b", "", value)); return c; };
    $("summary").replaceChildren(
      chip(T.modules, String(mods.size)),
      chip(T.attention, String(attention), attention ? "warn" : "ok"),
      chip(T.incidents, String(store.incidents.length), store.incidents.length ? "bad" : "ok"),
      chip(T.actions, applied + " / " + decided),
      chip(T.coverage, covs.length ? pct.format(covs.reduce((a, b) => a + b, 0) / covs.length) : "–"));
  }

  /* ---------- live updates ---------- */
  const dirtySet = new Set();
  let frame = 0;
  function dirty(mod) {
    dirtySet.add(mod);
    if (!frame) frame = requestAnimationFrame(flush);
  }
  function flush() {
    frame = 0;
    for (const mod of dirtySet) {
      if (!mod.u1) continue;
      mod.u1.setData(demandData(mod), false);
      mod.u2.setData([mod.t, mod.replicas, mod.anomaly], false);
      applyRange(mod);
      renderMarkers(mod);
      renderStats(mod);
    }
    dirtySet.clear();
    renderSide();
  }
  function upsertMarker(mk) {
    let mod = mods.get(mk.module);
    if (!mod) { addPoint({ module: mk.module, t: mk.t, actual: null, mean: null, lo: null, hi: null, replicas: null, capacity: null, anomaly: null }); mod = mods.get(mk.module); }
    const old = mod.markers.get(mk.id);
    if (old) { mk.node = old.node; }
    mod.markers.set(mk.id, mk);
    renderMarkers(mod);
    renderStats(mod);
    dirty(mod);
    // when each version of a marker (new, repeated, outcome joined) was first on screen
    const key = mk.id + ":" + mk.repeats + ":" + mk.status;
    requestAnimationFrame(() => { if (!(key in api.seen)) api.seen[key] = Date.now(); });
  }
  function connect(since) {
    // from the id the page's state was made at: nothing between the two is lost; later
    // reconnects (every response is short-lived) send Last-Event-ID by themselves
    const es = new EventSource("/dashboard/events?since=" + encodeURIComponent(since || ""));
    const state = $("live");
    es.onopen = () => {
      state.className = "live on"; state.textContent = T.live; api.connected = true; api.synced = true;
    };
    // what was missed is no longer kept on the server (or it restarted): reload the state
    es.addEventListener("reset", () => {
      fetchState().then((data) => { if (data) render(data); }).catch((e) => api.errors.push(String(e)));
    });
    es.onerror = () => { state.className = "live off"; state.textContent = T.offline; api.connected = false; };
    es.addEventListener("point", (e) => addPoint(JSON.parse(e.data)));
    es.addEventListener("forecast", (e) => {
      const f = JSON.parse(e.data), mod = mods.get(f.module);
      if (mod) { mod.future = f; dirty(mod); }
    });
    es.addEventListener("decision", (e) => upsertMarker(JSON.parse(e.data)));
    es.addEventListener("alert", (e) => {
      const a = JSON.parse(e.data);  // an event replayed after the state may already be in it
      if (!store.alerts.some((b) => b.t === a.t && b.module === a.module && b.problem === a.problem)) store.alerts.push(a);
      renderSide();
    });
    es.addEventListener("incidents", (e) => { store.incidents = JSON.parse(e.data).incidents; renderSide(); for (const m of mods.values()) renderStats(m); });
    api.source = es;
  }

  /* ---------- start ---------- */
  function chrome() {
    document.title = T.title;
    $("title").textContent = T.title;
    $("filter").placeholder = T.filter;
    $("h-incidents").textContent = T.incidents;
    $("h-alerts").textContent = T.alerts;
    $("h-decisions").textContent = T.decisions;
    const logout = $("logout");
    if (logout) logout.textContent = T.logout;
    if (!live) { const f = logout && logout.closest("form"); if (f) f.remove(); }
    for (const a of document.querySelectorAll(".langs a")) {
      a.classList.toggle("on", a.dataset.lang === lang);
      const q = new URLSearchParams(location.search); q.set("lang", a.dataset.lang); a.href = "?" + q.toString();
    }
    const range = $("range");
    for (const h of [1, 6, 24]) { const o = el("option", "", h + " h"); o.value = h; o.selected = h === store.hours; range.append(o); }
    range.addEventListener("change", () => { store.hours = Number(range.value); for (const m of mods.values()) if (m.u1) applyRange(m); });
    $("filter").addEventListener("input", (e) => {
      const q = e.target.value.trim().toLowerCase();
      for (const m of mods.values()) m.card.hidden = q !== "" && !m.name.includes(q);
    });
    const legend = $("legend");
    const item = (cls, style, text) => { const s = el("span"); const sw = el("i", "sw " + cls); if (style) sw.style.cssText = style; s.append(sw, document.createTextNode(text)); return s; };
    legend.replaceChildren(item("", "background:#e6edf3", T.demand), item("", "background:#4fa3ff", T.forecast),
      item("band", "", T.band), item("", "background:#f5b94a", T.capacity), item("", "background:#b48cff", T.replicas),
      item("", "background:#ff5d5d", T.anomaly),
      ...Object.keys(GLYPH).map((k) => { const s = el("span"); const g = el("i", "", GLYPH[k]); g.style.color = MARK_COLOR[k]; g.style.fontStyle = "normal"; s.append(g, document.createTextNode(T.action[k])); return s; }),
      el("span", "", "· " + T.tz));
  }
  function render(data) {
    store.now = data.generated_at;
    store.nowAt = performance.now();
    store.alerts = data.alerts || [];
    store.incidents = data.incidents || [];
    const names = data.modules.map((m) => m.module);
    const fresh = [];
    for (const m of data.modules) {
      const mod = load(m);
      if (mod.u1) { mod.u1.setData(demandData(mod), false); mod.u2.setData([mod.t, mod.replicas, mod.anomaly], false); applyRange(mod); renderMarkers(mod); renderStats(mod); }
      else if (!mod.card) { buildCard(mod); fresh.push(mod); }
    }
    for (const name of [...mods.keys()]) if (!names.includes(name)) { mods.get(name).card.remove(); mods.delete(name); }
    if (fresh.length) {  // at load, the modules that need attention come first
      for (const mod of fresh) renderStats(mod);
      const level = (m) => (m.card.classList.contains("att-bad") ? 0 : m.card.classList.contains("att-warn") ? 1 : 2);
      const order = fresh.map((m, i) => [level(m), i, m]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      for (const [, , mod] of order) $("modules").append(mod.card);
    }
    const target = focus.module && mods.get(focus.module);
    if (target) { target.card.classList.add("focus"); target.card.scrollIntoView({ block: "center" }); }
    const visible = fresh.filter((m) => inView(m.card));  // one layout for all cards
    for (const mod of fresh) drawSoon(mod, visible.includes(mod));
    renderSide();
  }
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { cardWidth = 0; for (const m of mods.values()) { if (!m.u1) continue; m.u1.setSize({ width: chartWidth(m), height: 170 }); m.u2.setSize({ width: chartWidth(m), height: 70 }); } }, 150);
  });
  window.addEventListener("error", (e) => api.errors.push(String(e.message)));
  async function fetchState() {
    const resp = await fetch("/dashboard/api/state?hours=24", { credentials: "same-origin" });
    if (resp.status === 401) { location.href = "/dashboard/login?next=" + encodeURIComponent(location.pathname + location.search); return null; }
    return resp.json();
  }
  async function start() {
    api.marks.start = performance.now();
    chrome();
    const data = embedded ? JSON.parse(embedded.textContent) : await fetchState();
    if (!data) return;
    api.marks.parsed = performance.now();
    render(data);
    api.marks.rendered = performance.now();
    requestAnimationFrame(() => {
      api.firstRenderMs = performance.now();
      api.ready = true;
      if (pending.length) nextChunk();
      else requestAnimationFrame(() => { api.completeMs = performance.now(); api.complete = true; });
    });
    const st = $("live");
    if (live) connect(data.event_id);
    else { st.className = "live static"; st.textContent = T.snapshot + " " + fmtTime(data.generated_at); }
  }
  api.markerCount = (name) => { const m = mods.get(name); return m && m.layer ? m.layer.querySelectorAll(".mk").length : -1; };
  api.visibleMarkers = (name) => { const m = mods.get(name); return m && m.layer ? [...m.layer.querySelectorAll(".mk")].filter((n) => n.style.display !== "none").length : -1; };
  api.series = (name) => {
    const m = mods.get(name); if (!m || !m.u1) return null;
    const d = m.u1.data, nn = (a) => a.filter((v) => v !== null && v !== undefined).length;
    return { points: d[0].length, actual: nn(d[1]), mean: nn(d[2]), lo: nn(d[3]), hi: nn(d[4]), capacity: nn(d[5]), bands: (m.u1.bands || []).length };
  };
  api.modules = () => [...mods.keys()];
  api.chart = (name) => { const m = mods.get(name); return m ? m.u1 : null; };
  start().catch((e) => { api.errors.push(String(e)); console.error(e); });
})();
