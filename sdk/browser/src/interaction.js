// Clicks on buttons and links: a span that is the active parent of the
// requests the click's handlers start synchronously, and that ends when they
// have all finished (at once when there are none).
import { G, KIND_INTERNAL, state, startSpan, safe } from './core.js';

const MAX_LABEL = 40;

/** The nearest clickable element at or above el: a button, a link, or one with data-tracekit-name. */
export function clickable(el) {
  for (let i = 0; el && i < 10; i++, el = el.parentElement || el.parentNode) {
    if (typeof el.getAttribute !== 'function') continue;
    const tag = String(el.tagName || '').toUpperCase();
    if (
      el.getAttribute('data-tracekit-name') != null ||
      tag === 'BUTTON' ||
      tag === 'A' ||
      el.getAttribute('role') === 'button' ||
      (tag === 'INPUT' && /^(button|submit|reset)$/i.test(el.getAttribute('type') || ''))
    )
      return el;
  }
  return null;
}

/** What the span calls the element: data-tracekit-name, else its text, value, aria-label or title. */
export function label(el) {
  let s = el.getAttribute('data-tracekit-name');
  if (s == null) s = String(el.textContent || '').trim() || el.value || el.getAttribute('aria-label') || el.getAttribute('title') || '';
  s = String(s).replace(/\s+/g, ' ').trim();
  if (s.length > MAX_LABEL) s = s.slice(0, MAX_LABEL - 1) + '\u2026';
  return s || String(el.tagName || '').toLowerCase();
}

function close(span) {
  const i = state.sync.indexOf(span);
  if (i === -1) return;
  state.sync.splice(i, 1);
  G().clearTimeout(span.closer);
  if (span.open === 0) span.end();
  else span.onIdle = () => span.end();
}

/** Listens for clicks; returns a function that stops. */
export function watchClicks() {
  const w = G();
  // On window in the capture phase: before the page's own handlers.
  const start = (e) =>
    safe(() => {
      const el = clickable(e.target);
      if (!el) return;
      const span = startSpan('click ' + label(el), KIND_INTERNAL, {
        'event.type': 'click',
        'target.element': String(el.tagName || '').toLowerCase(),
      });
      span.event = e;
      state.sync.push(span);
      // The dispatch ends at the bubble listener below, or, when a handler
      // stopped propagation, before the next task.
      span.closer = w.setTimeout(() => safe(close, span), 0);
    });
  const stop = (e) =>
    safe(() => {
      for (const s of state.sync.slice()) if (s.event === e) close(s);
    });
  w.addEventListener('click', start, true);
  w.addEventListener('click', stop, false);
  return () => {
    w.removeEventListener('click', start, true);
    w.removeEventListener('click', stop, false);
  };
}
