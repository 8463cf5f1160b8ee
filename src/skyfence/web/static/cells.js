/* skyfence map: H3 cell layers, read from the packed binary format (skyfence/web/packing.py)
   and drawn on one canvas, one path per state, with cell outlines from h3-js. */
(function (global) {
  "use strict";

  var WORLD = 256; // Leaflet's CRS: zoom 0 is 256 pixels wide

  function parseCells(buffer) {
    var view = new DataView(buffer);
    var magic = String.fromCharCode(view.getUint8(0), view.getUint8(1), view.getUint8(2), view.getUint8(3));
    if (magic !== "SKFC") throw new Error("not a skyfence cell layer");
    var version = view.getUint32(4, true);
    if (version !== 1) throw new Error("cell layer version " + version + " is not supported");
    var hlen = view.getUint32(8, true), n = view.getUint32(12, true);
    var off = 16;
    var header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, off, hlen)));
    off += hlen;
    var words = new Uint32Array(buffer, off, 2 * n); // [lo, hi] per cell (little-endian u64)
    off += 8 * n;
    var codes = new Uint8Array(buffer, off, n);
    off += n + ((8 - (n % 8)) % 8);
    var columns = {};
    header.columns.forEach(function (col) {
      var size = { f4: 4, i2: 2, u1: 1 }[col.dtype];
      var Arr = { f4: Float32Array, i2: Int16Array, u1: Uint8Array }[col.dtype];
      columns[col.name] = new Arr(buffer, off, n);
      off += size * n + ((8 - ((size * n) % 8)) % 8);
    });
    return { header: header, n: n, words: words, codes: codes, columns: columns };
  }

  function mercY(lat) {
    var max = 85.0511287798;
    lat = Math.max(-max, Math.min(max, lat));
    var s = Math.sin(lat * Math.PI / 180);
    return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * WORLD;
  }

  /* Outlines of every cell, projected once to zoom-0 pixels; cells grouped by code. */
  function buildGeometry(layer) {
    var n = layer.n, h3 = global.h3;
    var xy = new Float32Array(n * 20); // up to 10 vertices per cell
    var start = new Uint32Array(n + 1);
    var bbox = new Float32Array(n * 4);
    var k = 0, lo, hi, b, m, j, minLng, maxLng, lng, x, y;
    for (var i = 0; i < n; i++) {
      lo = layer.words[2 * i]; hi = layer.words[2 * i + 1];
      b = h3.cellToBoundary([lo, hi]);
      m = b.length;
      minLng = 1e9; maxLng = -1e9;
      for (j = 0; j < m; j++) { lng = b[j][1]; if (lng < minLng) minLng = lng; if (lng > maxLng) maxLng = lng; }
      var wrap = maxLng - minLng > 180;
      start[i] = k / 2;
      var x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
      for (j = 0; j < m; j++) {
        lng = b[j][1];
        if (wrap && lng < 0) lng += 360;
        x = (lng + 180) / 360 * WORLD;
        y = mercY(b[j][0]);
        xy[k++] = x; xy[k++] = y;
        if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
      }
      bbox[4 * i] = x0; bbox[4 * i + 1] = y0; bbox[4 * i + 2] = x1; bbox[4 * i + 3] = y1;
    }
    start[n] = k / 2;
    var order = new Uint32Array(n);
    for (i = 0; i < n; i++) order[i] = i;
    order.sort(function (a, c) { return layer.codes[a] - layer.codes[c] || a - c; });
    layer.geometry = { xy: xy, start: start, bbox: bbox, order: order };
    return layer;
  }

  function cellKey(lo, hi) {
    return (hi >>> 0).toString(16) + ":" + (lo >>> 0).toString(16);
  }

  /* The index of the layer's cell holding a point, or -1. */
  function cellAt(layer, lat, lng) {
    if (!layer.lookup) {
      var map = new Map();
      for (var i = 0; i < layer.n; i++) map.set(cellKey(layer.words[2 * i], layer.words[2 * i + 1]), i);
      layer.lookup = map;
    }
    var h = global.h3.latLngToCell(lat, lng, layer.header.resolution);
    var pair = global.h3.h3IndexToSplitLong(h);
    var found = layer.lookup.get(cellKey(pair[0], pair[1]));
    return found === undefined ? -1 : found;
  }

  function countByCode(layer) {
    var counts = new Array(layer.header.names.length).fill(0);
    for (var i = 0; i < layer.n; i++) counts[layer.codes[i]]++;
    return counts;
  }

  var CellCanvas = global.L.Layer.extend({
    initialize: function (layer, colours, options) {
      this._layer = layer;
      this._colours = colours; // code -> CSS colour
      global.L.setOptions(this, options || {});
    },
    onAdd: function (map) {
      this._map = map;
      this._canvas = global.L.DomUtil.create("canvas", "skyfence-cells leaflet-zoom-hide");
      this._canvas.setAttribute("data-layer", this.options.name || "cells");
      this._canvas.setAttribute("aria-hidden", "true");
      map.getPane(this.options.pane || "overlayPane").appendChild(this._canvas);
      map.on("moveend zoomend resize viewreset", this.redraw, this);
      this.redraw();
    },
    onRemove: function (map) {
      map.off("moveend zoomend resize viewreset", this.redraw, this);
      global.L.DomUtil.remove(this._canvas);
    },
    setData: function (layer) { this._layer = layer; if (this._map) this.redraw(); },
    redraw: function () {
      var map = this._map, layer = this._layer, g = layer.geometry;
      if (!map || !g) return;
      var t0 = performance.now();
      var size = map.getSize(), dpr = global.devicePixelRatio || 1;
      var canvas = this._canvas;
      var topLeft = map.containerPointToLayerPoint([0, 0]);
      global.L.DomUtil.setPosition(canvas, topLeft);
      canvas.width = Math.round(size.x * dpr); canvas.height = Math.round(size.y * dpr);
      canvas.style.width = size.x + "px"; canvas.style.height = size.y + "px";
      var ctx = canvas.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      var scale = WORLD * Math.pow(2, map.getZoom()) / WORLD;
      var origin = map.getPixelOrigin();
      var ox = origin.x + topLeft.x, oy = origin.y + topLeft.y;
      var xy = g.xy, start = g.start, bbox = g.bbox, order = g.order, codes = layer.codes;
      var worldPx = WORLD * scale;
      var shifts = [0];
      if (ox < 0) shifts.push(-worldPx);
      if (ox + size.x > worldPx) shifts.push(worldPx);
      ctx.globalAlpha = this.options.opacity === undefined ? 0.75 : this.options.opacity;
      ctx.lineWidth = 0.5;
      var drawn = 0;
      for (var s = 0; s < shifts.length; s++) {
        var dx = ox - shifts[s];
        var i = 0;
        while (i < order.length) {
          var code = codes[order[i]];
          ctx.beginPath();
          for (; i < order.length && codes[order[i]] === code; i++) {
            var c = order[i];
            var x0 = bbox[4 * c] * scale - dx, x1 = bbox[4 * c + 2] * scale - dx;
            var y0 = bbox[4 * c + 1] * scale - oy, y1 = bbox[4 * c + 3] * scale - oy;
            if (x1 < 0 || y1 < 0 || x0 > size.x || y0 > size.y) continue;
            var a = start[c], b = start[c + 1];
            ctx.moveTo(xy[2 * a] * scale - dx, xy[2 * a + 1] * scale - oy);
            for (var v = a + 1; v < b; v++) ctx.lineTo(xy[2 * v] * scale - dx, xy[2 * v + 1] * scale - oy);
            ctx.closePath();
            drawn++;
          }
          ctx.fillStyle = this._colours[code] || "#000";
          ctx.fill();
          if (scale >= 64) { ctx.strokeStyle = "rgba(0,0,0,.35)"; ctx.stroke(); }
        }
      }
      this.drawn = drawn;
      this.lastDrawMs = performance.now() - t0;
      canvas.setAttribute("data-drawn", String(drawn));
      this.fire("drawn", { drawn: drawn, ms: this.lastDrawMs });
    }
  });

  global.SkyfenceCells = {
    parse: parseCells,
    build: buildGeometry,
    cellAt: cellAt,
    countByCode: countByCode,
    CellCanvas: CellCanvas
  };
})(window);
