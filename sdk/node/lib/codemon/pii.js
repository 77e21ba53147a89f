'use strict';

// PII scrubbing of captured values, ported from the Go SDK's package pii
// (sdk/go/pii): the guide's 13 typed patterns, the name rules, custom
// patterns, and the same test vectors (sdk/go/pii/testdata), so that both
// SDKs redact the same things with the same markers.
//
// The Go patterns are RE2; JavaScript's engine differs in three ways that
// matter here, handled when the patterns are built:
//   - no inline (?i:...) groups in Node 20: letters in those parts are
//     spelled [xX] by ci();
//   - no repeated named groups: every capture group of a built-in pattern is
//     a "value" group (the part replaced), all other groups are (?:...);
//   - \s is Unicode in JavaScript and [\t\n\f\r ] in RE2: spelled out.
// Every captured string is bounded (maxStringLength plus a 1 KiB margin)
// before it is scrubbed, which bounds the backtracking engine's work too.

const MARKER_SENSITIVE_NAME = '[REDACTED:sensitive_name]';
const MARKER_PASSWORD = '[REDACTED:password]';
const MARKER_AWS_SECRET = '[REDACTED:aws_secret]';
const MARKER_WITHHELD = '[REDACTED]';

const S = '[\\t\\n\\f\\r ]'; // RE2's \s

// ci makes the letters of a regexp source fragment case-insensitive,
// leaving character classes and escapes alone.
function ci(src) {
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      out += c + src[i + 1];
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      continue;
    }
    const l = c.toLowerCase();
    const u = c.toUpperCase();
    out += (l !== u && /[a-z]/.test(l)) ? `[${l}${u}]` : c;
  }
  return out;
}

// prefilter ids, as in features.go.
const PRE = {
  none: 0, email: 1, ssn: 2, card: 3, phone: 4, awsKey: 5, awsSecret: 6, oauth: 7,
  stripe: 8, jwt: 9, privateKey: 10, apiKey: 11, password: 12,
};

function isDigit(c) { return c >= 48 && c <= 57; }
function isLetter(c) { const l = c | 0x20; return l >= 97 && l <= 122; }
function isAlnum(c) { return isDigit(c) || isLetter(c); }
function isDigitAt(s, i) { return i >= 0 && i < s.length && isDigit(s.charCodeAt(i)); }

// hasPrefixFold / hasSuffixFold / containsFold: ASCII case-insensitive,
// the needle lower case.
function hasPrefixFoldAt(s, at, lower) {
  if (s.length - at < lower.length) return false;
  for (let j = 0; j < lower.length; j++) {
    let c = s.charCodeAt(at + j);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(j)) return false;
  }
  return true;
}
function hasSuffixFold(s, lower) {
  return s.length >= lower.length && hasPrefixFoldAt(s, s.length - lower.length, lower);
}
function containsFold(s, lower) {
  const n = lower.length;
  if (n === 0) return true;
  const first = lower.charCodeAt(0);
  const upper = first >= 97 && first <= 122 ? first - 32 : first;
  for (let i = 0; i + n <= s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== first && c !== upper) continue;
    if (hasPrefixFoldAt(s, i, lower)) return true;
  }
  return false;
}
function containsAny(s, subs) {
  for (const sub of subs) if (s.includes(sub)) return true;
  return false;
}

function letterMask(word) {
  let need = 0;
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    if (c >= 97 && c <= 122) need |= 1 << (c - 97);
  }
  return need >>> 0;
}
const MASK = {};
for (const w of ['aws', 'secret', 'bearer', 'token', 'key', 'pass', 'pwd']) MASK[w] = letterMask(w);

