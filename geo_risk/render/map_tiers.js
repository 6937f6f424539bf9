/*
 * geo-risk weekly risk map: display tiers and hot cells (our own code, inlined before map.js).
 *
 * At country zoom the risk theme draws coarser H3 parent cells (data.display.tiers, built by
 * geo_risk.render.map_tiers): the sum of their cells' probabilities (or, with fixed classes,
 * the highest cell probability), coloured by classes that follow this week's data. Once the
 * grid's own cells are big enough to see, map.js draws them instead. The hottest cells are
 * marked at every zoom. Every text from data goes into the page with textContent.
 */
/* global L */
/* exported geoRiskTiers */
function geoRiskTiers(ctx) {
  'use strict';
  var map = ctx.map;
  var D = ctx.data.display || { tiers: [], hot: [] };
  var tiers = D.tiers || [];
  var built = tiers.map(function () { return null; });
  var active = null; // -1: the grid at full resolution (map.js); null before the first update
  var under = -1; // a continent's grid draws only its hottest cells: the finest tier under them

  function kmPerPx() {
    var lat = map.getCenter().lat * Math.PI / 180;
    return 40075.016686 * Math.cos(lat) / (256 * Math.pow(2, map.getZoom()));
  }
  // The same rule as geo_risk.render.map_tiers.pick_tier.
  function pick() {
    if (!tiers.length || !ctx.wantsTiers()) { return -1; }
    var kpp = kmPerPx();
    if (D.fullWidthKm / kpp >= D.fullMinPx) { return -1; }
    for (var k = tiers.length - 1; k >= 0; k--) {
      if (tiers[k].widthKm / kpp >= D.tierMinPx) { return k; }
    }
    return 0;
  }
  function value(T, i) {
    var wi = ctx.state.week;
    return wi === ctx.currentWeek ? T.v[i] : T.hist[wi][i];
  }
  function style(T, i) {
    var v = value(T, i);
    var c = v < 0 ? ctx.noData : T.classes.colours[ctx.classOf(v, T.classes.breaks)];
    return {
      fill: true, stroke: true, fillColor: c, color: c,
      fillOpacity: ctx.opacity, opacity: ctx.opacity, weight: 0.6
    };
  }
  function fmtExp(u) {
    if (u === undefined || u === null || u < 0) { return 'n/a'; }
    return String(Number((u / 1e4).toPrecision(2)));
  }
  function fmtFine(u) { // probability in units of 1e-8
    return String(Number((u / 1e6).toPrecision(2))) + '%';
  }
  function fmtShare(s) {
    var pct = s * 100;
    return (pct < 1 ? pct.toFixed(1) : pct.toFixed(0)) + '% of the area';
  }

  function tip(k, i) {
    var T = tiers[k];
    var box = ctx.el('div', 'gr-tip-body');
    var admin = ctx.admins[T.topAdmin[i]] || ['', ''];
    var head = ctx.add(box, ctx.el('div', 'gr-tip-title', 'Area around ' + (admin[1] || 'an unnamed unit')));
    ctx.add(head, ctx.el('span', 'gr-tip-code', admin[0] || 'no P-code'));
    var tb = ctx.add(box, ctx.el('table', 'gr-tip-table'));
    var v = value(T, i);
    var past = ctx.state.week !== ctx.currentWeek;
    if (D.mode === 'fixed') {
      ctx.row(tb, 'Highest cell probability', ctx.fmtProb(v), 'gr-tip-prob');
    } else {
      if (!past) {
        // The sum, from the density (two significant digits) and the mapped area.
        var sum = Math.round(v * T.n[i] * ctx.cellAreaKm2 / 1000);
        ctx.row(tb, 'Expected incidents', '\u2248' + fmtExp(sum), 'gr-tip-prob');
        ctx.add(tb, ctx.el('tr', 'gr-tip-unit')).appendChild(
          ctx.el('td', null, 'sum of its cells\u2019 probabilities of \u22651 incident next week')).colSpan = 2;
      }
      ctx.row(tb, 'Per 1,000 km\u00b2', fmtExp(v) + (past ? ' (week of ' + ctx.weekDate() + ')' : ''));
      if (!past) { ctx.row(tb, 'Highest cell', ctx.fmtProb(T.top[i]) + ' in ' + (admin[1] || admin[0] || 'n/a')); }
    }
    if (v >= 0) {
      var c = ctx.classOf(v, T.classes.breaks);
      var labels = classLabels(T.classes, D.mode === 'fixed' ? ctx.fmtProb : fmtExp);
      ctx.row(tb, 'Class', labels[c]);
    }
    ctx.add(box, ctx.el('div', 'gr-tip-foot', T.n[i].toLocaleString('en') + ' grid cells in this H3 resolution-' + T.res +
      ' hexagon (\u2248' + Math.round(T.areaKm2).toLocaleString('en') + ' km\u00b2); zoom in for each cell'));
    return box;
  }

  function build(k) {
    var T = tiers[k];
    var shapes = ctx.decodeShapes(T.shapes);
    var group = L.featureGroup();
    var polys = new Array(shapes.length);
    for (var i = 0; i < shapes.length; i++) {
      if (!shapes[i].length) { continue; }
      var o = style(T, i);
      o.renderer = ctx.renderer; o.ti = i; o.smoothFactor = 0.5; o.bubblingMouseEvents = false;
      polys[i] = L.polygon(shapes[i], o);
      group.addLayer(polys[i]);
    }
    function at(e) {
      var l = e.propagatedFrom || e.layer || e.target;
      return l && l.options ? l.options.ti : undefined;
    }
    group.on('mousemove', function (e) {
      var i = at(e);
      if (i !== undefined) { ctx.hover('t' + k + '|' + i, function () { return tip(k, i); }, e.latlng, shapes[i]); }
    });
    group.on('mouseout', ctx.hoverEnd);
    group.on('click', function (e) {
      var i = at(e);
      if (i === undefined) { return; }
      ctx.hoverEnd();
      L.popup({ maxWidth: 340, className: 'gr-popup' }).setLatLng(e.latlng).setContent(tip(k, i)).openOn(map);
    });
    return { group: group, polys: polys };
  }

  function restyle() {
    built.forEach(function (b, k) {
      if (!b) { return; }
      for (var i = 0; i < b.polys.length; i++) { if (b.polys[i]) { b.polys[i].setStyle(style(tiers[k], i)); } }
    });
  }

  // Switch to the tier the current zoom and theme call for; true when it changed.
  function update() {
    var k = pick();
    if (k === active) { return false; }
    if (active !== null && active >= 0) { map.removeLayer(built[active].group); }
    if (active === -1) { ctx.hideGrid(); }
    if (under >= 0) { map.removeLayer(built[under].group); under = -1; }
    active = k;
    if (k < 0 && ctx.partialGrid && tiers.length) { under = tiers.length - 1; }
    var show = k >= 0 ? k : under;
    if (show >= 0) {
      if (!built[show]) { built[show] = build(show); }
      built[show].group.addTo(map);
      restyle();
    }
    if (k < 0) { ctx.showGrid(); }
    ctx.hoverEnd();
    return true;
  }

  function classLabels(C, fmt) {
    var out = [], b = C.breaks;
    for (var i = 0; i <= b.length; i++) {
      var t = i === 0 ? (b.length ? '< ' + fmt(b[0]) : 'all') : i === b.length ? '\u2265 ' + fmt(b[i - 1])
        : fmt(b[i - 1]) + ' \u2013 ' + fmt(b[i]);
      if (C.shares && C.shares.length === b.length + 1) { t += ' (' + fmtShare(C.shares[i]) + ')'; }
      out.push(t);
    }
    return out;
  }

  // Legend of the risk theme: the active tier's, or the cells' (full resolution).
  function legend(div, swatchRow, pastWeek) {
    var C, title, unit, fmt;
    if (active >= 0) {
      var T = tiers[active];
      C = T.classes;
      fmt = D.mode === 'fixed' ? ctx.fmtProb : fmtExp;
      title = D.mode === 'fixed' ? 'Highest cell probability per hexagon' : 'Expected incidents per 1,000 km\u00b2';
      unit = (D.mode === 'fixed' ? 'probability of \u22651 incident next week in its riskiest cell'
        : 'sum of the cell probabilities of \u22651 incident next week, per area') + '; hexagons of H3 resolution ' + T.res + ' (\u2248' +
        Math.round(T.areaKm2).toLocaleString('en') + ' km\u00b2); zoom in for each cell';
    } else {
      C = ctx.S.risk;
      fmt = D.mode === 'fixed' ? ctx.fmtProb : fmtFine;
      title = ctx.S.risk.title;
      unit = ctx.S.risk.unit;
    }
    ctx.add(div, ctx.el('div', 'gr-legend-title', title + (pastWeek ? ', week of ' + ctx.weekDate() : '')));
    ctx.add(div, ctx.el('div', 'gr-legend-unit', unit));
    if (active < 0 && under >= 0) {
      ctx.add(div, ctx.el('div', 'gr-legend-unit', 'A large grid: only its ' + ctx.nDetail.toLocaleString('en') +
        ' highest-risk cells are drawn one by one; elsewhere the resolution-' + tiers[under].res +
        ' hexagons (expected incidents per 1,000 km\u00b2, their own classes) stay under them.'));
    }
    if (D.mode === 'data') {
      ctx.add(div, ctx.el('div', 'gr-legend-unit', 'Classes follow this week\u2019s data: cut at the top 1%, 3%, 10%, 25% and 50% of the area.'));
    }
    var labels = classLabels(C, fmt);
    for (var i = C.colours.length - 1; i >= 0; i--) { swatchRow(div, C.colours[i], labels[i]); }
  }

  // Hot cells: rings at every zoom, so one hot cell never vanishes into its parent. Not
  // interactive: the cell (or display cell) under the ring has the tooltip.
  var hot = L.featureGroup();
  (D.hot || []).forEach(function (h) {
    hot.addLayer(L.circleMarker([h.lat, h.lon], {
      renderer: ctx.renderer, interactive: false, radius: 5, color: '#111', weight: 2,
      fill: true, fillColor: '#ffffff', fillOpacity: 0.25
    }));
  });
  var overlay = (D.hot && D.hot.length) ? {
    key: 'hot', label: 'Hot cells (highest probabilities)', on: true, layers: [hot],
    legend: [{ cls: 'gr-sw-hot', text: 'Hot cell: one of the ' + D.hot.length + ' highest cell probabilities' }]
  } : null;

  return {
    update: update, restyle: restyle, legend: legend, overlay: overlay, pick: pick,
    active: function () { return active; },
    activeRes: function () { return active >= 0 ? tiers[active].res : null; }
  };
}
