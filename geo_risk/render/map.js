/*
 * geo-risk weekly risk map: the page script (our own code, inlined by geo_risk.render).
 *
 * Reads the JSON block written by geo_risk.render.map, rebuilds the polygons from the packed
 * vertex streams and draws everything with Leaflet on one canvas. Every piece of text that
 * comes from data is put into the page with textContent, never innerHTML.
 */
/* global L */
/* exported geoRiskMap */
function geoRiskMap(map, dataElementId) {
  'use strict';
  var t0 = performance.now();
  var data = JSON.parse(document.getElementById(dataElementId).textContent);
  var meta = data.meta;
  var G = data.grid;
  var cols = G.cols;
  var SCALE = data.scale;

  // ------------------------------------------------------------------ small helpers
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function add(parent, child) { parent.appendChild(child); return child; }

  function varints(b64) {
    var s = atob(b64 || '');
    var out = new Float64Array(s.length);
    var n = 0, v = 0, mul = 1;
    for (var i = 0; i < s.length; i++) {
      var b = s.charCodeAt(i);
      v += (b & 127) * mul;
      if (b & 128) { mul *= 128; } else { out[n++] = v; v = 0; mul = 1; }
    }
    return out.subarray(0, n);
  }

  function runs(b64) {
    var pairs = varints(b64), total = 0, i;
    for (i = 1; i < pairs.length; i += 2) { total += pairs[i]; }
    var out = new Float64Array(total), n = 0;
    for (i = 0; i < pairs.length; i += 2) { out.fill(pairs[i], n, n + pairs[i + 1]); n += pairs[i + 1]; }
    return out;
  }

  /*
   * Packed shapes -> per item: array of polygons, each an array of rings of L.LatLng.
   * A ring's first vertex is relative to the previous ring's first vertex; later vertices are
   * relative to the vertex before, plus the same step of the previous ring when both rings
   * have the same vertex count (at most 12): neighbouring hexagons have near-identical shapes.
   */
  function decodeShapes(sh) {
    var p = varints(sh.p), r = runs(sh.r), nv = runs(sh.v), c = varints(sh.c);
    var items = new Array(sh.n);
    var pi = 0, ri = 0, ci = 0, fx = 0, fy = 0, prevLen = -1;
    var prevD = new Float64Array(26), curD = new Float64Array(26), tmp;
    function unzig(v) { return (v % 2) ? -(v + 1) / 2 : v / 2; }
    for (var i = 0; i < sh.n; i++) {
      var polys = new Array(p[i]);
      for (var j = 0; j < p[i]; j++) {
        var nr = r[pi++];
        var rings = new Array(nr);
        for (var k = 0; k < nr; k++) {
          var len = nv[ri++];
          var second = len === prevLen && len <= 12;
          var ring = new Array(len);
          fx += unzig(c[ci++]); fy += unzig(c[ci++]);
          var x = fx, y = fy;
          ring[0] = L.latLng(y / SCALE, x / SCALE);
          for (var m = 1; m < len; m++) {
            var dx = unzig(c[ci++]), dy = unzig(c[ci++]);
            if (second) { dx += prevD[2 * m]; dy += prevD[2 * m + 1]; }
            if (len <= 12) { curD[2 * m] = dx; curD[2 * m + 1] = dy; }
            x += dx; y += dy;
            ring[m] = L.latLng(y / SCALE, x / SCALE);
          }
          tmp = prevD; prevD = curD; curD = tmp;
          prevLen = len;
          rings[k] = ring;
        }
        polys[j] = rings;
      }
      items[i] = polys;
    }
    return items;
  }

  function fmtProb(q) {
    if (q === undefined || q === null || q < 0) { return 'n/a'; }
    if (q === 0) { return '<0.01%'; }
    var pct = q / 100;
    if (pct < 1) { return pct.toFixed(2) + '%'; }
    if (pct < 10) { return pct.toFixed(1) + '%'; }
    return pct.toFixed(0) + '%';
  }
  function fmtPP(d) {
    var pp = d / 100;
    var txt = Math.abs(pp) < 1 ? Math.abs(pp).toFixed(2) : Math.abs(pp).toFixed(1);
    return (pp > 0 ? '+' : pp < 0 ? '\u2212' : '\u00b1') + txt + ' pp';
  }
  function classOf(value, breaks) {
    for (var i = 0; i < breaks.length; i++) { if (value < breaks[i]) { return i; } }
    return breaks.length;
  }
  function hatch(colour) {
    var c = document.createElement('canvas');
    c.width = 8; c.height = 8;
    var ctx = c.getContext('2d');
    ctx.strokeStyle = colour; ctx.lineWidth = 1.6;
    ctx.beginPath(); ctx.moveTo(-2, 10); ctx.lineTo(10, -2);
    ctx.moveTo(-2, 2); ctx.lineTo(2, -2); ctx.moveTo(6, 10); ctx.lineTo(10, 6); ctx.stroke();
    return ctx.createPattern(c, 'repeat');
  }
  function bboxOf(polys) {
    var s = 90, w = 180, n = -90, e = -180;
    polys.forEach(function (rings) {
      rings[0].forEach(function (ll) {
        if (ll.lat < s) { s = ll.lat; } if (ll.lat > n) { n = ll.lat; }
        if (ll.lng < w) { w = ll.lng; } if (ll.lng > e) { e = ll.lng; }
      });
    });
    return [s, w, n, e];
  }
  function inRing(ring, lat, lng) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var a = ring[i], b = ring[j];
      if ((a.lat > lat) !== (b.lat > lat) &&
          lng < (b.lng - a.lng) * (lat - a.lat) / (b.lat - a.lat) + a.lng) { inside = !inside; }
    }
    return inside;
  }
  function inItem(polys, bbox, ll) {
    if (ll.lat < bbox[0] || ll.lat > bbox[2] || ll.lng < bbox[1] || ll.lng > bbox[3]) { return false; }
    var inside = false;
    polys.forEach(function (rings) { rings.forEach(function (ring) { if (inRing(ring, ll.lat, ll.lng)) { inside = !inside; } }); });
    return inside;
  }

  // ------------------------------------------------------------------ map set-up
  // Fit the data once the page has a size. A page embedded in a sandboxed <iframe srcdoc>
  // (the weekly brief) may run before its frame is laid out: fitting a 0 x 0 map gives NaN.
  function fitData() { map.fitBounds(data.bounds, { padding: [24, 24], animate: false }); }
  function hasRoom() { var s = map.invalidateSize(false).getSize(); return s.x > 60 && s.y > 60; }
  if (hasRoom()) {
    fitData();
  } else {
    var waitForRoom = function () {
      if (!hasRoom()) { return; }
      window.removeEventListener('resize', waitForRoom);
      fitData();
      placeLabels();
    };
    window.addEventListener('resize', waitForRoom);
    requestAnimationFrame(waitForRoom);
  }
  var R = L.canvas({ padding: 0.4, tolerance: 2 });
  var hasBasemap = !!data.basemap;
  var GRID_OPACITY = hasBasemap ? 0.72 : 1;
  map.createPane('gr-labels');
  map.getPane('gr-labels').style.zIndex = 620;
  map.getPane('gr-labels').style.pointerEvents = 'none';
  if (hasBasemap) {
    L.tileLayer(data.basemap.url, { attribution: data.basemap.attribution, maxZoom: 18 }).addTo(map);
  }

  var weeks = G.weeks;
  var state = { theme: 'risk', week: weeks.length - 1, overlays: {} };
  var colours = data.colours;
  var S = data.scales;
  var currentWeek = weeks.length - 1;

  function weekRisk(gi, wi) { return wi === currentWeek ? cols.risk[gi] : G.hist[wi][gi]; }
  function prevRisk(gi, wi) {
    if (wi === currentWeek && cols.prev) { return cols.prev[gi]; }
    var p = weeks[wi].prev;
    return p >= 0 ? weekRisk(gi, p) : -1;
  }
  var hasChange = !!cols.prev || weeks.some(function (w) { return w.prev >= 0; });

  // ------------------------------------------------------------------ boundaries (admin units)
  var B = data.boundaries;
  var bShapes = B ? decodeShapes(B.shapes) : [];
  var levelOfPcode = {};
  var pcodeIndex = {};
  if (B) { B.pcode.forEach(function (pc, i) { pcodeIndex[pc] = i; }); }
  if (B && B.level) {
    B.pcode.forEach(function (pc, i) { if (B.level.codes[i] >= 0) { levelOfPcode[pc] = i; } });
  }
  function levelColour(i) {
    var code = B.level.codes[i];
    return code >= 0 ? B.level.colours[code] : S.noData;
  }
  // Engagement coverage is an admin-level fact (cells are mostly below the suppression
  // threshold): with the units' status from the matrix, the engagement theme colours units.
  var unitEngagement = !!(B && B.engagement);
  function unitEngColour(i) {
    var code = B.engagement.codes[i];
    return code >= 0 ? B.engagement.colours[code] : S.noData;
  }
  // Category themes of admin units from the matrix (alerts, who engaged, ...): layers.UNIT_THEMES.
  var uThemes = {};
  ((B && B.themes) || []).forEach(function (t) { uThemes['u-' + t.key] = t; });
  function uThemeColour(t, i) { var c = t.codes[i]; return c >= 0 ? t.colours[c] : S.noData; }
  function unitTheme() { return state.theme === 'level' || !!uThemes[state.theme] || (state.theme === 'engagement' && unitEngagement); }

  // ------------------------------------------------------------------ grid
  var gShapes = null; // decoded with the grid, on first use (a continent's grid is large)
  var gridGroup = L.featureGroup();
  var polys = new Array(G.shapes.n);
  var drawn = 0;

  function gridColour(gi) {
    var th = state.theme, q, p;
    if (th === 'risk') {
      q = weekRisk(gi, state.week);
      if (q >= 0 && cols.fine) { q = state.week === currentWeek ? cols.fine[gi] : q * 1e4; } // 1e-8 units
      return q < 0 ? S.noData : S.risk.colours[classOf(q, S.risk.breaks)];
    }
    if (th === 'change') {
      q = weekRisk(gi, state.week); p = prevRisk(gi, state.week);
      return (q < 0 || p < 0) ? S.noData : S.change.colours[classOf(q - p, S.change.breaks)];
    }
    if (th === 'trend') {
      q = cols.trend[gi];
      return q >= 0 ? colours.trend[q] : S.noData;
    }
    if (th === 'engagement') {
      q = cols.status[gi];
      return q >= 0 ? colours.status[q] : S.noData;
    }
    return S.noData;
  }
  function gridStyle(gi) {
    if (unitTheme()) {
      return { fillOpacity: 0, opacity: 0, fill: true, stroke: false };
    }
    var col = gridColour(gi);
    return {
      fill: true, stroke: true, fillColor: col, color: col,
      fillOpacity: GRID_OPACITY, opacity: GRID_OPACITY, weight: 0.6
    };
  }
  // Built on first use: at country zoom the risk theme draws display tiers (map_tiers.js).
  var gridBuilt = false;
  function buildGrid() {
    if (gridBuilt) { return; }
    gridBuilt = true;
    gShapes = decodeShapes(G.shapes);
    for (var gi = 0; gi < gShapes.length; gi++) {
      if (!gShapes[gi].length) { continue; }
      var opts = gridStyle(gi);
      opts.renderer = R; opts.gi = gi; opts.smoothFactor = 0.5; opts.bubblingMouseEvents = false;
      polys[gi] = L.polygon(gShapes[gi], opts);
      gridGroup.addLayer(polys[gi]);
      drawn++;
    }
    api.stats.polygonsDrawn = drawn;
  }
  function showGrid() {
    buildGrid();
    for (var i = 0; i < polys.length; i++) { if (polys[i]) { polys[i].setStyle(gridStyle(i)); } }
    gridGroup.addTo(map);
  }
  function hideGrid() { if (map.hasLayer(gridGroup)) { map.removeLayer(gridGroup); } }
  var tiers = geoRiskTiers({
    map: map, data: data, renderer: R, el: el, add: add, row: row, fmtProb: fmtProb,
    classOf: classOf, decodeShapes: decodeShapes, admins: G.admins, S: S, state: state,
    partialGrid: G.nDetail < G.nCells, nDetail: G.nDetail,
    currentWeek: currentWeek, noData: S.noData, opacity: GRID_OPACITY, cellAreaKm2: meta.cellAreaKm2,
    weekDate: function () { return weeks[state.week].date; },
    wantsTiers: function () { return state.theme === 'risk'; },
    hover: function (key, content, ll, shape) { showTip(key, content, ll, shape); },
    hoverEnd: function () { hoverEnd(); }, showGrid: showGrid, hideGrid: hideGrid
  });
  var api = { stats: { polygonsDrawn: drawn } };

  // ------------------------------------------------------------------ overlays
  var overlays = [];
  // Outside the admin units, painted in the background colour: coarse display cells overhang
  // the border, and the country keeps its shape at every zoom.
  var mask = null;
  if (B && B.mask) {
    var maskShape = decodeShapes(B.mask)[0];
    if (maskShape && maskShape.length) {
      mask = L.polygon(maskShape, {
        renderer: R, interactive: false, stroke: false, fill: true, fillColor: '#eef0ec',
        fillOpacity: hasBasemap ? 0.6 : 1
      }).addTo(map);
    }
  }
  if (tiers.overlay) { overlays.push(tiers.overlay); }
  function outlineLayer(sh, style) {
    var items = decodeShapes(sh);
    var group = L.featureGroup();
    items.forEach(function (item) {
      if (item.length) { group.addLayer(L.polygon(item, L.extend({ renderer: R, interactive: false }, style))); }
    });
    return group;
  }

  if (data.under && data.under.nCells > 0) {
    overlays.push({
      key: 'under', label: 'Under-engaged communities', on: true,
      layers: [outlineLayer(data.under, {
        color: '#b0127f', weight: 2.4, dashArray: '7 4', fill: true,
        fillColor: '#b0127f', fillOpacity: 0.13
      })],
      legend: [{ cls: 'gr-sw-under', text: 'Under-engaged communities (high risk, little engagement)' }]
    });
  }

  var RSEV = { 1: '#9c7400', 2: '#d9480f', 3: '#7a0019' };
  var RSEV_TEXT = { 1: 'low', 2: 'medium', 3: 'high' };
  var restr = data.restrictions;
  var rShapes = restr ? decodeShapes(restr.shapes) : [];
  var rBoxes = rShapes.map(function (item) { return item.length ? bboxOf(item) : [1, 1, -1, -1]; });
  if (restr || (data.restrictedCells && data.restrictedCells.nCells > 0)) {
    var accessLayers = [];
    var accessLegend = [];
    if (data.restrictedCells && data.restrictedCells.nCells > 0) {
      accessLayers.push(outlineLayer(data.restrictedCells, {
        color: '#262626', weight: 1.4, fill: true, fillColor: hatch('rgba(20,20,20,0.75)'), fillOpacity: 1
      }));
      accessLegend.push({ cls: 'gr-sw-restricted', text: 'Inaccessible cells' });
    }
    if (restr) {
      var rg = L.featureGroup();
      rShapes.forEach(function (item, i) {
        if (!item.length) { return; }
        var col = RSEV[restr.severity[i]] || '#555';
        rg.addLayer(L.polygon(item, {
          renderer: R, interactive: false, color: col, weight: 2, dashArray: '4 3',
          fill: true, fillColor: hatch(col), fillOpacity: 1
        }));
      });
      accessLayers.push(rg);
      [3, 2, 1].forEach(function (s) {
        if (restr.severity.indexOf(s) >= 0) {
          accessLegend.push({ cls: 'gr-sw-sev' + s, text: 'Restriction in force, ' + RSEV_TEXT[s] + ' severity' });
        }
      });
    }
    overlays.push({ key: 'access', label: 'Access restrictions in force', on: true, layers: accessLayers, legend: accessLegend });
  }

  var labels = [];
  if (B) {
    var bg = L.featureGroup();
    var bPolys = [];
    bShapes.forEach(function (item, i) {
      if (!item.length) { return; }
      var poly = L.polygon(item, {
        renderer: R, interactive: false, color: '#2b2b2b', weight: 1.1, opacity: 0.9,
        fill: false, fillOpacity: 0.9, smoothFactor: 1
      });
      poly.gr_i = i;
      bPolys.push(poly);
      bg.addLayer(poly);
    });
    var lg = L.layerGroup();
    bShapes.forEach(function (item, i) {
      if (!B.label[i]) { return; }
      var span = el('span', 'gr-label-text', B.name[i]);
      var holder = el('div');
      holder.appendChild(span);
      var m = L.marker(B.label[i], {
        icon: L.divIcon({ className: 'gr-label', html: holder, iconSize: null }),
        interactive: false, keyboard: false, pane: 'gr-labels'
      });
      lg.addLayer(m);
      var bb = item.length ? bboxOf(item) : [0, 0, 0, 0];
      labels.push({ span: span, latlng: L.latLng(B.label[i]), rank: (bb[2] - bb[0]) * (bb[3] - bb[1]), prio: 0 });
    });
    overlays.push({
      key: 'boundaries', label: 'Admin boundaries and names', on: true, layers: [bg, lg],
      legend: [{ cls: 'gr-sw-admin', text: 'Admin boundary' }], bPolys: bPolys
    });
  }

  if ((data.bases && data.bases.length) || (data.reach && data.reach.nCells > 0)) {
    var reach = L.featureGroup();
    var marks = L.featureGroup();
    var baseLabels = L.layerGroup();
    var anyClosed = false;
    if (data.reach && data.reach.nCells > 0) {
      // Reach measured along the road network: the outline of the cells it reaches.
      reach.addLayer(outlineLayer(data.reach, {
        color: '#1d3b8f', weight: 1.4, dashArray: '5 4', fill: true, fillColor: '#1d3b8f', fillOpacity: 0.04
      }));
    }
    (data.bases || []).forEach(function (b) {
      if (b.open && b.reachKm && !data.reach) {
        reach.addLayer(L.circle([b.lat, b.lon], {
          radius: b.reachKm * 1000, renderer: R, interactive: false, color: '#1d3b8f',
          weight: 1.4, dashArray: '5 4', fill: true, fillColor: '#1d3b8f', fillOpacity: 0.04
        }));
      }
      // A base closed before the week is greyed and hollow, never drawn as open.
      var mk = L.circleMarker([b.lat, b.lon], b.open
        ? { renderer: R, radius: 6, color: '#ffffff', weight: 2, fillColor: '#1d3b8f', fillOpacity: 1 }
        : { renderer: R, radius: 5, color: '#8a8a8a', weight: 2, fillColor: '#ffffff', fillOpacity: 1, dashArray: '2 2' });
      if (!b.open) { anyClosed = true; }
      mk.bindTooltip(function () { return baseTip(b); }, { direction: 'top', offset: [0, -7], className: 'gr-tip', opacity: 1 });
      mk.on('click', function (e) { L.popup({ maxWidth: 320, className: 'gr-popup' }).setLatLng(e.latlng).setContent(baseTip(b)).openOn(map); });
      marks.addLayer(mk);
      var text = b.open ? b.name : b.name + ' (closed ' + b.closed + ')';
      var span = el('span', 'gr-label-text gr-base-label' + (b.open ? '' : ' gr-base-closed'), text);
      var holder = el('div');
      holder.appendChild(span);
      baseLabels.addLayer(L.marker([b.lat, b.lon], {
        icon: L.divIcon({ className: 'gr-label', html: holder, iconSize: null }),
        interactive: false, keyboard: false, pane: 'gr-labels'
      }));
      // Unit names are placed first; a base label takes a free side of its marker or hides.
      labels.push({ span: span, latlng: L.latLng(b.lat, b.lon), rank: b.open ? 1 : 0, prio: 1, base: true });
    });
    var bLegend = [];
    if (data.bases && data.bases.length) { bLegend.push({ cls: 'gr-sw-base', text: 'Mission base, open (hover for liaison staff)' }); }
    if (anyClosed) { bLegend.push({ cls: 'gr-sw-base-closed', text: 'Base closed before this week (with its close date)' }); }
    if (reach.getLayers().length) {
      bLegend.push({ cls: 'gr-sw-reach', text: data.reach ? 'Reachable from open bases along the road network' : 'Base reach (straight line)' });
    }
    overlays.push({ key: 'bases', label: 'Bases and their reach', on: true, layers: [reach, marks, baseLabels], legend: bLegend });
  }

  function baseTip(b) {
    var box = el('div', 'gr-tip-body');
    add(box, el('div', 'gr-tip-title', b.name));
    var tb = add(box, el('table', 'gr-tip-table'));
    if (!b.open) { row(tb, 'Status', 'closed on ' + b.closed + ' (before this week)', 'gr-tip-warn'); }
    if (b.staff !== null && b.staff !== undefined) { row(tb, 'Liaison staff', b.staff); }
    if (b.open && b.reachKm) { row(tb, 'Reach', b.reachKm + ' km'); }
    return box;
  }

  // ------------------------------------------------------------------ tooltip for cells
  function row(table, label, value, cls) {
    var tr = add(table, el('tr', cls));
    add(tr, el('th', null, label));
    add(tr, el('td', null, value));
    return tr;
  }
  function restrictionsAt(ll) {
    var hits = [];
    if (!restr) { return hits; }
    for (var i = 0; i < rShapes.length; i++) {
      if (rShapes[i].length && inItem(rShapes[i], rBoxes[i], ll)) { hits.push(i); }
    }
    return hits;
  }
  function cellTip(gi, ll) {
    var box = el('div', 'gr-tip-body');
    var admin = G.admins[cols.admin[gi]] || ['', ''];
    var head = add(box, el('div', 'gr-tip-title', admin[1] || 'Unnamed area'));
    add(head, el('span', 'gr-tip-code', admin[0] || 'no P-code'));
    var tb = add(box, el('table', 'gr-tip-table'));
    var wi = state.week;
    var q = weekRisk(gi, wi);
    var probLabel = wi === currentWeek ? 'Probability' : 'Probability (week of ' + weeks[wi].date + ')';
    var probText = fmtProb(q);
    if (wi === currentWeek && cols.band && cols.band[gi] >= 0) { probText += ' \u00b7 ' + G.tables.band[cols.band[gi]]; }
    row(tb, probLabel, probText, 'gr-tip-prob');
    add(tb, el('tr', 'gr-tip-unit')).appendChild(el('td', null, 'of \u22651 incident in the week')).colSpan = 2;
    if (wi === currentWeek && cols.low && cols.high && cols.low[gi] >= 0 && cols.high[gi] >= 0) {
      row(tb, 'Interval', fmtProb(cols.low[gi]) + ' \u2013 ' + fmtProb(cols.high[gi]));
    }
    var p = prevRisk(gi, wi);
    if (hasChange) { row(tb, 'Change vs week before', (q >= 0 && p >= 0) ? fmtPP(q - p) : 'n/a'); }
    if (cols.trend) { row(tb, 'Trend', cols.trend[gi] >= 0 ? G.tables.trend[cols.trend[gi]] : 'n/a'); }
    if (cols.drivers && cols.drivers[gi] >= 0) { row(tb, 'Top drivers', G.tables.drivers[cols.drivers[gi]]); }
    if (cols.inc4 || cols.inc52) {
      var parts = [];
      if (cols.inc4) { parts.push((cols.inc4[gi] >= 0 ? cols.inc4[gi] : 'n/a') + ' in last 4 wk'); }
      if (cols.inc52) { parts.push((cols.inc52[gi] >= 0 ? cols.inc52[gi] : 'n/a') + ' in last 52 wk'); }
      row(tb, 'Incidents', parts.join(', '));
    }
    if (cols.eng || cols.status) {
      var eparts = [];
      if (cols.status && cols.status[gi] >= 0) { eparts.push(G.tables.status[cols.status[gi]]); }
      if (cols.eng) { eparts.push(cols.eng[gi] >= 0 ? cols.eng[gi] + ' engagements in 12 wk' : 'count suppressed'); }
      row(tb, 'Engagement', eparts.join(' \u00b7 ') || 'n/a');
    }
    if (unitEngagement && admin[0] in pcodeIndex) {
      var ui = pcodeIndex[admin[0]], uc = B.engagement.codes[ui];
      var ut = uc >= 0 ? B.engagement.values[uc] : 'n/a';
      if (B.engagements && B.engagements[ui] >= 0) { ut += ' \u00b7 ' + B.engagements[ui] + ' engagements'; }
      row(tb, 'Unit engagement', ut);
    }
    if (uThemes[state.theme] && admin[0] in pcodeIndex) {
      var tt = uThemes[state.theme], tc = tt.codes[pcodeIndex[admin[0]]];
      row(tb, tt.label.replace(/ \(.*\)$/, ''), tc >= 0 ? tt.values[tc].replace(/_/g, ' ') : 'n/a');
      if (tt.detail && tt.detail[pcodeIndex[admin[0]]]) { row(tb, '', tt.detail[pcodeIndex[admin[0]]]); }
    }
    if (cols.under && cols.under[gi] === 1) {
      var why = cols.ureason && cols.ureason[gi] >= 0 ? G.tables.ureason[cols.ureason[gi]] : 'high risk and little engagement';
      row(tb, 'Under-engaged', why, 'gr-tip-warn');
    }
    if (cols.restricted) {
      row(tb, 'Access', cols.restricted[gi] === 1 ? 'restricted' : cols.restricted[gi] === 0 ? 'accessible' : 'n/a',
          cols.restricted[gi] === 1 ? 'gr-tip-warn' : null);
    }
    restrictionsAt(ll).forEach(function (i) {
      var txt = restr.cause[i] + ' (' + (RSEV_TEXT[restr.severity[i]] || '?') + ' severity)';
      if (restr.start[i]) { txt += ', since ' + restr.start[i]; }
      if (restr.end[i]) { txt += ', until ' + restr.end[i]; }
      if (restr.id[i]) { txt += ' [' + restr.id[i] + ']'; }
      row(tb, 'Restriction', txt, 'gr-tip-warn');
    });
    if (B && B.level && admin[0] in levelOfPcode) {
      var li = levelOfPcode[admin[0]];
      row(tb, 'Admin risk level', B.level.values[B.level.codes[li]]);
    }
    var n = cols.cells[gi];
    add(box, el('div', 'gr-tip-foot', n === 1 ? 'One grid cell (\u2248' + meta.cellAreaKm2 + ' km\u00b2)'
      : n.toLocaleString('en') + ' grid cells with these values (\u2248' + Math.round(n * meta.cellAreaKm2).toLocaleString('en') + ' km\u00b2)'));
    return box;
  }

  var tip = L.tooltip({ direction: 'right', offset: [16, 0], className: 'gr-tip gr-cell-tip', opacity: 1 });
  var hl = L.polygon([], { renderer: R, interactive: false, fill: false, color: '#111', weight: 2.2 });
  var tipKey = null;
  function showTip(key, content, ll, shape) {
    key += '|' + state.week + '|' + state.theme;
    tip.setLatLng(ll);
    if (key !== tipKey) {
      tip.setContent(content());
      tipKey = key;
      hl.setLatLngs(shape);
      if (!map.hasLayer(hl)) { hl.addTo(map); } else { hl.bringToFront(); }
    }
    if (!map.hasLayer(tip)) { map.openTooltip(tip); }
  }
  function hoverAt(gi, ll) {
    showTip(gi + '|' + restrictionsAt(ll).join(','), function () { return cellTip(gi, ll); }, ll, gShapes[gi]);
  }
  function hoverEnd() {
    tipKey = null;
    if (map.hasLayer(tip)) { map.closeTooltip(tip); }
    if (map.hasLayer(hl)) { map.removeLayer(hl); }
  }
  function layerGi(e) {
    var layer = e.propagatedFrom || e.layer || e.target;
    return layer && layer.options ? layer.options.gi : undefined;
  }
  gridGroup.on('mousemove', function (e) {
    var gi = layerGi(e);
    if (gi !== undefined) { hoverAt(gi, e.latlng); }
  });
  gridGroup.on('mouseout', hoverEnd);
  gridGroup.on('click', function (e) {
    var gi = layerGi(e);
    if (gi === undefined) { return; }
    hoverEnd();
    L.popup({ maxWidth: 340, className: 'gr-popup' }).setLatLng(e.latlng).setContent(cellTip(gi, e.latlng)).openOn(map);
  });

  // ------------------------------------------------------------------ labels without overlap
  function placeLabels() {
    var size = map.getSize();
    // Panels (title, layers, legend, zoom) hide the labels underneath them.
    var origin = map.getContainer().getBoundingClientRect();
    var placed = [].map.call(map.getContainer().querySelectorAll('.leaflet-control'), function (c) {
      var r = c.getBoundingClientRect();
      return [r.left - origin.left, r.top - origin.top, r.right - origin.left, r.bottom - origin.top];
    });
    labels.forEach(function (lab) {
      if (lab.w === undefined) {
        if (!lab.span.offsetParent) { return; }
        lab.w = lab.span.offsetWidth; lab.h = lab.span.offsetHeight;
      }
      var pt = map.latLngToContainerPoint(lab.latlng);
      // Unit names centre on their point; a base label tries right, left, above, below.
      var spots = lab.base
        ? [[8, -lab.h / 2], [-8 - lab.w, -lab.h / 2], [-lab.w / 2, -8 - lab.h], [-lab.w / 2, 8]]
        : [[-lab.w / 2, -lab.h / 2]];
      var ok = false, bx = null;
      for (var k = 0; !ok && k < spots.length; k++) {
        var x0 = pt.x + spots[k][0], y0 = pt.y + spots[k][1];
        bx = [x0 - 3, y0 - 1, x0 + lab.w + 3, y0 + lab.h + 1];
        ok = bx[0] >= 0 && bx[1] >= 0 && bx[2] <= size.x && bx[3] <= size.y;
        for (var i = 0; ok && i < placed.length; i++) {
          var o = placed[i];
          if (bx[0] < o[2] && bx[2] > o[0] && bx[1] < o[3] && bx[3] > o[1]) { ok = false; }
        }
        if (ok && lab.base) { lab.span.style.left = spots[k][0] + 'px'; lab.span.style.top = spots[k][1] + 'px'; }
      }
      lab.span.style.visibility = ok ? 'visible' : 'hidden';
      lab.placed = ok ? bx : null;
      if (ok) { placed.push(bx); }
    });
  }
  labels.sort(function (a, b) { return a.prio - b.prio || b.rank - a.rank; });
  map.on('zoomend moveend resize', placeLabels);
  // A new zoom or theme may call for another display tier: swap it in under the overlays.
  function tierSwitch() {
    if (!tiers.update()) { return false; }
    if (mask) { mask.bringToFront(); }
    orderLayers();
    return true;
  }
  map.on('zoomend', function () { if (tierSwitch()) { buildLegend(); } });

  // ------------------------------------------------------------------ themes, legend, controls
  var themes = [{ key: 'risk', label: 'Risk probability' }];
  if (hasChange) { themes.push({ key: 'change', label: 'Change vs last week' }); }
  if (cols.trend) { themes.push({ key: 'trend', label: 'Trend class' }); }
  if (cols.status || unitEngagement) {
    themes.push({ key: 'engagement', label: unitEngagement ? 'Engagement coverage (admin units)' : 'Engagement coverage' });
  }
  if (B && B.level) { themes.push({ key: 'level', label: 'Admin risk level (matrix)' }); }
  Object.keys(uThemes).forEach(function (k) { themes.push({ key: k, label: uThemes[k].label }); });

  function restyle() {
    if (!tierSwitch()) { tiers.restyle(); }
    for (var i = 0; i < polys.length; i++) { if (polys[i]) { polys[i].setStyle(gridStyle(i)); } }
    var bo = overlays.filter(function (o) { return o.key === 'boundaries'; })[0];
    if (bo) {
      bo.bPolys.forEach(function (poly) {
        var fillColour = state.theme === 'level' ? levelColour(poly.gr_i)
          : uThemes[state.theme] ? uThemeColour(uThemes[state.theme], poly.gr_i)
          : unitTheme() ? unitEngColour(poly.gr_i) : null;
        poly.setStyle(fillColour ? { fill: true, fillColor: fillColour, fillOpacity: 0.85 } : { fill: false });
      });
    }
    tipKey = null;
    buildLegend();
  }

  function classLabels(breaks, fmt, lowWord, highWord) {
    var out = [];
    for (var i = 0; i <= breaks.length; i++) {
      if (i === 0) { out.push(lowWord + ' ' + fmt(breaks[0])); }
      else if (i === breaks.length) { out.push(highWord + ' ' + fmt(breaks[i - 1])); }
      else { out.push(fmt(breaks[i - 1]) + ' \u2013 ' + fmt(breaks[i])); }
    }
    return out;
  }
  function swatchRow(parent, colour, text, cls) {
    var r = add(parent, el('div', 'gr-legend-row'));
    var sw = add(r, el('span', 'gr-sw ' + (cls || '')));
    if (colour) { sw.style.background = colour; }
    add(r, el('span', 'gr-legend-text', text));
  }

  var legendDiv = el('div', 'gr-panel gr-legend');
  legendDiv.id = 'geo-risk-legend';
  function buildLegend() {
    legendDiv.textContent = '';
    var th = state.theme, i;
    if (th === 'risk') {
      tiers.legend(legendDiv, swatchRow, state.week !== currentWeek);
    } else if (th === 'change') {
      add(legendDiv, el('div', 'gr-legend-title', S.change.title));
      add(legendDiv, el('div', 'gr-legend-unit', S.change.unit));
      var cl = classLabels(S.change.breaks, fmtPP, '<', '\u2265');
      cl[Math.floor(cl.length / 2)] = 'little change (' + cl[Math.floor(cl.length / 2)] + ')';
      for (i = S.change.colours.length - 1; i >= 0; i--) { swatchRow(legendDiv, S.change.colours[i], cl[i]); }
    } else if (th === 'engagement' && unitEngagement) {
      add(legendDiv, el('div', 'gr-legend-title', 'Engagement coverage per admin unit'));
      add(legendDiv, el('div', 'gr-legend-unit', 'as in the risk-assessment matrix; small counts suppressed'));
      B.engagement.values.forEach(function (v, j) {
        var n = B.engagement.codes.filter(function (c) { return c === j; }).length;
        swatchRow(legendDiv, B.engagement.colours[j], v + ' (' + n + (n === 1 ? ' unit)' : ' units)'));
      });
    } else if (th === 'trend' || th === 'engagement') {
      var key = th === 'trend' ? 'trend' : 'status';
      add(legendDiv, el('div', 'gr-legend-title', th === 'trend' ? 'Trend class' : 'Engagement coverage'));
      add(legendDiv, el('div', 'gr-legend-unit', th === 'trend' ? 'incident trend of each cell'
        : 'community engagement, last 12 weeks; small counts suppressed'));
      G.tables[key].forEach(function (v, j) { swatchRow(legendDiv, colours[key][j], v); });
    } else if (uThemes[th]) {
      var ut = uThemes[th];
      add(legendDiv, el('div', 'gr-legend-title', ut.label));
      add(legendDiv, el('div', 'gr-legend-unit', ut.note));
      ut.values.forEach(function (v, j) {
        var n = ut.codes.filter(function (c) { return c === j; }).length;
        swatchRow(legendDiv, ut.colours[j], v.replace(/_/g, ' ') + ' (' + n + (n === 1 ? ' unit)' : ' units)'));
      });
    } else if (th === 'level') {
      add(legendDiv, el('div', 'gr-legend-title', 'Admin risk level'));
      add(legendDiv, el('div', 'gr-legend-unit', 'from the risk-assessment matrix'));
      B.level.values.forEach(function (v, j) { swatchRow(legendDiv, B.level.colours[j], v); });
    }
    swatchRow(legendDiv, S.noData, th === 'change' ? 'no data for one of the two weeks' : 'no data');
    var extra = overlays.filter(function (o) { return state.overlays[o.key] && o.legend; });
    if (extra.length) {
      add(legendDiv, el('div', 'gr-legend-sep'));
      extra.forEach(function (o) { o.legend.forEach(function (e) { swatchRow(legendDiv, null, e.text, e.cls); }); });
    }
  }

  function orderLayers() {
    overlays.forEach(function (o) {
      if (!state.overlays[o.key]) { return; }
      o.layers.forEach(function (layer) { if (layer.bringToFront) { layer.bringToFront(); } });
    });
  }
  function setOverlay(key, on) {
    overlays.forEach(function (o) {
      if (o.key !== key) { return; }
      state.overlays[key] = !!on;
      o.layers.forEach(function (layer) { if (on) { layer.addTo(map); } else { map.removeLayer(layer); } });
    });
    orderLayers();
    buildLegend();
    placeLabels();
  }
  function setTheme(key) {
    state.theme = key;
    restyle();
    var input = document.getElementById('gr-theme-' + key);
    if (input) { input.checked = true; }
  }
  function setWeek(wi) {
    state.week = Math.max(0, Math.min(weeks.length - 1, wi));
    var sel = document.getElementById('gr-week');
    if (sel) { sel.value = String(state.week); }
    restyle();
    updateShowing();
  }

  // Title block.
  var titleDiv = el('div', 'gr-panel gr-title');
  titleDiv.id = 'geo-risk-title';
  if (meta.synthetic) {
    var syn = add(titleDiv, el('div', 'gr-synthetic-tag', 'SYNTHETIC DATA'));
    syn.title = 'Generated data for testing and training; not real events';
  }
  add(titleDiv, el('h1', 'gr-title-text', meta.title));
  add(titleDiv, el('div', 'gr-title-week', 'Forecast week ' + meta.week + ' to ' + meta.weekEnd));
  var showing = add(titleDiv, el('div', 'gr-title-showing'));
  function updateShowing() {
    showing.textContent = state.week === currentWeek ? '' : 'Showing risk for the week of ' + weeks[state.week].date;
    showing.style.display = state.week === currentWeek ? 'none' : 'block';
  }
  updateShowing();
  add(titleDiv, el('div', 'gr-title-grid', 'H3 resolution ' + meta.resolution + ' grid, cells \u2248' + meta.cellAreaKm2 +
    ' km\u00b2, ' + G.nCells.toLocaleString('en') + ' cells'));
  if (meta.freshness.length) {
    var fr = add(titleDiv, el('div', 'gr-title-section'));
    add(fr, el('div', 'gr-title-h', 'Data freshness (newest record)'));
    var ful = add(fr, el('ul', 'gr-list'));
    meta.freshness.forEach(function (f) {
      var li = add(ful, el('li', f[2] ? 'gr-stale' : null, f[0] + ': ' + f[1]));
      if (f[2]) { add(li, el('span', 'gr-stale-tag', 'STALE')); }
    });
  }
  if (meta.notes.length) {
    var nt = add(titleDiv, el('div', 'gr-title-section'));
    var nul = add(nt, el('ul', 'gr-list'));
    meta.notes.forEach(function (s) { add(nul, el('li', null, s)); });
  }
  if (meta.sources.length) {
    var so = add(titleDiv, el('div', 'gr-title-section gr-sources'));
    add(so, el('span', 'gr-title-h', 'Sources: '));
    add(so, el('span', null, meta.sources.join('; ')));
  }
  var TitleControl = L.Control.extend({
    options: { position: 'topleft' },
    onAdd: function () { L.DomEvent.disableScrollPropagation(titleDiv); return titleDiv; }
  });
  new TitleControl().addTo(map);
  L.control.zoom({ position: 'topright' }).addTo(map);

  // Layer switcher (our own; no images).
  var layersDiv = el('div', 'gr-panel gr-layers');
  layersDiv.id = 'geo-risk-layers';
  add(layersDiv, el('div', 'gr-legend-title', 'Colour cells by'));
  themes.forEach(function (t) {
    var lab = add(layersDiv, el('label', 'gr-choice'));
    var input = add(lab, el('input'));
    input.type = 'radio'; input.name = 'gr-theme'; input.id = 'gr-theme-' + t.key; input.value = t.key;
    input.checked = t.key === state.theme;
    input.addEventListener('change', function () { if (input.checked) { setTheme(t.key); } });
    add(lab, el('span', null, t.label));
  });
  if (weeks.length > 1) {
    var wl = add(layersDiv, el('label', 'gr-week'));
    add(wl, el('span', 'gr-legend-title', 'Week'));
    var sel = add(wl, el('select'));
    sel.id = 'gr-week';
    weeks.forEach(function (w, i) {
      var o = add(sel, el('option', null, w.date + (i === currentWeek ? ' (forecast)' : '')));
      o.value = String(i);
    });
    sel.value = String(state.week);
    sel.addEventListener('change', function () { setWeek(parseInt(sel.value, 10)); });
  }
  if (overlays.length) {
    add(layersDiv, el('div', 'gr-legend-title gr-layers-h', 'Show'));
    overlays.forEach(function (o) {
      var lab = add(layersDiv, el('label', 'gr-choice'));
      var input = add(lab, el('input'));
      input.type = 'checkbox'; input.id = 'gr-overlay-' + o.key; input.checked = o.on;
      input.addEventListener('change', function () { setOverlay(o.key, input.checked); });
      add(lab, el('span', null, o.label));
    });
  }
  var LayersControl = L.Control.extend({
    options: { position: 'topright' },
    onAdd: function () { L.DomEvent.disableClickPropagation(layersDiv); L.DomEvent.disableScrollPropagation(layersDiv); return layersDiv; }
  });
  new LayersControl().addTo(map);
  var LegendControl = L.Control.extend({
    options: { position: 'bottomright' },
    onAdd: function () { L.DomEvent.disableScrollPropagation(legendDiv); return legendDiv; }
  });
  new LegendControl().addTo(map);

  if (meta.synthetic) {
    var banner = el('div', 'gr-synthetic-banner', 'SYNTHETIC DATA \u2014 not real events; for testing and training only');
    banner.id = 'geo-risk-synthetic';
    map.getContainer().appendChild(banner);
  }

  tierSwitch();
  overlays.forEach(function (o) { setOverlay(o.key, o.on); });
  buildLegend();
  placeLabels();

  // ------------------------------------------------------------------ for tests and benchmarks
  api = {
    map: map, data: data, state: state, polygons: polys, gridGroup: gridGroup, tiers: tiers,
    stats: {
      groups: G.shapes.n, polygonsDrawn: drawn, boundaries: bShapes.length,
      labels: labels.length, restrictions: rShapes.length,
      bases: data.bases ? data.bases.length : 0
    },
    setTheme: setTheme, setWeek: setWeek, setOverlay: setOverlay,
    buildMs: performance.now() - t0, painted: false, paintedAt: null
  };
  window.geoRisk = api;
  requestAnimationFrame(function () {
    requestAnimationFrame(function () { api.painted = true; api.paintedAt = performance.now(); });
  });
  return api;
}