// Features is what one pass over a string learns about it (features.go):
// each pattern's prefilter skips its regexp on strings that cannot match.
class Features {
  constructor(s) {
    this.at = false; this.dash = false; this.dot = false; this.plus = false;
    this.underscore = false; this.space = false; this.assign = false;
    this.longest = 0; this.cardDigits = 0; this.phoneDigits = 0; this.phoneGrouped = 0;
    this.letters = 0;
    let run = 0; let card = 0; let phone = 0; let seps = 0; let groups = 0;
    let glued = false;
    const n = s.length;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      const l = c | 0x20;
      if (l >= 97 && l <= 122) {
        this.letters |= 1 << (l - 97);
        run++;
        card = 0; phone = 0; seps = 0; groups = 0;
        glued = false;
        continue;
      }
      if (c >= 48 && c <= 57) {
        if (i === 0 || !isDigit(s.charCodeAt(i - 1))) {
          groups++;
          if (card === 0 && i > 0) {
            const p = s.charCodeAt(i - 1);
            if (isAlnum(p) || p === 95) glued = true;
          }
        }
        run++; card++; phone++; seps = 0;
        if (!glued) {
          if (card > this.cardDigits) this.cardDigits = card;
          if (phone > this.phoneDigits) this.phoneDigits = phone;
          if (groups >= 3 && phone > this.phoneGrouped) this.phoneGrouped = phone;
        }
        continue;
      }
      if (!((c === 32 || c === 45) && i > 0 && isDigit(s.charCodeAt(i - 1)) && i + 1 < n && isDigit(s.charCodeAt(i + 1)))) {
        card = 0;
      }
      if ((c === 32 || c === 46 || c === 45 || c === 40 || c === 41) && seps < 2) {
        seps++;
      } else {
        phone = 0; seps = 0; groups = 0;
      }
      if (card === 0 && phone === 0) glued = false;
      if (c === 126 || c === 47) { run++; continue; } // ~ /
      if (c === 95) { this.underscore = true; run++; continue; }
      if (c === 46) { this.dot = true; run++; continue; }
      if (c === 45) { this.dash = true; run++; continue; }
      if (c === 43) { this.plus = true; run++; continue; }
      if (c === 61) { this.assign = true; run++; continue; }
      if (c === 58) this.assign = true;
      else if (c === 64) this.at = true;
      else if (c === 32 || c === 9 || c === 10) this.space = true;
      if (run > this.longest) this.longest = run;
      run = 0;
    }
    if (run > this.longest) this.longest = run;
    this.letters >>>= 0;
  }

  fold(s, word) {
    const need = MASK[word];
    return ((this.letters & need) >>> 0) === need && containsFold(s, word);
  }

  admits(p, s) {
    switch (p) {
      case PRE.email: return this.at && this.dot;
      case PRE.ssn: return this.dash && this.cardDigits >= 9;
      case PRE.card: return this.cardDigits >= 13;
      case PRE.phone: return this.phoneGrouped >= 10 || (this.plus && this.phoneDigits >= 8);
      case PRE.awsKey: return this.longest >= 20 && containsAny(s, ['AKIA', 'ASIA']);
      case PRE.awsSecret: return this.longest >= 40 && (this.fold(s, 'aws') || this.fold(s, 'secret'));
      case PRE.oauth:
        return this.longest >= 8 && ((this.dot && s.includes('ya29.')) ||
          (this.underscore && s.includes('gh')) || (this.dash && s.includes('xox')) ||
          (this.space && this.fold(s, 'bearer')) || (this.assign && this.fold(s, 'token')));
      case PRE.stripe: return this.underscore && this.longest >= 18 && containsAny(s, ['_live_', '_test_']);
      case PRE.jwt: return this.dot && this.longest >= 20 && s.includes('eyJ');
      case PRE.privateKey: return this.dash && s.includes('-----BEGIN');
      case PRE.apiKey:
        return this.longest >= 4 && ((this.longest >= 39 && s.includes('AIza')) || (this.dot && s.includes('SG.')) ||
          (this.assign && (this.fold(s, 'key') || this.fold(s, 'token') || this.fold(s, 'secret'))));
      case PRE.password:
        return this.assign && (this.fold(s, 'pass') || this.fold(s, 'pwd') || (this.at && s.includes('://')));
      default: return true;
    }
  }
}

