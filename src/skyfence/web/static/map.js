/* skyfence map: the page. Everything comes from this page's own origin: the basemap and
   the scripts as package files, the data from /v1/map/... and /v1/... with the user's token. */
(function (global) {
  "use strict";
  var L = global.L, Cells = global.SkyfenceCells, Proof = global.SkyfenceProof;
  var $ = function (id) { return document.getElementById(id); };
  var state = {
    token: global.sessionStorage.getItem("skyfence-token") || "",
    legend: null, schedule: null, times: [], activation: null, whatif: null,
    whatifJobs: [], whatifRuns: [],
    layers: {}, drawing: null, timing: {}
  };
  global.skyfenceMap = state; // for tests and the benchmark: what was drawn, how fast
  state.timing.scripts_ms = performance.now(); // since navigation start: the libraries are in

  function status(text) { $("status").textContent = text; }
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  async function api(path, options) {
    options = options || {};
    var headers = Object.assign({}, options.headers || {});
    if (state.token) headers.Authorization = "Bearer " + state.token;
    var res = await fetch(path, Object.assign({}, options, { headers: headers }));
    if (!res.ok) {
      var msg = res.status + " " + res.statusText;
      try { var body = await res.json(); if (body.error) msg = body.error.message || msg; else if (body.detail) msg = JSON.stringify(body.detail); } catch (e) { /* not JSON */ }
      var err = new Error(msg); err.status = res.status; throw err;
    }
    return res;
  }
  async function getJSON(path) { return (await api(path)).json(); }

  // ------------------------------------------------------------------ the map and basemap
  $("token").value = state.token;
  var map = L.map("map", { worldCopyJump: true, preferCanvas: true, minZoom: 1, maxZoom: 11,
    keyboard: true, attributionControl: true, zoomControl: true }).setView([30, 20], 2);
  state.map = map;
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Boundaries: Natural Earth");
  var crosshair = L.DomUtil.create("div", "crosshair", map.getContainer());
  crosshair.setAttribute("aria-hidden", "true");
  var labels = L.layerGroup();

  map.createPane("basemap").style.zIndex = 250; // under the cell layers (overlayPane, 400)
  /* The basemap file (scripts/build_basemap.py) holds each ring as integer deltas in
     1/scale degree: [x0, y0, dx1, dy1, ...]. Decoded here to GeoJSON for Leaflet. */
  function decodeBasemap(packed) {
    var k = packed.scale;
    function ring(d) {
      var out = [], x = 0, y = 0;
      for (var i = 0; i < d.length; i += 2) { x += d[i]; y += d[i + 1]; out.push([x / k, y / k]); }
      out.push(out[0]);
      return out;
    }
    return { type: "FeatureCollection", features: packed.features.map(function (f) {
      return { type: "Feature", properties: { id: f.id, name: f.name, label: f.label, area_km2: f.area_km2 },
        geometry: { type: "MultiPolygon", coordinates: f.polygons.map(function (p) { return p.map(ring); }) } };
    }) };
  }
  async function loadBasemap() {
    var res = await fetch("/map/static/basemap.json");
    var data = decodeBasemap(await res.json());
    state.basemap = data;
    L.geoJSON(data, { interactive: false, pane: "basemap", renderer: L.canvas({ pane: "basemap" }), style: { color: "#6b6b6b", weight: 0.6, fillColor: "#f4f1ea", fillOpacity: 1 } }).addTo(map);
    data.features.forEach(function (f) {
      var p = f.properties;
      var m = L.marker(p.label, { interactive: false, keyboard: false,
        icon: L.divIcon({ className: "country-label", html: esc(p.name), iconSize: null }) });
      m.areaKm2 = p.area_km2;
      labels.addLayer(m);
    });
    updateLabels();
    if ($("layer-labels").checked) labels.addTo(map);
  }
  function updateLabels() {
    var z = map.getZoom(), min = z <= 2 ? 1.5e6 : z === 3 ? 2e5 : z === 4 ? 2e4 : 0;
    labels.eachLayer(function (m) { m.setOpacity(m.areaKm2 >= min ? 1 : 0); });
  }
  map.on("zoomend", updateLabels);

  // ------------------------------------------------------------------ legend
  var WHATIF_LABELS = { served_95: "served ≥ 95 % of the time", served_50_95: "served 50–95 %",
    served_below_50: "served < 50 %", not_served: "not served" };
  function renderLegend() {
    var out = [];
    if (state.layers.activation && map.hasLayer(state.layers.activation) && state.activation) {
      var counts = Cells.countByCode(state.activation);
      out.push("<h3>Activation state (policy version " + esc(state.activation.header.meta.policy_version) + ")</h3>");
      state.legend.states.forEach(function (s) {
        if (!counts[s.code] && s.name === "invalid_input") return;
        out.push('<div class="legend-row" data-state="' + esc(s.name) + '"><span class="swatch" style="background:' + s.colour +
          '"></span>' + esc(s.name) + '<span class="count">' + counts[s.code].toLocaleString("en") + " cells</span></div>");
      });
      out.push('<p class="help">Cells no rule covers are not drawn.</p>');
    }
    if (state.layers.whatif && map.hasLayer(state.layers.whatif) && state.whatif) {
      var wc = Cells.countByCode(state.whatif), wm = state.whatif.header.meta;
      out.push("<h3>What-if: " + esc(wm.action) + " " + esc(shortRegion(wm.expression)) + "</h3>");
      state.legend.whatif.forEach(function (s) {
        var spill = s.name === "spillover", name = WHATIF_LABELS[s.name] || s.name.replace(/_/g, " ");
        if (spill) {
          name = wm.action === "deactivate" ? "still lit from outside" : "spillover across the border";
          var chosen = $("spill-area").value;
          if (chosen !== "" && wm.action !== "deactivate") name = "spillover into " + wm.spill_areas[+chosen].name;
        }
        out.push('<div class="legend-row" data-whatif="' + esc(s.name) + '"><span class="swatch' + (spill ? " spill" : "") + '" style="background:' + s.colour +
          '"></span>' + esc(name) + '<span class="count">' + wc[s.code].toLocaleString("en") + " cells</span></div>");
      });
    }
    if (state.layers.satellites && map.hasLayer(state.layers.satellites)) {
      out.push('<div class="legend-row" data-item="satellite"><span class="swatch dot" style="background:#0072B2"></span>satellite (' +
        state.layers.satellites.count + ')</div><div class="legend-row" data-item="footprint"><span class="swatch dot" style="background:transparent;border-color:#56B4E9"></span>footprint (above ' +
        state.layers.satellites.mask + "° elevation)</div>");
    }
    if (state.layers.sites && map.hasLayer(state.layers.sites)) {
      out.push('<div class="legend-row" data-item="gateway-listed"><span class="swatch dot" style="background:#009E73"></span>gateway, listed or planned</div>' +
        '<div class="legend-row" data-item="gateway-inferred"><span class="swatch dashed"></span>gateway, inferred (not in the list)</div>' +
        '<div class="legend-row" data-item="pop"><span class="swatch" style="background:#000"></span>PoP</div>');
    }
    if (state.layers.findings && map.hasLayer(state.layers.findings)) {
      out.push('<div class="legend-row" data-item="finding"><span class="swatch dot" style="background:#D55E00"></span>misuse finding (size: score)</div>');
    }
    $("legend").innerHTML = out.join("") || '<p class="help">No layer shown.</p>';
  }

  // ------------------------------------------------------------------ activation layer
  function coloursOf(list) { var c = []; list.forEach(function (s) { c[s.code] = s.colour; }); return c; }

  function fetchActivation() {
    var at = state.times[+$("time").value];
    var url = "/v1/map/cells/activation" + (at && at !== "now" ? "?at=" + encodeURIComponent(at) : "");
    return api(url).then(function (res) { return res.arrayBuffer(); });
  }
  async function loadActivation(pending) {
    var t0 = performance.now();
    var buf = await (pending || fetchActivation());
    var t1 = performance.now();
    var layer = Cells.build(Cells.parse(buf));
    var t2 = performance.now();
    state.activation = layer;
    if (!state.layers.activation) {
      state.layers.activation = new Cells.CellCanvas(layer, coloursOf(state.legend.states), { name: "activation" });
    } else {
      state.layers.activation.setData(layer);
    }
    if ($("layer-activation").checked && !map.hasLayer(state.layers.activation)) state.layers.activation.addTo(map);
    else if (map.hasLayer(state.layers.activation)) state.layers.activation.redraw();
    var t3 = performance.now();
    state.timing.activation = { cells: layer.n, bytes: buf.byteLength, fetch_ms: t1 - t0, build_ms: t2 - t1, draw_ms: t3 - t2 };
    if (state.timing.first_render_ms === undefined) state.timing.first_render_ms = t3; // since navigation start
    renderLegend();
    $("layer-info").textContent = layer.n.toLocaleString("en") + " cells at resolution " + layer.header.resolution +
      ", " + (layer.header.meta.at || "") + ".";
  }

  async function loadSchedule(pending) {
    state.schedule = await (pending || getJSON("/v1/map/schedule"));
    state.times = ["now"].concat(state.schedule.times);
    var slider = $("time");
    slider.max = String(state.times.length - 1);
    slider.value = "0";
    $("time-label").textContent = "now";
    var states = $("op-state");
    states.innerHTML = state.legend.states.filter(function (s) { return s.name !== "invalid_input"; })
      .map(function (s) { return "<option>" + esc(s.name) + "</option>"; }).join("");
  }
  $("time").addEventListener("input", function () { $("time-label").textContent = state.times[+this.value] || "now"; });
  function timeChanged() {
    var work = [loadActivation()];
    if (state.layers.satellites && map.hasLayer(state.layers.satellites)) work.push(showSatellites().then(renderLegend));
    return Promise.all(work).catch(showError);
  }
  $("time").addEventListener("change", timeChanged);
  $("time-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = $("time-custom").value.trim();
    if (isNaN(Date.parse(text))) { status("A time looks like 2026-03-01T12:00:00Z (UTC)."); return; }
    var i = state.times.indexOf(text);
    if (i < 0) { state.times.push(text); i = state.times.length - 1; $("time").max = String(i); }
    $("time").value = String(i);
    $("time-label").textContent = text;
    timeChanged();
  });

  // ------------------------------------------------------------------ other layers
  // ------------------------------------------------------------------ what-if (/v1/whatif)
  // Results: jobs run from this page (POST /v1/whatif, followed at GET /v1/whatif/{id}) and
  // the report folders under the reports directory; both drawn from a packed cell layer.
  function wiStatus(text) { $("wi-status").textContent = text; }
  function renderWhatifChoices(selected) {
    var sel = $("whatif-run"), keep = selected || sel.value;
    var opts = ['<option value="">(none)</option>'];
    state.whatifJobs.forEach(function (j) { opts.push('<option value="job:' + esc(j.id) + '">' + esc(j.label) + "</option>"); });
    state.whatifRuns.forEach(function (r) { opts.push('<option value="run:' + esc(r.run) + '">report ' + esc(r.run) + "</option>"); });
    sel.innerHTML = opts.join("");
    var values = Array.prototype.map.call(sel.options, function (o) { return o.value; });
    if (keep && values.indexOf(keep) >= 0) sel.value = keep; else if (values.length > 1) sel.value = values[1];
  }
  async function loadWhatifRuns() {
    state.whatifRuns = (await getJSON("/v1/map/whatif")).runs;
    renderWhatifChoices();
  }
  function whatifUrl(value) {
    var name = encodeURIComponent(value.slice(4));
    return value.indexOf("job:") === 0 ? "/v1/map/cells/whatif-job/" + name : "/v1/map/cells/whatif/" + name;
  }
  function spillCode() { return state.legend.whatif.filter(function (s) { return s.name === "spillover"; })[0].code; }
  function km2(x) { return Math.round(x || 0).toLocaleString("en") + " km²"; }
  function spillKm2(meta, id) {
    var sp = meta.spillover || {}, rows = (sp.switched_off || []).concat(sp.by_region || []);
    for (var i = 0; i < rows.length; i++) if (rows[i].region === id) return rows[i].area_km2;
    return null;
  }
  /* The areas the spillover reaches, to choose one border: one option per area (its index
     in meta.spill_areas), with its cells and the area the report measured there. */
  function fillSpillAreas(layer) {
    var areas = layer.header.meta.spill_areas || [], code = spillCode(), n = new Array(areas.length).fill(0);
    for (var i = 0; i < layer.n; i++) if (layer.codes[i] === code && layer.columns.spill_area[i] >= 0) n[layer.columns.spill_area[i]]++;
    var opts = ['<option value="">every area</option>'];
    areas.forEach(function (a, k) {
      var area = spillKm2(layer.header.meta, a.id);
      opts.push('<option value="' + k + '">' + esc(a.name) + (a.id ? " (" + esc(a.id) + ")" : "") + ": " + n[k] + " cells" +
        (area !== null ? ", " + km2(area) : "") + "</option>");
    });
    $("spill-area").innerHTML = opts.join("");
  }
  /* Hide the spillover cells outside the chosen area (every one shown when none is chosen). */
  function applySpillFilter() {
    var layer = state.whatif;
    if (!layer) return;
    var chosen = $("spill-area").value, code = spillCode(), hide = new Uint8Array(layer.n);
    if (chosen !== "") {
      var k = +chosen;
      for (var i = 0; i < layer.n; i++) hide[i] = layer.codes[i] === code && layer.columns.spill_area[i] !== k ? 1 : 0;
    }
    layer.hide = hide;
    if (state.layers.whatif && map.hasLayer(state.layers.whatif)) state.layers.whatif.redraw();
    whatifInfo();
  }
  function whatifInfo() {
    var layer = state.whatif;
    if (!layer) return;
    var m = layer.header.meta, sp = m.spillover || {}, code = spillCode(), shown = 0, region = 0;
    for (var i = 0; i < layer.n; i++) {
      if (layer.codes[i] !== code) region++;
      else if (!layer.hide[i]) shown++;
    }
    var text = "What-if " + m.action + " " + shortRegion(m.expression) + ": " + region.toLocaleString("en") + " cells of the area. ";
    if (!m.spillover_cells_listed) {
      text += "Spillover reaches " + (sp.cells_reached || 0) + " cells (" + km2(sp.area_km2) + ") beyond the border; this report does not list them.";
    } else if (m.action === "deactivate") {
      text += shown + " of its dark cells are still lit by the beams around it (" + km2(sp.area_km2) + ").";
    } else {
      var chosen = $("spill-area").value;
      if (chosen === "") {
        text += "Spillover across the border: " + shown + " cells drawn outside the area (" + km2(sp.area_km2) + " lit).";
      } else {
        var a = m.spill_areas[+chosen], area = spillKm2(m, a.id);
        text += "Spillover into " + a.name + ": " + shown + " cells" + (area !== null ? ", " + km2(area) : "") + ".";
      }
    }
    $("layer-info").textContent = text;
  }
  function shortRegion(expr) {
    expr = String(expr || "");
    if (expr.indexOf("h3:") === 0) return "a drawn area (" + expr.split(",").length + " cells)";
    return expr.length > 60 ? expr.slice(0, 57) + "…" : expr;
  }
  async function showWhatif() {
    var value = $("whatif-run").value;
    if (!value) { status("No what-if result to show: run one under What-if (or `skyfence whatif`) first."); $("layer-whatif").checked = false; return; }
    var buf = await (await api(whatifUrl(value))).arrayBuffer();
    var layer = Cells.build(Cells.parse(buf));
    layer.hide = new Uint8Array(layer.n);
    state.whatif = layer;
    fillSpillAreas(layer);
    if (state.layers.whatif) map.removeLayer(state.layers.whatif);
    state.layers.whatif = new Cells.CellCanvas(layer, coloursOf(state.legend.whatif), { name: "whatif", opacity: 0.85, dashed: spillCode() });
    state.layers.whatif.addTo(map);
    applySpillFilter();
  }
  $("spill-area").addEventListener("change", function () { applySpillFilter(); renderLegend(); });

  async function followJob(id) {
    var t0 = Date.now(), delay = 500;
    for (;;) {
      var job = await getJSON("/v1/whatif/" + encodeURIComponent(id));
      if (job.status === "done" || job.status === "failed") return job;
      wiStatus("What-if job " + id + ": " + job.status + " (" + Math.round((Date.now() - t0) / 1000) + " s)…");
      await new Promise(function (resolve) { setTimeout(resolve, delay); });
      delay = Math.min(2000, delay * 1.5);
    }
  }
  $("wi-drawn").addEventListener("click", function () {
    if (!state.drawnExpression) { wiStatus("Draw a polygon first (Operator: Draw polygon, then Finish polygon)."); return; }
    $("wi-region").value = state.drawnExpression;
    wiStatus("The area is the drawn polygon (" + state.drawnExpression.split(",").length + " cells).");
  });
  $("whatif-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var region = $("wi-region").value.trim(), minutes = +$("wi-minutes").value, start = $("wi-start").value.trim();
    if (!region) { wiStatus("Name an area (e.g. LU or UA - crimea) or draw one."); return; }
    if (!(minutes >= 1 && minutes <= 360)) { wiStatus("Minutes must be 1..360."); return; }
    if (start && isNaN(Date.parse(start))) { wiStatus("A start looks like 2026-03-01T12:00:00Z (UTC)."); return; }
    var body = { region: region, action: $("wi-action").value, duration_s: minutes * 60, step_s: 60, resolution: +$("wi-res").value };
    if (start) body.start = start;
    var button = $("whatif-form").querySelector("button[type=submit]");
    button.disabled = true;
    (async function () {
      var job = await (await api("/v1/whatif", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).json();
      wiStatus("What-if job " + job.id + ": " + job.status + "…");
      var done = await followJob(job.id);
      if (done.status !== "done") { wiStatus("What-if job " + job.id + " failed: " + (done.error || "no reason given")); return; }
      state.whatifJobs.unshift({ id: job.id, label: body.action + " " + shortRegion(region) + " (job " + job.id + ")" });
      renderWhatifChoices("job:" + job.id);
      $("layer-whatif").checked = true;
      await showWhatif();
      renderLegend();
      var after = done.result && done.result.after ? done.result.after.served_fraction : null;
      wiStatus("What-if job " + job.id + " done" + (after !== null && after !== undefined ? ": served " + Math.round(100 * after) + " % of the time after the switch" : "") + ".");
    })().catch(function (err) { wiStatus("What-if: " + err.message); showError(err); }).finally(function () { button.disabled = false; });
  });

  async function showSatellites() {
    var at = state.times[+$("time").value];
    var s = await getJSON("/v1/map/satellites" + (at && at !== "now" ? "?at=" + encodeURIComponent(at) : ""));
    var group = L.layerGroup(), renderer = L.canvas({ padding: 0.2 });
    for (var i = 0; i < s.count; i++) {
      var ll = [s.latitude_deg[i], s.longitude_deg[i]];
      L.circle(ll, { radius: s.footprint_km[i] * 1000, renderer: renderer, color: "#56B4E9", weight: 0.5, opacity: 0.5, fill: false, interactive: false }).addTo(group);
      L.circleMarker(ll, { radius: 2, renderer: renderer, color: "#0072B2", fillOpacity: 1, weight: 0 })
        .bindTooltip(esc(s.names[i]) + ", " + s.altitude_km[i] + " km").addTo(group);
    }
    group.count = s.count; group.mask = s.min_elevation_deg;
    if (state.layers.satellites) map.removeLayer(state.layers.satellites);
    state.layers.satellites = group.addTo(map);
    $("layer-info").textContent = s.count + " satellites of " + s.constellation + " at " + s.time + ".";
  }
  async function showSites() {
    var q = [["gateways", "net-gateways"], ["pops", "net-pops"], ["pop_map", "net-popmap"]]
      .filter(function (p) { return $(p[1]).value.trim(); })
      .map(function (p) { return p[0] + "=" + encodeURIComponent($(p[1]).value.trim()); }).join("&");
    var sites = (await getJSON("/v1/map/sites" + (q ? "?" + q : ""))).sites, group = L.layerGroup();
    sites.forEach(function (x) {
      var tip = esc(x.name || x.id) + " (" + x.kind + ", " + x.source + (x.country ? ", " + esc(x.country) : "") + ")";
      if (x.kind === "pop") {
        L.marker([x.latitude_deg, x.longitude_deg], { keyboard: false, icon: L.divIcon({ className: "", html: '<span class="swatch" style="background:#000;width:9px;height:9px;display:block;transform:rotate(45deg)"></span>', iconSize: [9, 9] }) })
          .bindTooltip(tip).addTo(group);
      } else if (x.source === "inferred") {
        L.circleMarker([x.latitude_deg, x.longitude_deg], { radius: 6, color: "#CC79A7", weight: 2, dashArray: "3 3", fill: false, className: "gateway-inferred" }).bindTooltip(tip).addTo(group);
      } else {
        L.circleMarker([x.latitude_deg, x.longitude_deg], { radius: 5, color: "#004d38", weight: 1, fillColor: "#009E73", fillOpacity: 1, className: "gateway-listed" }).bindTooltip(tip).addTo(group);
      }
    });
    if (state.layers.sites) map.removeLayer(state.layers.sites);
    state.layers.sites = group.addTo(map);
    var n = { gateway: 0, inferred: 0, pop: 0 };
    sites.forEach(function (x) { if (x.kind === "pop") n.pop++; else if (x.source === "inferred") n.inferred++; else n.gateway++; });
    $("layer-info").textContent = n.gateway + " gateways listed or planned, " + n.inferred + " inferred, " + n.pop + " PoPs.";
  }
  async function loadFindingsFiles() {
    var files = (await getJSON("/v1/map/findings")).files;
    $("findings-file").innerHTML = '<option value="">(none)</option>' + files.map(function (f) {
      return '<option value="' + esc(f) + '">' + esc(f) + "</option>";
    }).join("");
    if (files.length) $("findings-file").value = files[0];
  }
  async function showFindings() {
    var name = $("findings-file").value;
    if (!name) { status("No findings to show: run `skyfence detect run --geojson` into the reports directory first."); $("layer-findings").checked = false; return; }
    var data = await getJSON("/v1/map/findings/" + encodeURIComponent(name));
    if (state.layers.findings) map.removeLayer(state.layers.findings);
    state.layers.findings = L.geoJSON(data, {
      style: { color: "#D55E00", weight: 1.5, dashArray: "4 3" },
      pointToLayer: function (f, ll) {
        return L.circleMarker(ll, { radius: 4 + 6 * Math.min(1, f.properties.score || 0), color: "#7a2e00", weight: 1, fillColor: "#D55E00", fillOpacity: 0.9 });
      },
      onEachFeature: function (f, l) {
        var p = f.properties;
        l.bindTooltip("#" + p.rank + " " + esc(p.kind) + (p.terminal_ids ? " — " + esc(p.terminal_ids) : "") + (p.score !== undefined ? " (score " + p.score + ")" : ""));
      }
    }).addTo(map);
    $("layer-info").textContent = data.features.filter(function (f) { return f.geometry.type === "Point"; }).length + " findings in " + name + ".";
  }

  function toggler(id, key, show) {
    $(id).addEventListener("change", function () {
      var on = this.checked;
      (async function () {
        if (on) {
          if (state.layers[key] && !(key === "whatif" || key === "satellites")) state.layers[key].addTo(map);
          else await show();
        } else if (state.layers[key]) {
          map.removeLayer(state.layers[key]);
        }
        renderLegend();
      })().catch(showError);
    });
  }
  toggler("layer-activation", "activation", loadActivation);
  toggler("layer-whatif", "whatif", showWhatif);
  toggler("layer-satellites", "satellites", showSatellites);
  toggler("layer-sites", "sites", showSites);
  toggler("layer-findings", "findings", showFindings);
  $("findings-file").addEventListener("change", function () { if ($("layer-findings").checked) showFindings().then(renderLegend).catch(showError); });
  $("whatif-run").addEventListener("change", function () { if ($("layer-whatif").checked) showWhatif().then(renderLegend).catch(showError); });
  $("layer-labels").addEventListener("change", function () { if (this.checked) labels.addTo(map); else map.removeLayer(labels); });

  // ------------------------------------------------------------------ a place
  var marker = null;
  async function decideAt(lat, lon) {
    $("lat").value = (+lat).toFixed(4); $("lon").value = (+lon).toFixed(4);
    if (marker) marker.setLatLng([lat, lon]); else marker = L.marker([lat, lon], { keyboard: false, title: "chosen place" }).addTo(map);
    var at = state.times[+$("time").value];
    var body = { terminal_id: $("terminal").value || "map-probe", latitude_deg: +lat, longitude_deg: +lon };
    if (at && at !== "now") body.time = at;
    $("place-result").innerHTML = "Deciding…";
    $("history").innerHTML = "";
    var d = await (await api("/v1/decisions", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) })).json();
    var cellText = "";
    if (state.activation) {
      var i = Cells.cellAt(state.activation, lat, lon);
      if (i >= 0) {
        var rule = state.activation.columns.rule[i];
        cellText = "<p>Map cell: <b>" + esc(state.activation.header.names[state.activation.codes[i]]) + "</b> (rule " +
          esc(rule >= 0 ? state.activation.header.meta.rule_ids[rule] : "none") + ")</p>";
      }
    }
    $("place-result").innerHTML =
      '<p data-testid="decision" class="' + (d.allowed ? "allowed" : "denied") + '">' + (d.allowed ? "Allowed" : "Denied") +
      " for terminal " + esc(d.terminal_id) + "</p><dl>" +
      "<dt>State</dt><dd data-testid=\"state\">" + esc(d.state) + "</dd>" +
      "<dt>Region</dt><dd data-testid=\"region\">" + esc(d.region || "no rule covers it") + "</dd>" +
      "<dt>Rule</dt><dd data-testid=\"rule\">" + esc(d.rule_id || "none") + "</dd>" +
      "<dt>Policy version</dt><dd data-testid=\"policy-version\">" + esc(d.policy_version) + "</dd></dl>" +
      "<p>Reasons:</p><ul data-testid=\"reasons\">" + (d.reasons.length ? d.reasons.map(function (r) { return "<li>" + esc(r) + "</li>"; }).join("") : "<li>every check passed</li>") + "</ul>" + cellText;
    if (d.region) await showHistory(d.region);
  }

  function regionId(expr) { var m = /^[A-Za-z0-9_]+/.exec(expr || ""); return m ? m[0] : null; }

  async function showHistory(regionExpr) {
    var rid = regionId(regionExpr);
    if (!rid) return;
    var h = await getJSON("/v1/map/history/" + encodeURIComponent(rid));
    if (!h.checkpoint) { $("history").innerHTML = "<p>No signed checkpoint yet: nothing to prove.</p>"; return; }
    // the key comes from the log's public route, and is pinned in this browser on first use
    var pub = await getJSON("/v1/log/public-key"), keyNote = "";
    var pinned = global.localStorage.getItem("skyfence-log-key");
    if (!pinned) global.localStorage.setItem("skyfence-log-key", pub.pem);
    else if (pinned !== pub.pem) keyNote = '<p class="bad" data-testid="key-changed">The log\'s public key is not the one this browser saw before (a key rotation, or another log): compare it out of band.</p>';
    var cp = await Proof.verifyCheckpoint(h.checkpoint, pub.pem);
    var items = [];
    for (var i = 0; i < h.entries.length; i++) {
      var e = h.entries[i], v = await Proof.verifyEntry(e, h.checkpoint);
      var shown = JSON.parse(e.text); // what is shown is what was hashed
      items.push('<li data-verified="' + v.ok + '"><b>#' + e.index + " " + esc(shown.kind) + "</b> " + esc(shown.time) + " by " + esc(shown.author) +
        (shown.reason ? ": " + esc(shown.reason) : "") + '<br><span class="' + (v.ok ? "ok" : "bad") + '">' + (v.ok ? "✓ " : "✗ ") + esc(v.detail) + "</span></li>");
    }
    $("history").innerHTML = "<h3>History of " + esc(rid) + " in the log</h3>" +
      '<p data-testid="checkpoint" data-how="' + cp.how + '" data-ok="' + cp.ok + '" class="' + (cp.ok === false ? "bad" : "ok") + '">Checkpoint of ' +
      h.checkpoint.tree_size + " entries, " + esc(h.checkpoint.time) + ": " + esc(cp.detail) + "</p>" + keyNote +
      (items.length ? '<ol data-testid="history">' + items.join("") + "</ol>" : "<p>No entry of the signed log names " + esc(rid) + ".</p>");
  }

  $("place-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var lat = parseFloat($("lat").value), lon = parseFloat($("lon").value);
    if (!(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180)) { status("Latitude must be -90..90 and longitude -180..180."); return; }
    decideAt(lat, lon).catch(showError);
  });
  map.on("click", function (ev) {
    if (state.drawing) { addVertex(ev.latlng); return; }
    decideAt(ev.latlng.lat, L.Util.wrapNum(ev.latlng.lng, [-180, 180], true)).catch(showError);
  });
  map.getContainer().addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && ev.target === map.getContainer()) {
      var c = map.getCenter();
      if (state.drawing) addVertex(c); else decideAt(c.lat, L.Util.wrapNum(c.lng, [-180, 180], true)).catch(showError);
    }
  });

  // ------------------------------------------------------------------ operator view (/v1)
  function addVertex(ll) {
    state.drawing.points.push([ll.lat, L.Util.wrapNum(ll.lng, [-180, 180], true)]);
    state.drawing.line.setLatLngs(state.drawing.points);
    $("draw-done").disabled = state.drawing.points.length < 3;
  }
  $("draw").addEventListener("click", function () {
    if (state.drawing) map.removeLayer(state.drawing.line);
    state.drawing = { points: [], line: L.polygon([], { color: "#000", weight: 2, dashArray: "5 4", fillOpacity: 0.1 }).addTo(map) };
    status("Drawing: click the map (or press Enter on it) to add corners, then Finish polygon.");
  });
  $("draw-done").addEventListener("click", function () {
    var pts = state.drawing.points;
    var cells = global.h3.polygonToCells(pts, 5);
    if (!cells.length) { status("The polygon holds no resolution-5 cell centre; draw a larger one."); return; }
    if (cells.length > 5000) { status("The polygon covers " + cells.length + " cells; at most 5000."); return; }
    $("op-region").value = "h3:5:" + cells.join(",");
    state.drawnExpression = $("op-region").value;
    state.drawing.line.setStyle({ dashArray: null });
    state.drawnPolygon = state.drawing.line;
    state.drawing = null;
    $("draw-done").disabled = true;
    status("Polygon: " + cells.length + " cells. Choose a state, a rule id and a reason, then propose.");
  });

  async function currentPolicy() {
    var p = await getJSON("/v1/policy");
    return p;
  }
  $("propose-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    (async function () {
      var region = $("op-region").value.trim(), rule = $("op-rule").value.trim(), reason = $("op-reason").value.trim();
      if (!region || !rule || !reason) { status("Region, rule id and reason are needed."); return; }
      var current = await currentPolicy();
      var doc = JSON.parse(JSON.stringify(current.document));
      // the service seals the new document again (region hashes of the boundaries in force);
      // the old seal does not cover the new rule
      delete doc.sealed;
      doc.rules = (doc.rules || []).filter(function (r) { return r.id !== rule; });
      doc.rules.push({ id: rule, region: region, state: $("op-state").value, reason: reason });
      var res = await (await api("/v1/policy/changes", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ document: doc, reason: reason, base_version: current.version }) })).json();
      $("op-result").innerHTML = '<p data-testid="proposed">Change ' + esc(res.change_id) + ": " + esc(res.status) + "</p>";
      await refreshPending();
      if (res.status === "applied") await reloadAfterChange();
    })().catch(showError);
  });

  async function refreshPending() {
    var data = await getJSON("/v1/policy/changes?state=pending");
    var list = data.changes || data.items || data;
    $("pending").innerHTML = (list.length ? list : []).map(function (c) {
      var id = c.id !== undefined ? c.id : c.change_id;
      return '<li data-change="' + esc(id) + '">#' + esc(id) + " by " + esc(c.requested_by || c.author || (c.requesters && c.requesters[0] && c.requesters[0].name) || "?") +
        (c.reason ? ": " + esc(c.reason) : "") + ' <button type="button" data-approve="' + esc(id) + '">Approve</button> <button type="button" data-reject="' + esc(id) + '">Reject</button></li>';
    }).join("") || "<li>none</li>";
  }
  $("pending").addEventListener("click", function (ev) {
    var a = ev.target.getAttribute("data-approve"), r = ev.target.getAttribute("data-reject");
    if (!a && !r) return;
    (async function () {
      var id = a || r, verb = a ? "approve" : "reject";
      var res = await (await api("/v1/policy/changes/" + encodeURIComponent(id) + "/" + verb, { method: "POST",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason: "via the map" }) })).json();
      $("op-result").innerHTML = '<p data-testid="' + verb + 'd">Change ' + esc(id) + ": " + esc(res.status || verb + "d") + "</p>";
      await refreshPending();
      await reloadAfterChange();
    })().catch(showError);
  });
  $("pending-refresh").addEventListener("click", function () { refreshPending().catch(showError); });

  async function reloadAfterChange() {
    await loadSchedule();
    await loadActivation();
  }

  // ------------------------------------------------------------------ start
  function showError(err) {
    status(err.status === 401 || err.status === 403 ? "Not allowed: " + err.message + " (enter a token above)" : "Error: " + err.message);
  }
  $("token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    state.token = $("token").value.trim();
    global.sessionStorage.setItem("skyfence-token", state.token);
    start().catch(showError);
  });

  async function start() {
    status("Loading…");
    state.times = ["now"];
    var legend = getJSON("/v1/map/legend"), schedule = getJSON("/v1/map/schedule"), cells = fetchActivation();
    state.legend = await legend;
    await loadSchedule(schedule);
    await loadActivation(cells);
    await Promise.all([loadWhatifRuns().catch(function () {}), loadFindingsFiles().catch(function () {})]);
    status("Ready.");
    state.ready = true;
  }

  var first = performance.now();
  loadBasemap().then(function () { state.timing.basemap_ms = performance.now() - first; }).catch(showError);
  if (state.token) start().catch(showError);
  else status("Enter an API token (viewer or above) to load the layers.");
})(window);
