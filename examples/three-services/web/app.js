'use strict';
// The page: TraceKit.init as in the guide, and a "Load Users" button whose
// click becomes the root of a trace through the Node.js API and the Go
// service. Nothing from a response is ever written as HTML.
(function () {
  var cfg = window.EXAMPLE_CONFIG;
  TraceKit.init({
    apiKey: cfg.apiKey,
    serviceName: 'web-frontend',
    endpoint: cfg.endpoint,
    tracePropagationTargets: cfg.tracePropagationTargets,
  });
  TraceKit.setTag('example', 'three-services');

  var $ = function (id) { return document.getElementById(id); };

  $('load').addEventListener('click', function () {
    $('status').textContent = 'Loading…';
    fetch(cfg.apiURL + '/api/users')
      .then(function (r) {
        if (!r.ok) throw new Error('the API answered ' + r.status);
        return r.json();
      })
      .then(function (body) {
        var list = $('users');
        list.textContent = '';
        body.users.forEach(function (u) {
          var li = document.createElement('li');
          li.textContent = u.name + ' (' + u.plan + ')';
          list.appendChild(li);
        });
        $('trace-id').textContent = body.traceId || '';
      })
      .catch(function (err) {
        TraceKit.captureException(err);
        $('status').textContent = 'Failed: ' + err.message;
        throw err;
      })
      // This page's own origin is not in tracePropagationTargets: the request
      // must carry no trace headers.
      .then(function () { return fetch('/echo-headers'); })
      .then(function (r) { return r.json(); })
      .then(function (h) {
        $('outside').textContent = h.traceparent || 'none';
        $('status').textContent = 'Loaded.';
      })
      .catch(function () {});
  });
})();