// Validators (patterns.go): narrow or reject a match; return [start, end] or null.
function validSSN(s, start, end) {
  const b = start > 0 ? s[start - 1] : '';
  const a = end < s.length ? s[end] : '';
  if (b === '-' || b === '.' || a === '-' || (a === '.' && isDigitAt(s, end + 1))) return null;
  const area = s.slice(start, start + 3);
  const group = s.slice(start + 4, start + 6);
  const serial = s.slice(start + 7, end);
  if (area === '000' || area === '666' || area[0] === '9' || group === '00' || serial === '0000') return null;
  return [start, end];
}

function digitsOK(num) {
  const d = [];
  for (let i = 0; i < num.length; i++) {
    const c = num.charCodeAt(i);
    if (isDigit(c)) {
      if (d.length === 19) return false;
      d.push(c - 48);
    }
  }
  const n = d.length;
  if (n < 13 || d[0] < 2 || d[0] > 6) return false;
  if (n === num.length && d.every((x) => x === d[0])) return false;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let v = d[n - 1 - i];
    if (i % 2 === 1) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return sum % 10 === 0;
}

function validCard(s, start, end) {
  if (start > 0) {
    const b = s[start - 1];
    if (b === '-' || b === '.' || b === '+') return null;
  }
  for (let e = end; e > start;) {
    if (digitsOK(s.slice(start, e))) return [start, e];
    while (e > start && isDigit(s.charCodeAt(e - 1))) e--;
    while (e > start && !isDigit(s.charCodeAt(e - 1))) e--;
  }
  return null;
}

function validPhone(s, start, end) {
  if (start > 0) {
    const c = s.charCodeAt(start - 1);
    let bad = isAlnum(c) || c === 95 || c === 43;
    if (s[start] !== '+') bad = bad || c === 45 || c === 46 || c === 47 || c === 58;
    if (bad) return null;
  }
  if (end < s.length) {
    const c = s.charCodeAt(end);
    if (isAlnum(c) || c === 45 || c === 47 || c === 58 || c === 95 || (c === 46 && isDigitAt(s, end + 1))) return null;
  }
  let digits = 0; let groups = 0; let inDigits = false;
  for (let i = start; i < end; i++) {
    if (isDigit(s.charCodeAt(i))) {
      digits++;
      if (!inDigits) groups++;
      inDigits = true;
    } else {
      inDigits = false;
    }
  }
  if (digits < 8 || digits > 15) return null;
  if (s[start] !== '+' && groups < 3) return null;
  return [start, end];
}

function validAWSSecret(s, start, end) {
  if (end < s.length) {
    const c = s.charCodeAt(end);
    if (isAlnum(c) || c === 47 || c === 43) return null;
  }
  let upper = false; let lower = false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    upper = upper || (c >= 65 && c <= 90);
    lower = lower || (c >= 97 && c <= 122);
  }
  return upper && lower ? [start, end] : null;
}

function looksRandom(v) {
  let digit = false; let upper = false; let lower = false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    digit = digit || isDigit(c);
    upper = upper || (c >= 65 && c <= 90);
    lower = lower || (c >= 97 && c <= 122);
  }
  return (digit && (upper || lower)) || (v.length >= 20 && upper && lower);
}

function validToken(s, start, end) {
  return looksRandom(s.slice(start, end)) ? [start, end] : null;
}

