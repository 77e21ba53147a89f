// Charts (package chart draws them on the server): dragging across a
// chart marked selectable (data-from, data-to: its time range in Unix
// milliseconds; data-x0, data-x1: where the plot starts and ends in SVG
// units) searches that time range, by loading the same URL with a custom
// range, as the range form would. Dots are links of their own; hover
// text is their SVG titles. Nothing here builds markup from data.
'use strict';

document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('svg.ch-svg[data-from]').forEach(selectable);
});

function selectable(svg) {
  var from = Number(svg.dataset.from), to = Number(svg.dataset.to);
  var x0 = Number(svg.dataset.x0), x1 = Number(svg.dataset.x1);
  var area = svg.querySelector('.ch-drag'), sel = svg.querySelector('.ch-sel');
  if (!area || !sel || !(to > from) || !(x1 > x0)) return;
  var start = null;
  function userX(ev) {
    var m = svg.getScreenCTM();
    if (!m) return x0;
    var p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m.inverse());
    return Math.min(Math.max(p.x, x0), x1);
  }
  function show(a, b) {
    sel.setAttribute('x', String(Math.min(a, b)));
    sel.setAttribute('width', String(Math.abs(b - a)));
  }
  function stop() {
    start = null;
    sel.classList.remove('on');
  }
  area.addEventListener('pointerdown', function (ev) {
    if (ev.button !== 0) return;
    ev.preventDefault();
    start = userX(ev);
    area.setPointerCapture(ev.pointerId);
    show(start, start);
    sel.classList.add('on');
  });
  area.addEventListener('pointermove', function (ev) {
    if (start !== null) show(start, userX(ev));
  });
  area.addEventListener('pointerup', function (ev) {
    if (start === null) return;
    var a = Math.min(start, userX(ev)), b = Math.max(start, userX(ev));
    if (b - a < 4) { stop(); return; } // a click, not a drag
    var t = function (x) { return from + (x - x0) / (x1 - x0) * (to - from); };
    var u = new URL(window.location.href);
    u.searchParams.set('range', 'custom');
    u.searchParams.set('start', utc(Math.floor(t(a) / 1000) * 1000));
    u.searchParams.set('end', utc(Math.ceil(t(b) / 1000) * 1000));
    svg.setAttribute('data-selected', u.searchParams.get('start') + '/' + u.searchParams.get('end'));
    window.location.assign(u.toString());
  });
  area.addEventListener('pointercancel', stop);
}

// utc formats a time as the range form's inputs hold it: UTC, to the second.
function utc(ms) {
  return new Date(ms).toISOString().slice(0, 19);
}
