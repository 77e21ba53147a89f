// Charts (package chart draws them on the server).
//
// Dragging across a chart marked selectable (data-from, data-to: its time
// range in Unix milliseconds; data-x0, data-x1: where the plot starts and
// ends in SVG units) searches that time range, by loading the same URL with
// a custom range, as the range form would.
//
// A scatter's dots are two paths, one per shape; their positions, links and
// what their hover texts say are in the figure's JSON data block
// (script.ch-dot-data, never run; chart.dotData documents it), as numbers
// and as names written once. Here a grid of those positions finds the dot nearest the
// pointer: one tooltip shows its text, a click opens its link, and with the
// chart focused the arrow keys step through the dots in time order and
// Enter opens one. Nothing here builds markup from data: texts go in by
// textContent.
'use strict';

document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('svg.ch-svg').forEach(function (svg) {
    var dots = scatter(svg);
    if (svg.hasAttribute('data-from')) selectable(svg, dots);
    else if (dots) svg.addEventListener('click', function (ev) { dots.open(dots.hit(ev), ev); });
  });
});

// HIT_PX is how far from a dot's centre, in screen pixels, the pointer
// still finds it; CELL the grid's cell in SVG units.
var HIT_PX = 6, CELL = 8;

// scatter sets up hover, click and keys for the dots of svg, if it has
// any; it returns hit(event) -> index or -1, open(index, event) and
// hide(), or null.
function scatter(svg) {
  var fig = svg.closest('figure');
  var block = fig && fig.querySelector('script.ch-dot-data');
  if (!block) return null;
  var d;
  try { d = JSON.parse(block.textContent); } catch (_) { return null; }
  var n = d.y.length;
  if (!n) return null;
  // The block's numbers (chart.dotData): positions in tenths of a unit and
  // times in milliseconds, x and t each a change from the previous dot's.
  var xs = new Float64Array(n), ys = new Float64Array(n), ts = new Float64Array(n), isErr = new Uint8Array(n);
  for (var i = 0, ax = 0, at = 0; i < n; i++) {
    ax += d.x[i];
    at += d.t[i];
    xs[i] = ax / 10;
    ys[i] = d.y[i] / 10;
    ts[i] = at;
  }
  for (i = 0; i < d.err.length; i++) isErr[d.err[i]] = 1;

  // A uniform grid: the dots of cell c are order[start[c]..start[c+1]).
  var vb = svg.viewBox.baseVal;
  var cols = Math.ceil(vb.width / CELL) + 1, rows = Math.ceil(vb.height / CELL) + 1;
  var cellOf = new Uint32Array(n), start = new Uint32Array(cols * rows + 1), order = new Uint32Array(n);
  function col(x) { return Math.min(Math.max(Math.floor(x / CELL), 0), cols - 1); }
  function row(y) { return Math.min(Math.max(Math.floor(y / CELL), 0), rows - 1); }
  for (i = 0; i < n; i++) {
    cellOf[i] = row(ys[i]) * cols + col(xs[i]);
    start[cellOf[i] + 1]++;
  }
  for (var c = 0; c < cols * rows; c++) start[c + 1] += start[c];
  var fill = start.slice(0, cols * rows);
  for (i = 0; i < n; i++) order[fill[cellOf[i]]++] = i;

  var tip = document.createElement('div');
  tip.className = 'ch-tip';
  tip.setAttribute('role', 'tooltip');
  tip.hidden = true;
  svg.parentNode.appendChild(tip);
  var ring = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  ring.setAttribute('class', 'ch-hi');
  svg.appendChild(ring);
  var shown = -1;

  // user maps a pointer event to SVG units, with the units per pixel.
  function user(ev) {
    var m = svg.getScreenCTM();
    if (!m) return null;
    var p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m.inverse());
    return { x: p.x, y: p.y, r: HIT_PX / (Math.hypot(m.a, m.b) || 1) };
  }
  // nearest is the dot nearest (x, y) within r units, the last drawn of
  // equals; -1 if none.
  function nearest(x, y, r) {
    var best = -1, bestD = r * r;
    for (var cy = row(y - r); cy <= row(y + r); cy++) {
      for (var cx = col(x - r); cx <= col(x + r); cx++) {
        var cc = cy * cols + cx;
        for (var k = start[cc]; k < start[cc + 1]; k++) {
          var j = order[k], dx = xs[j] - x, dy = ys[j] - y, dd = dx * dx + dy * dy;
          if (dd < bestD || dd === bestD && j > best) { best = j; bestD = dd; }
        }
      }
    }
    return best;
  }
  function hit(ev) {
    var p = user(ev);
    return p ? nearest(p.x, p.y, p.r) : -1;
  }
  function show(j) {
    shown = j;
    var x = xs[j], y = ys[j];
    ring.setAttribute('d', isErr[j] ? 'M' + x + ' ' + (y - 6.5) + 'l5.6 10h-11.2z' : 'M' + (x - 5) + ' ' + y + 'a5 5 0 1 0 10 0a5 5 0 1 0-10 0');
    svg.classList.add('ch-hot');
    tip.textContent = text(j);
    tip.hidden = false;
    var m = svg.getScreenCTM();
    if (!m) return;
    var p = new DOMPoint(x, y).matrixTransform(m), box = svg.parentNode.getBoundingClientRect();
    var left = p.x - box.left + 12, top = p.y - box.top + 12;
    if (left + tip.offsetWidth > box.width) left = Math.max(0, p.x - box.left - 12 - tip.offsetWidth);
    tip.style.left = left + 'px';
    tip.style.top = top + 'px';
  }
  function hide() {
    shown = -1;
    tip.hidden = true;
    ring.removeAttribute('d');
    svg.classList.remove('ch-hot');
  }
  // text is dot j's hover text (chart.Dot): group, value, UTC time to the
  // millisecond, error.
  function text(j) {
    var s = d.labels[d.v[j]] + ' · ' + new Date(ts[j]).toISOString().slice(11, 23) + ' UTC';
    if (isErr[j]) s += ' · error';
    return d.g[j] >= 0 ? d.groups[d.g[j]] + ' · ' + s : s;
  }
  function open(j, ev) {
    if (j < 0) return;
    var u = new URL(d.base + (d.w ? d.ids.slice(j * d.w, (j + 1) * d.w) : d.href[j]), window.location.href);
    if (u.origin !== window.location.origin) return;
    if (ev && (ev.ctrlKey || ev.metaKey || ev.shiftKey)) window.open(u.toString(), '_blank', 'noopener');
    else window.location.assign(u.toString());
  }

  svg.addEventListener('pointermove', function (ev) {
    if (svg.hasPointerCapture(ev.pointerId)) { hide(); return; } // a drag
    var j = hit(ev);
    if (j < 0) hide();
    else if (j !== shown) show(j);
  });
  svg.addEventListener('pointerleave', hide);

  // Keys: the dots in time order, left to right.
  var byX = null;
  svg.setAttribute('tabindex', '0');
  svg.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape') { hide(); return; }
    if (ev.key === 'Enter' && shown >= 0) { ev.preventDefault(); open(shown, ev); return; }
    var step = { ArrowRight: 1, ArrowLeft: -1, Home: -n, End: n }[ev.key];
    if (!step) return;
    ev.preventDefault();
    if (!byX) {
      byX = Array.from({ length: n }, function (_, k) { return k; });
      byX.sort(function (a, b) { return xs[a] - xs[b] || a - b; });
    }
    var at = shown < 0 ? (step > 0 ? -1 : n) : byX.indexOf(shown);
    show(byX[Math.min(Math.max(at + step, 0), n - 1)]);
  });
  svg.addEventListener('blur', hide);

  // Ready: the first frame drawn with these handlers in place (the page
  // benchmark reads the time).
  requestAnimationFrame(function () {
    setTimeout(function () {
      svg.setAttribute('data-ready', 'true');
      window.tracekitScatterReady = performance.now();
    }, 0);
  });
  return { hit: hit, open: open, hide: hide };
}