function lastIndexAny(s, chars) {
  for (let i = s.length - 1; i >= 0; i--) if (chars.includes(s[i])) return i;
  return -1;
}
function trimRightQuotes(s) { return s.replace(/["' \t]+$/, ''); }

function validAPIKey(s, start, end) {
  const v = s.slice(start, end);
  const before = s.slice(0, start);
  const k = lastIndexAny(before, '=:');
  if (k >= 0 && hasSuffixFold(trimRightQuotes(s.slice(0, k)), 'token')) {
    return v.length >= 8 && looksRandom(v) ? [start, end] : null;
  }
  return [start, end];
}

function validPassword(s, start, end) {
  const k = lastIndexAny(s.slice(0, start), '=:');
  if (k < 0) return [start, end];
  const kw = trimRightQuotes(s.slice(0, k));
  if (s[start] === '/' && hasSuffixFold(kw, 'pwd')) return null;
  const n = kw.length;
  if (n > 4 && hasSuffixFold(kw, 'pass')) {
    const before = kw.charCodeAt(n - 5);
    const camel = kw[n - 4] === 'P' && before >= 97 && before <= 122;
    if (isLetter(before) && !camel) return null;
  }
  return [start, end];
}

// The 13 built-in patterns in the guide's order; order is the application
// order (specific shapes first, phone numbers last).
const BUILTINS = [
  {
    name: 'email', marker: '[REDACTED:email]', pre: PRE.email, order: 9,
    source: '[A-Za-z0-9._%+\\-]+@[A-Za-z0-9](?:[A-Za-z0-9\\-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9\\-]*[A-Za-z0-9])?)*\\.[A-Za-z]{2,24}\\b',
  },
  {
    name: 'ssn', marker: '[REDACTED:ssn]', pre: PRE.ssn, valid: validSSN, order: 11,
    source: '\\b\\d{3}-\\d{2}-\\d{4}\\b',
  },
  {
    name: 'credit_card', marker: '[REDACTED:credit_card]', pre: PRE.card, valid: validCard, order: 10,
    source: '\\b\\d(?:[ \\-]?\\d){12,18}\\b',
  },
  {
    name: 'phone', marker: '[REDACTED:phone]', pre: PRE.phone, valid: validPhone, order: 12,
    source: '\\+\\d{1,3}[ .\\-]?(?:\\(\\d{1,4}\\)[ .\\-]?)?\\d{1,4}(?:[ .\\-]?\\d{1,4}){1,5}' +
      '|(?:\\b1[ .\\-])?(?:\\(\\d{3}\\) ?|\\b\\d{3}[ .\\-])\\d{3}[ .\\-]\\d{4}\\b',
  },
  {
    name: 'aws_key', marker: '[REDACTED:aws_key]', pre: PRE.awsKey, order: 3,
    source: '\\b(?:AKIA|ASIA)[A-Z0-9]{16}\\b',
  },
  {
    name: 'aws_secret', marker: MARKER_AWS_SECRET, pre: PRE.awsSecret, valid: validAWSSecret, order: 6,
    source: `(?:${ci('aws|secret')})[A-Za-z0-9_.\\-]{0,40}["']?(?:${S}*[:=]${S}*|${S}+)["']?([A-Za-z0-9/+]{40})`,
  },
  {
    name: 'oauth_token', marker: '[REDACTED:oauth_token]', pre: PRE.oauth, valid: validToken, order: 5,
    source: '\\bya29\\.[0-9A-Za-z_\\-]{20,}' +
      '|\\bgh[opusr]_[A-Za-z0-9]{36,}\\b' +
      '|\\bgithub_pat_[A-Za-z0-9_]{40,}\\b' +
      '|\\bxox[abprs]-[A-Za-z0-9\\-]{10,}' +
      `|\\b${ci('bearer')}${S}+([A-Za-z0-9\\-._~+/]{8,}=*)` +
      `|(?:^|[^A-Za-z0-9])(?:${ci('access|refresh|id')})[_\\-]?${ci('token')}["']?${S}*[:=]${S}*["']?([A-Za-z0-9\\-._~+/]{8,}=*)`,
  },
  {
    name: 'stripe_key', marker: '[REDACTED:stripe_key]', pre: PRE.stripe, order: 4,
    source: '\\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10,}\\b',
  },
  { name: 'sensitive_name', marker: MARKER_SENSITIVE_NAME, source: null }, // names only
  {
    name: 'jwt', marker: '[REDACTED:jwt]', pre: PRE.jwt, order: 2,
    source: '\\beyJ[A-Za-z0-9_\\-]{6,}\\.[A-Za-z0-9_\\-]{6,}\\.[A-Za-z0-9_\\-]*',
  },
  {
    name: 'private_key', marker: '[REDACTED:private_key]', pre: PRE.privateKey, order: 1,
    source: '-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\\s\\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)',
  },
  {
    name: 'api_key', marker: '[REDACTED:api_key]', pre: PRE.apiKey, valid: validAPIKey, order: 8,
    source: '\\bAIza[0-9A-Za-z_\\-]{35}\\b' +
      '|\\bSG\\.[A-Za-z0-9_\\-]{16,32}\\.[A-Za-z0-9_\\-]{16,64}\\b' +
      '|(?:^|[^A-Za-z0-9])' + ci('(?:x[_\\-]?)?(?:api[_\\-]?(?:key|token|secret)|apikey|secret[_\\-]?key|access[_\\-]?key(?:[_\\-]?id)?|client[_\\-]?secret|app[_\\-]?(?:key|secret)|private[_\\-]?token|auth[_\\-]?(?:token|key)|secret|token)') +
      `["']?${S}*[:=]${S}*["']?([A-Za-z0-9_\\-./+=~]{4,})`,
  },
  {
    name: 'password', marker: MARKER_PASSWORD, pre: PRE.password, valid: validPassword, order: 7,
    source: `(?:${ci('pass(?:word|wd|phrase)?|pwd')})["']?${S}*[:=]${S}*(?:"((?:[^"\\\\\\n]|\\\\[^\\n])+)"|'((?:[^'\\\\\\n]|\\\\[^\\n])+)'|([^\\s"'&,;\\[\\]{}]+))` +
      '|\\b[A-Za-z][A-Za-z0-9+.\\-]*://[^\\s:/@]+:([^\\s/@]+)@',
  },
];

// In the Go source, [^\s...] classes use RE2's \s; spell it out inside classes too.
for (const b of BUILTINS) {
  if (b.source) b.source = b.source.replace(/\[\^\\s/g, '[^\\t\\n\\f\\r ');
}

function compileBuiltin(b) {
  // Every capture group of a built-in is a "value" group.
  const re = new RegExp(b.source, 'gd');
  return { name: b.name, marker: b.marker, re, pre: b.pre, valid: b.valid || null, valueGroups: 'all' };
}

const COMPILED_BUILTINS = BUILTINS.filter((b) => b.source)
  .sort((a, b) => a.order - b.order)
  .map(compileBuiltin);

// Name rules (names.go).
const MAX_NAME_LEN = 96;
const PASSWORD_WORDS = new Set(['password', 'passwd', 'pwd', 'passphrase', 'passcode']);
const SENSITIVE_WORDS = new Set([
  'secret', 'secrets', 'token', 'auth', 'authorization', 'credential', 'credentials', 'creds', 'cookie', 'cookies',
  'apikey', 'privatekey', 'sessionid', 'sessid', 'jwt', 'bearer', 'otp', 'cvv', 'cvc', 'pin', 'ssn',
  'signature', 'salt', 'privkey',
]);
const SENSITIVE_COMPOUNDS = [
  'apikey', 'privatekey', 'secretkey', 'accesskey', 'sessionid', 'sessiontoken', 'clientsecret', 'authtoken',
  'accesstoken', 'refreshtoken', 'idtoken', 'csrftoken', 'encryptionkey', 'signingkey', 'masterkey',
];
const META_WORDS = new Set([
  'type', 'kind', 'count', 'len', 'length', 'size', 'policy', 'required', 'enabled', 'disabled', 'set',
  'expiry', 'expires', 'expired', 'expiration', 'ttl', 'at', 'time', 'date', 'timestamp', 'strength', 'changed',
  'updated', 'created', 'reset', 'min', 'max', 'format', 'rule', 'rules', 'label', 'name', 'names', 'url',
  'uri', 'endpoint', 'path', 'file', 'ref', 'arn', 'method', 'mode', 'scheme', 'provider',
  'version', 'algorithm', 'alg', 'present', 'valid',
]);

const NAME_NONE = 0;
const NAME_SENSITIVE = 1;
const NAME_PASSWORD = 2;
const NAME_AWS_SECRET = 3;

function classifyName(name) {
  if (typeof name !== 'string' || name === '') return NAME_NONE;
  let buf = '';
  const starts = [];
  let newWord = true;
  // Go walks bytes; a non-ASCII character is one or more non-letter bytes.
  for (let i = 0; i < name.length && buf.length < MAX_NAME_LEN; i++) {
    const c = name.charCodeAt(i);
    const lower = c >= 97 && c <= 122;
    const upper = c >= 65 && c <= 90;
    const digit = c >= 48 && c <= 57;
    if (!lower && !upper && !digit) {
      newWord = true;
      continue;
    }
    if (upper && i > 0) {
      const p = name.charCodeAt(i - 1);
      const prevLower = (p >= 97 && p <= 122) || (p >= 48 && p <= 57);
      const nx = i + 1 < name.length ? name.charCodeAt(i + 1) : 0;
      const nextLower = nx >= 97 && nx <= 122;
      const prevUpper = p >= 65 && p <= 90;
      if (prevLower || (prevUpper && nextLower)) newWord = true;
    }
    if (newWord && starts.length < 24) starts.push(buf.length);
    newWord = false;
    buf += upper ? String.fromCharCode(c + 32) : name[i];
  }
  const words = starts.length;
  if (words === 0) return NAME_NONE;
  const word = (i) => {
    const end = i + 1 < words ? starts[i + 1] : buf.length;
    let w = buf.slice(starts[i], end);
    while (w.length > 1 && isDigit(w.charCodeAt(w.length - 1))) w = w.slice(0, -1);
    return w;
  };
  if (words > 1 && META_WORDS.has(word(words - 1))) return NAME_NONE;
  if (buf.includes('awssecret') || buf.includes('secretaccesskey')) return NAME_AWS_SECRET;
  if (word(words - 1) === 'pass') return NAME_PASSWORD;
  let cls = NAME_NONE;
  for (let i = 0; i < words; i++) {
    const w = word(i);
    if (PASSWORD_WORDS.has(w)) return NAME_PASSWORD;
    if (SENSITIVE_WORDS.has(w)) cls = NAME_SENSITIVE;
  }
  if (cls !== NAME_NONE) return cls;
  for (const c of SENSITIVE_COMPOUNDS) if (buf.includes(c)) return NAME_SENSITIVE;
  return NAME_NONE;
}

// replace substitutes the marker for every valid match of p in s.
function replace(p, s) {
  const re = p.re;
  re.lastIndex = 0;
  let out = null;
  let last = 0;
  let m;
  while ((m = re.exec(s)) !== null) {
    let start = m.index;
    let end = start + m[0].length;
    if (m[0].length === 0) re.lastIndex++; // custom patterns: never loop
    if (p.valueGroups === 'all') {
      for (let g = 1; g < m.length; g++) {
        if (m[g] !== undefined) {
          [start, end] = m.indices[g];
          break;
        }
      }
    } else if (p.valueGroups === 'named' && m.groups && m.groups.value !== undefined) {
      [start, end] = m.indices.groups.value;
    }
    if (p.valid) {
      const r = p.valid(s, start, end);
      if (r === null) continue;
      [start, end] = r;
    }
    if (start >= end || start < last) continue;
    if (out === null) out = '';
    out += s.slice(last, start) + p.marker;
    last = end;
  }
  if (out === null) return s;
  return out + s.slice(last);
}

// Name rules are the same for every enabled Scrubber (custom patterns apply
// to values), so one cache serves them all.
const NAME_CACHE = new Map();
const NAME_CACHE_MAX = 4096;

class Scrubber {
  // options: { disabled, custom: [{pattern: RegExp, marker: string, name?}] }
  constructor(options = {}) {
    this.disabled = !!options.disabled;
    this.patterns = [];
    const custom = options.custom || [];
    if (!Array.isArray(custom)) throw new TypeError('tracekit: captureConfig.piiPatterns must be an array of {pattern, marker}');
    custom.forEach((c, i) => {
      const where = `tracekit: captureConfig.piiPatterns[${i}]`;
      if (!c || !(c.pattern instanceof RegExp)) throw new TypeError(`${where}: pattern must be a RegExp`);
      if (typeof c.marker !== 'string' || c.marker === '') {
        throw new TypeError(`${where}: marker must be a non-empty string such as [REDACTED:custom_id]`);
      }
      let flags = c.pattern.flags.replace(/[gyd]/g, '');
      const named = /\(\?<value>/.test(c.pattern.source);
      flags += 'g' + (named ? 'd' : '');
      const re = new RegExp(c.pattern.source, flags);
      re.lastIndex = 0;
      const empty = re.exec('');
      if (empty !== null && empty[0] === '') throw new TypeError(`${where}: pattern ${c.pattern} matches the empty string`);
      this.patterns.push({ name: c.name || 'custom', marker: c.marker, re, pre: PRE.none, valid: null, valueGroups: named ? 'named' : 'none' });
    });
    this.patterns.push(...COMPILED_BUILTINS);
    this.markers = [MARKER_SENSITIVE_NAME, MARKER_PASSWORD, MARKER_AWS_SECRET, ...this.patterns.map((p) => p.marker)];
  }

  get enabled() { return !this.disabled; }

  // string returns str with every sensitive value replaced by its marker;
  // str itself when nothing matches.
  string(str) {
    if (this.disabled || typeof str !== 'string' || str.length === 0) return str;
    const f = new Features(str);
    let out = str;
    for (let i = 0; i < this.patterns.length; i++) {
      const p = this.patterns[i];
      if (p.pre !== PRE.none && !f.admits(p.pre, out)) continue;
      out = replace(p, out);
    }
    return out;
  }

  // nameMarker returns the marker replacing the whole value of a field
  // called name, or '' when the name is not sensitive.
  nameMarker(name) {
    if (this.disabled) return '';
    // Names repeat (the same fields, hit after hit): classified once each,
    // in a bounded cache.
    let cls = NAME_CACHE.get(name);
    if (cls === undefined) {
      cls = classifyName(name);
      if (NAME_CACHE.size >= NAME_CACHE_MAX) NAME_CACHE.clear();
      NAME_CACHE.set(name, cls);
    }
    switch (cls) {
      case NAME_PASSWORD: return MARKER_PASSWORD;
      case NAME_AWS_SECRET: return MARKER_AWS_SECRET;
      case NAME_SENSITIVE: return MARKER_SENSITIVE_NAME;
      default: return '';
    }
  }

  // field scrubs value as the value of a field called name.
  field(name, value) {
    const m = this.nameMarker(name);
    if (m !== '') return value === '' ? value : m;
    return this.string(value);
  }

  hasMarker(str) {
    if (this.disabled) return false;
    for (const m of this.markers) if (str.includes(m)) return true;
    return false;
  }
}

const BUILTIN_NAMES = BUILTINS.map((b) => b.name);

module.exports = {
  Scrubber, classifyName, BUILTIN_NAMES, MARKER_WITHHELD,
  NAME_NONE, NAME_SENSITIVE, NAME_PASSWORD, NAME_AWS_SECRET,
};
