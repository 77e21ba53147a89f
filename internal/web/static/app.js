// TraceKit dashboard: small behaviours shared by the pages. No data from
// spans or snapshots is ever put into the page as HTML here: only
// textContent, element creation and attributes.
'use strict';

document.addEventListener('DOMContentLoaded', function () {
  // Forms that ask before they act (delete, revoke, kill switch).
  document.querySelectorAll('form[data-confirm]').forEach(function (f) {
    f.addEventListener('submit', function (e) {
      if (!window.confirm(f.getAttribute('data-confirm'))) e.preventDefault();
    });
  });

  // Selects that submit their form when changed.
  document.querySelectorAll('select[data-autosubmit]').forEach(function (s) {
    s.addEventListener('change', function () { s.form.submit(); });
  });

  // Time range: the custom fields show only for "custom".
  document.querySelectorAll('select[data-range]').forEach(function (s) {
    var custom = s.form.querySelector('.custom-range');
    if (!custom) return;
    var sync = function () { custom.classList.toggle('hidden', s.value !== 'custom'); };
    s.addEventListener('change', sync);
    sync();
  });

  // Trace search: one more attribute input.
  document.querySelectorAll('[data-add-attr]').forEach(function (b) {
    b.addEventListener('click', function () {
      var input = document.createElement('input');
      input.name = 'attr';
      input.placeholder = 'key=value';
      b.parentNode.insertBefore(input, b);
      input.focus();
    });
  });

  // GET forms (searches, filters) leave empty fields out of the URL, so a
  // shared link shows only the filters that are set.
  document.querySelectorAll('form[method=get]').forEach(function (f) {
    f.addEventListener('submit', function () {
      f.querySelectorAll('input, select').forEach(function (el) {
        if (el.name && el.value === '' && el.type !== 'checkbox') el.disabled = true;
      });
    });
  });

  breakpointForm();
  compareSelection();
});

// The New breakpoint form: fields follow the type, capture points follow
// the service and fill the file and line.
function breakpointForm() {
  var form = document.getElementById('bp-form');
  if (!form) return;
  var service = document.getElementById('bp-service');
  var cp = document.getElementById('bp-cp');
  var file = document.getElementById('bp-file');
  var line = document.getElementById('bp-line');
  var typed = function () {
    var checked = form.querySelector('input[name=type]:checked');
    var type = checked ? checked.value : 'line';
    form.querySelectorAll('[data-for-type]').forEach(function (el) {
      el.classList.toggle('hidden', el.getAttribute('data-for-type') !== type);
    });
  };
  form.querySelectorAll('input[name=type]').forEach(function (r) { r.addEventListener('change', typed); });
  typed();
  var filter = function () {
    Array.prototype.forEach.call(cp.options, function (o) {
      var s = o.getAttribute('data-service');
      o.hidden = s !== '' && s !== service.value;
      if (o.hidden && o.selected) cp.value = '';
    });
  };
  service.addEventListener('change', filter);
  filter();
  var fill = function () {
    var o = cp.options[cp.selectedIndex];
    if (o && o.value) {
      file.value = o.getAttribute('data-file') || '';
      line.value = o.getAttribute('data-line') || '';
    }
  };
  cp.addEventListener('change', fill);
  if (cp.value && !file.value) fill();
}

// Snapshot list: Compare works on exactly two ticked rows.
function compareSelection() {
  var form = document.getElementById('compare-form');
  if (!form) return;
  var button = document.getElementById('compare-button');
  var sync = function () {
    var n = form.querySelectorAll('input[name=id]:checked').length;
    button.disabled = n !== 2;
  };
  form.addEventListener('change', sync);
  sync();
}
