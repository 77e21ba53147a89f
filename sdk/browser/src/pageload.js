// The page load: a span from navigation start to the end of the load event,
// from PerformanceNavigationTiming, with its phases as events and the
// document's own request as a child span. It joins the trace of
// <meta name="traceparent"> when the server rendered one.
import { extract } from '@tracekit/tracecontext';
import { G, KIND_CLIENT, KIND_INTERNAL, Span, safe } from './core.js';

const PHASES = [
  'fetchStart',
  'domainLookupStart',
  'domainLookupEnd',
  'connectStart',
  'secureConnectionStart',
  'connectEnd',
  'requestStart',
  'responseStart',
  'responseEnd',
  'domInteractive',
  'domContentLoadedEventStart',
  'domContentLoadedEventEnd',
  'domComplete',
  'loadEventStart',
  'loadEventEnd',
];

/** The trace context of <meta name="traceparent"> (and tracestate), or null. */
export function metaContext() {
  const d = G().document;
  return extract((name) => {
    const m = d && d.querySelector && d.querySelector('meta[name="' + name + '"]');
    const v = m && m.getAttribute('content');
    return v == null ? undefined : v;
  });
}

function record() {
  const w = G();
  const p = w.performance;
  const nav = p && p.getEntriesByType && p.getEntriesByType('navigation')[0];
  if (!nav || !p.timeOrigin) return;
  const at = (k) => nav[k];
  const loc = w.location;
  const span = new Span('page load ' + (loc ? loc.pathname : ''), KIND_INTERNAL, metaContext(), { 'url.full': loc ? loc.href : '' }, at('startTime'));
  if (nav.type) span.setAttribute('browser.navigation.type', nav.type);
  for (const k of PHASES) if (nav[k] > 0) span.addEvent(k, null, at(k));
  if (nav.fetchStart > 0 && nav.responseEnd > 0) {
    const doc = new Span('document fetch', KIND_CLIENT, span, { 'http.request.method': 'GET', 'url.full': span.attrs['url.full'] }, at('fetchStart'));
    if (nav.responseStatus) doc.setAttribute('http.response.status_code', nav.responseStatus);
    if (nav.encodedBodySize) doc.setAttribute('http.response.body.size', nav.encodedBodySize);
    doc.end(at('responseEnd'));
  }
  span.end(nav.loadEventEnd > 0 ? at('loadEventEnd') : undefined);
}

/** Records the page load once the load event has finished. */
export function tracePageLoad() {
  const w = G();
  // loadEventEnd is set after the load handlers return: record in the next task.
  const later = () => w.setTimeout(() => safe(record), 0);
  if (w.document && w.document.readyState === 'complete') later();
  else {
    const once = () => {
      w.removeEventListener('load', once);
      later();
    };
    w.addEventListener('load', once);
  }
}
