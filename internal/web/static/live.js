// Live lists: every 2 seconds, ask the page's JSON endpoint (the session
// cookie authenticates it) for the newest snapshots or log lines and add the
// rows not shown yet. Rows are built with createElement and textContent
// only: service names, messages and paths come from outside.
'use strict';

(function () {
  var table = document.getElementById('snapshot-list') || document.getElementById('log-list');
  if (!table) return;
  var isLogs = table.id === 'log-list';
  var endpoint = table.getAttribute('data-live');
  var base = '/p/' + encodeURIComponent(table.getAttribute('data-project'));
  var body = table.tBodies[0];
  var state = document.getElementById('live-state');
  var empty = document.getElementById(isLogs ? 'no-logs' : 'no-snapshots');
  var shown = new Set();
  Array.prototype.forEach.call(body.rows, function (r) { shown.add(r.getAttribute('data-id')); });

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  var colors = JSON.parse(table.getAttribute('data-colors') || '{}');
  function chip(service) {
    // Colours come from the server; a service it did not list (no spans
    // yet) gets the neutral one.
    return el('span', service, 'chip ' + (Object.prototype.hasOwnProperty.call(colors, service) ? colors[service] : 'svc10'));
  }
  function hhmmss(iso) {
    var d = new Date(iso);
    var p = function (n, w) { return String(n).padStart(w || 2, '0'); };
    return p(d.getUTCHours()) + ':' + p(d.getUTCMinutes()) + ':' + p(d.getUTCSeconds()) + '.' + p(d.getUTCMilliseconds(), 3);
  }
  function where(item) {
    var td = el('td');
    if (item.capturePoint) { td.appendChild(el('b', item.capturePoint)); td.appendChild(document.createTextNode(' ')); }
    td.appendChild(el('code', (item.file || '') + ':' + (item.line || 0)));
    return td;
  }
  function traceCell(item) {
    var td = el('td');
    if (item.traceId) {
      var a = el('a');
      a.href = base + '/traces/' + encodeURIComponent(item.traceId) + (item.spanId ? '?span=' + encodeURIComponent(item.spanId) : '');
      a.appendChild(el('code', item.traceId.slice(0, 8) + (item.traceId.length > 8 ? '…' : '')));
      td.appendChild(a);
    }
    return td;
  }
  function snapshotRow(s) {
    var tr = el('tr');
    tr.setAttribute('data-id', s.id);
    var cb = el('input');
    cb.type = 'checkbox'; cb.name = 'id'; cb.value = s.id; cb.setAttribute('aria-label', 'Compare this snapshot');
    var c0 = el('td'); c0.appendChild(cb); tr.appendChild(c0);
    var a = el('a', hhmmss(s.time), 'snap-link');
    a.href = base + '/snapshots/' + encodeURIComponent(s.id);
    a.title = s.time;
    var c1 = el('td'); c1.appendChild(a); tr.appendChild(c1);
    var c2 = el('td'); c2.appendChild(chip(s.service)); tr.appendChild(c2);
    tr.appendChild(el('td', s.environment));
    tr.appendChild(where(s));
    var c5 = el('td'); c5.appendChild(el('code', s.breakpointId)); tr.appendChild(c5);
    tr.appendChild(el('td', s.host));
    tr.appendChild(traceCell(s));
    return tr;
  }
  function logRow(l) {
    var tr = el('tr');
    tr.setAttribute('data-id', l.id);
    var t = el('td', hhmmss(l.time)); t.title = l.time; tr.appendChild(t);
    var c = el('td'); c.appendChild(chip(l.service)); tr.appendChild(c);
    tr.appendChild(el('td', l.message, 'msg'));
    tr.appendChild(where(l));
    tr.appendChild(traceCell(l));
    return tr;
  }

  var busy = false;
  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(endpoint, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(function (data) {
        var items = (isLogs ? data.logs : data.snapshots) || [];
        // Newest first from the server: insert the oldest new one first.
        for (var i = items.length - 1; i >= 0; i--) {
          var it = items[i];
          if (shown.has(it.id)) continue;
          shown.add(it.id);
          var row = isLogs ? logRow(it) : snapshotRow(it);
          row.className = 'fresh';
          body.insertBefore(row, body.firstChild);
        }
        if (empty && body.rows.length > 0) empty.classList.add('hidden');
        state.classList.remove('down');
        state.textContent = 'Live: updated ' + new Date().toLocaleTimeString() + '.';
      })
      .catch(function (e) {
        state.classList.add('down');
        state.textContent = 'Live updates paused (' + e.message + '); retrying.';
      })
      .finally(function () { busy = false; });
  }
  setInterval(poll, 2000);
})();
