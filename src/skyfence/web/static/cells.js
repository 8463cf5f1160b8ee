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

  /* Cell centres projected once to zoom-0 pixels, with each cell's half-size there; the
     outlines (h3-js) are computed only for cells drawn large enough to show them. */
  function buildGeometry(layer) {
    var n = layer.n, h3 = global.h3;
    var cx = new Float32Array(n), cy = new Float32Array(n), half = new Float32Array(n);
    // a hexagon's circumradius is its edge length; in zoom-0 pixels it grows as 1/cos(lat)
    var edgeKm = h3.getHexagonEdgeLengthAvg(layer.header.resolution, "km");
    var kmToWorld = WORLD / (2 * Math.PI * 6371.0088);
    var ll;
    for (var i = 0; i < n; i++) {
      ll = h3.cellToLatLng([layer.words[2 * i], layer.words[2 * i + 1]]);
      cx[i] = (ll[1] + 180) / 360 * WORLD;
      cy[i] = mercY(ll[0]);
      half[i] = 1.25 * edgeKm * kmToWorld / Math.max(0.02, Math.cos(ll[0] * Math.PI / 180));
    }
    layer.geometry = { cx: cx, cy: cy, half: half, outlines: new Array(n), lng: null };
    return layer;
  }

  /* The outline of cell i in zoom-0 pixels, kept for the next draw. */
  function outline(layer, i) {
    var g = layer.geometry, o = g.outlines[i];
    if (o) return o;
    var b = global.h3.cellToBoundary([layer.words[2 * i], layer.words[2 * i + 1]]);
    var clng = g.cx[i] / WORLD * 360 - 180;
    o = new Float32Array(2 * b.length);
    for (var j = 0; j < b.length; j++) {
      var lng = b[j][1];
      if (lng - clng > 180) lng -= 360; else if (clng - lng > 180) lng += 360; // across the antimeridian
      o[2 * j] = (lng + 180) / 360 * WORLD;
      o[2 * j + 1] = mercY(b[j][0]);
    }
    g.outlines[i] = o;
    return o;
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
    var hide = layer.hide;
    for (var i = 0; i < layer.n; i++) if (!hide || !hide[i]) counts[layer.codes[i]]++;
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
      var cx = g.cx, cy = g.cy, half = g.half, codes = layer.codes, n = layer.n, hide = layer.hide;
      var dashed = this.options.dashed; // the code whose cells get a dashed outline too
      var worldPx = WORLD * scale;
      var shifts = [0];
      if (ox < 0) shifts.push(-worldPx);
      if (ox + size.x > worldPx) shifts.push(worldPx);
      ctx.globalAlpha = this.options.opacity === undefined ? 0.75 : this.options.opacity;
      ctx.lineWidth = 0.5;
      var drawn = 0, CHUNK = 2048;
      var stroke = scale >= 64;
      ctx.strokeStyle = "rgba(0,0,0,.35)";
      // cells come grouped by code from the server; each run of one code is filled at once
      for (var s = 0; s < shifts.length; s++) {
        var dx = ox - shifts[s];
        var i = 0;
        while (i < n) {
          var code = codes[i], inPath = 0, outlined = stroke || code === dashed;
          ctx.fillStyle = this._colours[code] || "#000";
          if (code === dashed) { ctx.setLineDash([3, 2]); ctx.strokeStyle = "#000"; ctx.lineWidth = 1; }
          ctx.beginPath();
          for (; i < n && codes[i] === code; i++) {
            if (hide && hide[i]) continue;
            var x = cx[i] * scale - dx, y = cy[i] * scale - oy, h = half[i] * scale;
            if (x + h < 0 || y + h < 0 || x - h > size.x || y - h > size.y) continue;
            if (h < 2) {
              var w = 1.6 * h; // a square of the hexagon's area
              ctx.rect(x - w / 2, y - w / 2, w, w);
            } else {
              var o = outline(layer, i);
              ctx.moveTo(o[0] * scale - dx, o[1] * scale - oy);
              for (var v = 2; v < o.length; v += 2) ctx.lineTo(o[v] * scale - dx, o[v + 1] * scale - oy);
              ctx.closePath();
            }
            drawn++;
            if (++inPath === CHUNK) { // bounded paths: the rasteriser's cost grows with path size
              ctx.fill(); if (outlined) ctx.stroke();
              ctx.beginPath(); inPath = 0;
            }
          }
          if (inPath) { ctx.fill(); if (outlined) ctx.stroke(); }
          if (code === dashed) { ctx.setLineDash([]); ctx.strokeStyle = "rgba(0,0,0,.35)"; ctx.lineWidth = 0.5; }
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