// selectable lets a drag across svg's plot search the time range it
// covers; a press and release without a drag opens the dot there, if any.
function selectable(svg, dots) {
  var from = Number(svg.dataset.from), to = Number(svg.dataset.to);
  var x0 = Number(svg.dataset.x0), x1 = Number(svg.dataset.x1);
  var area = svg.querySelector('.ch-drag'), sel = svg.querySelector('.ch-sel');
  if (!area || !sel || !(to > from) || !(x1 > x0)) return;
  var y0 = Number(area.getAttribute('y')), y1 = y0 + Number(area.getAttribute('height'));
  var start = null, downDot = -1;
  function userPoint(ev) {
    var m = svg.getScreenCTM();
    if (!m) return { x: x0, y: y0 };
    return new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m.inverse());
  }
  function userX(ev) {
    return Math.min(Math.max(userPoint(ev).x, x0), x1);
  }
  function show(a, b) {
    sel.setAttribute('x', String(Math.min(a, b)));
    sel.setAttribute('width', String(Math.abs(b - a)));
  }
  function stop() {
    start = null;
    sel.classList.remove('on');
  }
  svg.addEventListener('pointerdown', function (ev) {
    if (ev.button !== 0) return;
    var p = userPoint(ev);
    downDot = dots ? dots.hit(ev) : -1;
    var inPlot = p.x >= x0 && p.x <= x1 && p.y >= y0 && p.y <= y1;
    if (!inPlot && downDot < 0) return;
    ev.preventDefault();
    start = userX(ev);
    svg.setPointerCapture(ev.pointerId);
    show(start, start);
    sel.classList.add('on');
  });
  svg.addEventListener('pointermove', function (ev) {
    if (start !== null) show(start, userX(ev));
  });
  svg.addEventListener('pointerup', function (ev) {
    if (start === null) return;
    var a = Math.min(start, userX(ev)), b = Math.max(start, userX(ev));
    if (b - a < 4) { // a click, not a drag
      stop();
      if (dots) dots.open(downDot, ev);
      return;
    }
    var t = function (x) { return from + (x - x0) / (x1 - x0) * (to - from); };
    var u = new URL(window.location.href);
    u.searchParams.set('range', 'custom');
    u.searchParams.set('start', utc(Math.floor(t(a) / 1000) * 1000));
    u.searchParams.set('end', utc(Math.ceil(t(b) / 1000) * 1000));
    svg.setAttribute('data-selected', u.searchParams.get('start') + '/' + u.searchParams.get('end'));
    window.location.assign(u.toString());
  });
  svg.addEventListener('pointercancel', stop);
}

// utc formats a time as the range form's inputs hold it: UTC, to the second.
function utc(ms) {
  return new Date(ms).toISOString().slice(0, 19);
}
