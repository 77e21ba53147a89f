// The unified waterfall of one trace, drawn from the JSON payload the page
// embeds in <script type="application/json" id="trace-data">. Spans arrive in
// tree order with their depth and subtree size, so collapsing a span skips a
// contiguous run. Rows are virtualised: only the rows in view exist in the
// DOM, so a trace of 10,000 spans opens as fast as one of ten.
//
// With the "Critical path" toggle on (?cp=1 in the URL), each span's segments
// of the critical path, computed by the server (internal/critpath), are drawn
// darker over its bar.
//
// Everything in the payload came from outside (operation names, attribute
// keys and values, service names): it reaches the page through textContent
// and attributes only, never as HTML.
'use strict';

(function () {
  var holder = document.getElementById('trace-data');
  var root = document.getElementById('waterfall');
  if (!holder || !root) return;
  var data = JSON.parse(holder.textContent);
  var spans = data.spans;
  var total = Math.max(data.duration, 1);
  var base = '/p/' + encodeURIComponent(data.project);
  var ROW = 24, OVERSCAN = 10;

  var viewport = document.getElementById('wf-viewport');
  var spacer = document.getElementById('wf-spacer');
  var details = document.getElementById('span-details');
  var status = document.getElementById('wf-status');

  // Service colours, as the server assigns them on every page.
  var svcClass = data.colors;

  var collapsed = new Uint8Array(spans.length);
  var visible = new Int32Array(spans.length);
  var nVisible = 0;
  var selected = -1;
  var byId = new Map();
  var critical = new URLSearchParams(location.search).get('cp') === '1';
  var cpButton = document.getElementById('wf-critical');
  var cpStatus = document.getElementById('wf-cp-status');
  spans.forEach(function (s, i) { byId.set(s.id, i); });

  function fmtDur(us) {
    if (us < 1) return Math.round(us * 1000) + 'ns';
    if (us < 1000) return +us.toPrecision(3) + 'µs';
    if (us < 1e6) return +(us / 1000).toPrecision(3) + 'ms';
    if (us < 6e7) return +(us / 1e6).toPrecision(3) + 's';
    return Math.floor(us / 6e7) + 'm' + Math.round((us % 6e7) / 1e6) + 's';
  }
  function text(v) {
    if (v === null || v === undefined) return 'null';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  function el(tag, cls, content) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content !== undefined) e.textContent = content;
    return e;
  }

  function computeVisible() {
    nVisible = 0;
    for (var i = 0; i < spans.length;) {
      visible[nVisible++] = i;
      i += collapsed[i] ? spans[i].n + 1 : 1;
    }
    spacer.style.height = (nVisible * ROW) + 'px';
    status.textContent = spans.length + ' spans, ' + nVisible + ' rows shown';
  }

  // The time axis.
  var axis = document.getElementById('wf-axis');
  [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
    var t = el('span', 'wf-tick', fmtDur(total * f));
    t.style.left = (f * 100) + '%';
    if (f === 1) t.style.transform = 'translateX(-100%)';
    if (f === 0) t.style.transform = 'none';
    axis.appendChild(t);
  });

  // A pool of row elements, refilled as the view scrolls.
  var pool = [];
  function makeRow() {
    var r = el('div', 'wf-row');
    r.setAttribute('role', 'treeitem');
    var label = el('div', 'wf-label');
    var toggle = el('button', 'wf-toggle');
    toggle.type = 'button';
    toggle.tabIndex = -1;
    var chip = el('span', 'wf-svc');
    var name = el('span', 'wf-name');
    var svc = el('span', 'wf-service');
    var op = el('span', 'wf-op');
    name.appendChild(svc);
    name.appendChild(op);
    var err = el('span', 'wf-mark err', '!');
    err.title = 'error';
    var snap = el('span', 'wf-mark snap');
    var orphan = el('span', 'wf-mark orphan', 'parent missing');
    label.append(toggle, chip, name, err, snap, orphan);
    var track = el('div', 'wf-track');
    var gap = el('div', 'wf-gap');
    var bar = el('div', 'wf-bar');
    var cp = el('div', 'wf-cp');
    track.append(gap, bar, cp);
    var dur = el('div', 'wf-dur');
    r.append(label, track, dur);
    viewport.appendChild(r);
    return { row: r, label: label, toggle: toggle, chip: chip, svc: svc, op: op, err: err, snap: snap, orphan: orphan, gap: gap, bar: bar, cp: cp, dur: dur, idx: -2 };
  }

  function fill(p, pos) {
    var i = visible[pos];
    p.row.style.transform = 'translateY(' + (pos * ROW) + 'px)';
    p.row.classList.toggle('selected', i === selected);
    if (p.idx === i) {
      p.toggle.textContent = spans[i].n ? (collapsed[i] ? '▸' : '▾') : '';
      return;
    }
    p.idx = i;
    var s = spans[i];
    p.row.dataset.i = i;
    p.row.setAttribute('aria-level', s.depth + 1);
    p.row.classList.toggle('error', !!s.err);
    p.label.style.paddingLeft = (Math.min(s.depth, 40) * 14 + 4) + 'px';
    p.toggle.className = 'wf-toggle' + (s.n ? '' : ' leaf');
    p.toggle.textContent = s.n ? (collapsed[i] ? '▸' : '▾') : '';
    p.toggle.setAttribute('aria-label', collapsed[i] ? 'Expand' : 'Collapse');
    var cls = svcClass[s.svc];
    p.chip.className = 'wf-svc ' + cls;
    p.svc.textContent = data.services[s.svc] + ':';
    p.op.textContent = s.op;
    p.row.title = data.services[s.svc] + ': ' + s.op;
    p.err.classList.toggle('hidden', !s.err);
    var ns = s.snaps ? s.snaps.length : 0;
    p.snap.classList.toggle('hidden', ns === 0);
    p.snap.textContent = '◆ ' + ns;
    p.snap.title = ns + ' snapshot(s) captured in this span';
    p.orphan.classList.toggle('hidden', !s.orphan);
    p.bar.className = 'wf-bar ' + cls + (s.err ? ' err' : '');
    p.bar.style.left = (s.t / total * 100) + '%';
    p.bar.style.width = (s.d / total * 100) + '%';
    if (s.gap && s.gap / total > 0.004) {
      p.gap.classList.remove('hidden');
      p.gap.style.left = ((s.t - s.gap) / total * 100) + '%';
      p.gap.style.width = (s.gap / total * 100) + '%';
      p.gap.title = 'idle ' + fmtDur(s.gap) + ' before this span';
    } else {
      p.gap.classList.add('hidden');
    }
    p.dur.textContent = fmtDur(s.d);
    drawCritical(p, s);
  }

  // The span's segments of the critical path, over its bar.
  function drawCritical(p, s) {
    var on = critical && !!s.crit;
    p.row.classList.toggle('critical', on);
    p.cp.replaceChildren();
    if (!on) {
      p.bar.removeAttribute('title');
      return;
    }
    for (var c = 0; c + 1 < s.crit.length; c += 2) {
      var seg = el('div', 'wf-cpseg');
      seg.style.left = (s.crit[c] / total * 100) + '%';
      seg.style.width = ((s.crit[c + 1] - s.crit[c]) / total * 100) + '%';
      p.cp.appendChild(seg);
    }
    p.bar.title = 'critical path: ' + fmtDur(s.ct) + ' of ' + fmtDur(s.d);
  }

  function setCritical(on) {
    critical = on;
    root.classList.toggle('cp-on', on);
    if (cpButton) cpButton.setAttribute('aria-pressed', on ? 'true' : 'false');
    if (cpStatus) {
      var n = 0, sum = 0;
      if (on) spans.forEach(function (s) { if (s.ct) { n++; sum += s.ct; } });
      cpStatus.textContent = on ? 'critical path: ' + n + ' span' + (n === 1 ? '' : 's') + ', ' + fmtDur(sum) : '';
    }
  }

  var scheduled = false;
  function render() {
    scheduled = false;
    var h = viewport.clientHeight || 600;
    var first = Math.max(0, Math.floor(viewport.scrollTop / ROW) - OVERSCAN);
    var last = Math.min(nVisible, Math.ceil((viewport.scrollTop + h) / ROW) + OVERSCAN);
    var need = last - first;
    while (pool.length < need) pool.push(makeRow());
    for (var k = 0; k < pool.length; k++) {
      var p = pool[k];
      if (k < need) {
        p.row.classList.remove('hidden');
        fill(p, first + k);
      } else {
        p.row.classList.add('hidden');
        p.idx = -2;
      }
    }
  }
  function schedule() {
    if (!scheduled) { scheduled = true; requestAnimationFrame(render); }
  }
  function refresh() {
    pool.forEach(function (p) { p.idx = -2; });
    computeVisible();
    render();
  }

  function toggle(i) {
    if (!spans[i].n) return;
    collapsed[i] = collapsed[i] ? 0 : 1;
    refresh();
  }

  function table(obj) {
    var t = el('table');
    var keys = Object.keys(obj || {}).sort();
    keys.forEach(function (k) {
      var tr = el('tr');
      tr.append(el('td', '', k), el('td', '', text(obj[k])));
      t.appendChild(tr);
    });
    if (!keys.length) {
      var tr = el('tr');
      tr.appendChild(el('td', 'muted', 'none'));
      t.appendChild(tr);
    }
    return t;
  }

  function show(i) {
    selected = i;
    var s = spans[i];
    details.replaceChildren();
    var h = el('h2');
    var chip = el('span', 'chip ' + svcClass[s.svc], data.services[s.svc]);
    h.append(chip, document.createTextNode(' ' + s.op));
    h.id = 'span-title';
    details.appendChild(h);
    var summary = { 'span id': s.id, 'parent id': s.parent || '(root)', kind: s.kind, start: '+' + fmtDur(s.t), duration: fmtDur(s.d),
      status: s.err ? 'error' + (s.status ? ': ' + s.status : '') : 'ok' };
    if (s.ct) summary['critical path'] = fmtDur(s.ct);
    details.appendChild(table(summary));
    if (s.snaps && s.snaps.length) {
      details.appendChild(el('h3', '', 'Snapshots'));
      var ul = el('ul');
      s.snaps.forEach(function (sn) {
        var li = el('li');
        var a = el('a', 'snapshot-link', (sn.cp || 'snapshot') + ' at ' + sn.time);
        a.href = base + '/snapshots/' + encodeURIComponent(sn.id);
        li.appendChild(a);
        ul.appendChild(li);
      });
      details.appendChild(ul);
    }
    details.appendChild(el('h3', '', 'Attributes'));
    details.appendChild(table(s.attrs));
    (s.events || []).forEach(function (e) {
      details.appendChild(el('h3', '', (e.name === 'exception' ? 'Exception' : 'Event: ' + e.name) + ' at +' + fmtDur(e.t)));
      var attrs = Object.assign({}, e.attrs);
      var stack = attrs['exception.stacktrace'];
      delete attrs['exception.stacktrace'];
      details.appendChild(table(attrs));
      if (stack !== undefined) details.appendChild(el('pre', 'stack', text(stack)));
    });
    details.appendChild(el('h3', '', 'Resource'));
    details.appendChild(table(data.resources[s.res]));
    render();
  }

  viewport.addEventListener('scroll', schedule, { passive: true });
  window.addEventListener('resize', schedule);
  viewport.addEventListener('click', function (e) {
    var row = e.target.closest('.wf-row');
    if (!row) return;
    var i = +row.dataset.i;
    if (e.target.closest('.wf-toggle')) toggle(i);
    else show(i);
  });
  viewport.addEventListener('keydown', function (e) {
    if (!nVisible) return;
    var pos = -1;
    for (var k = 0; k < nVisible; k++) if (visible[k] === selected) { pos = k; break; }
    if (e.key === 'ArrowDown') pos = Math.min(nVisible - 1, pos + 1);
    else if (e.key === 'ArrowUp') pos = Math.max(0, pos - 1);
    else if ((e.key === 'ArrowLeft' || e.key === 'ArrowRight') && selected >= 0) {
      if (!!collapsed[selected] !== (e.key === 'ArrowRight')) return;
      toggle(selected);
      e.preventDefault();
      return;
    } else return;
    e.preventDefault();
    show(visible[pos]);
    var top = pos * ROW;
    if (top < viewport.scrollTop) viewport.scrollTop = top;
    else if (top + ROW > viewport.scrollTop + viewport.clientHeight) viewport.scrollTop = top + ROW - viewport.clientHeight;
  });
  document.getElementById('wf-expand').addEventListener('click', function () { collapsed.fill(0); refresh(); });
  document.getElementById('wf-collapse').addEventListener('click', function () {
    spans.forEach(function (s, i) { collapsed[i] = s.depth >= 1 && s.n > 0 ? 1 : 0; });
    refresh();
  });

  if (cpButton) cpButton.addEventListener('click', function () {
    setCritical(!critical);
    var u = new URL(location.href);
    if (critical) u.searchParams.set('cp', '1');
    else u.searchParams.delete('cp');
    history.replaceState(history.state, '', u);
    refresh();
  });

  setCritical(critical);
  computeVisible();
  render();
  var focus = data.focus && byId.get(data.focus);
  if (focus !== undefined && focus !== '' && focus !== null) {
    viewport.scrollTop = Math.max(0, focus * ROW - viewport.clientHeight / 2);
    show(focus);
  }
  root.setAttribute('data-ready', 'true');
  window.tracekitWaterfallReady = performance.now();
})();
