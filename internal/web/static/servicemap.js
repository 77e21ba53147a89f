// The service map page: clicking an edge of the graph, or its row in the
// table, shows that edge's details (rendered by the server, hidden until
// then). Nothing is built from data here: only the hidden attribute and
// classes change.
'use strict';

document.addEventListener('DOMContentLoaded', function () {
  var details = document.getElementById('sm-details');
  if (!details) return;
  var shown = null;
  function show(id) {
    var panel = document.getElementById('sm-edge-' + id);
    if (!panel) return;
    if (shown) shown.hidden = true;
    document.querySelectorAll('.sm-edge.on, .sm-row.on').forEach(function (el) { el.classList.remove('on'); });
    document.querySelectorAll('[data-edge="' + id + '"]').forEach(function (el) { el.classList.add('on'); });
    panel.hidden = false;
    shown = panel;
    var hint = document.getElementById('sm-hint');
    if (hint) hint.hidden = true;
  }
  document.querySelectorAll('.sm-edge, .sm-row').forEach(function (el) {
    var id = el.getAttribute('data-edge');
    el.addEventListener('click', function () { show(id); });
    el.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); show(id); }
    });
  });
});
