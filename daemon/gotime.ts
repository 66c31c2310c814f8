// Docker's `until` filter value, parsed as the engine parses it (moby api/types/time GetTimestamp):
// a Go duration (24h, 1h30m, -10m) counts back from now; otherwise an RFC 3339 time or date (in the
// daemon's time zone when it names none), or a unix timestamp (seconds[.fraction]). The errors are
// Go's texts, which Docker returns as they are. Pure: `now` and the zone offset are arguments.

const UNIT_NS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds; undefined when Go would refuse it. */
export function parseGoDuration(s: string): number | undefined {
  let rest = s;
  let sign = 1;
  if (rest[0] === '-' || rest[0] === '+') {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (!rest) return undefined;
  let total = 0;
  while (rest) {
    const m = /^(\d*)(?:\.(\d*))?([^\d.]+)/.exec(rest);
    if (!m || (!m[1] && !m[2])) return undefined;
    // The unit is the whole run of non-digits: "1hx" has unit "hx", which Go refuses.
    if (!(m[3] in UNIT_NS)) return undefined;
    total += Number(`${m[1] || '0'}.${m[2] || '0'}`) * UNIT_NS[m[3]];
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

class GoTimeError extends Error {}

type Elem = '2006' | '01' | '02' | '15' | '04' | '05' | '.999999999' | 'Z07:00' | string;

const LAYOUT_ELEMS = /2006|01|02|15|04|05|\.999999999|Z07:00/g;

function elems(layout: string): Elem[] {
  const out: Elem[] = [];
  let last = 0;
  for (const m of layout.matchAll(LAYOUT_ELEMS)) {
    if (m.index! > last) out.push(...layout.slice(last, m.index));
    out.push(m[0]);
    last = m.index! + m[0].length;
  }
  out.push(...layout.slice(last));
  return out;
}

const daysIn = (month: number, year: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** Go's time.Parse / ParseInLocation for the layouts GetTimestamp uses: milliseconds since the epoch. */
export function parseGoTime(layout: string, value: string, zoneOffsetMin: number | undefined): number {
  const fail = (rem: string, elem: string): never => {
    throw new GoTimeError(`parsing time "${value}" as "${layout}": cannot parse "${rem}" as "${elem}"`);
  };
  const range = (what: string): never => {
    throw new GoTimeError(`parsing time "${value}": ${what} out of range`);
  };
  let v = value;
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let fracMs = 0;
  let offsetMin = zoneOffsetMin;
  const num = (elem: string, fixed: boolean): number => {
    const m = (fixed ? /^\d\d/ : /^\d\d?/).exec(v);
    if (!m) fail(v, elem);
    v = v.slice(m![0].length);
    return Number(m![0]);
  };
  const fraction = (): void => {
    const m = /^[.,](\d+)/.exec(v);
    if (!m) return;
    fracMs = Number(`0.${m[1]}`) * 1000;
    v = v.slice(m[0].length);
  };
  for (const e of elems(layout)) {
    switch (e) {
      case '2006':
        if (!/^\d{4}/.test(v)) fail(v, e);
        year = Number(v.slice(0, 4));
        v = v.slice(4);
        break;
      case '01':
        month = num(e, true);
        if (month < 1 || month > 12) range('month');
        break;
      case '02':
        day = num(e, true);
        break;
      case '15':
        hour = num(e, false);
        if (hour > 23) range('hour');
        break;
      case '04':
        min = num(e, true);
        if (min > 59) range('minute');
        break;
      case '05':
        sec = num(e, true);
        if (sec > 59) range('second');
        // Go accepts a fraction after the seconds even when the layout has none.
        fraction();
        break;
      case '.999999999':
        fraction();
        break;
      case 'Z07:00': {
        if (v[0] === 'Z') {
          offsetMin = 0;
          v = v.slice(1);
          break;
        }
        const m = /^([+-])(\d\d):(\d\d)/.exec(v);
        if (!m) fail(v, e);
        offsetMin = (m![1] === '-' ? -1 : 1) * (Number(m![2]) * 60 + Number(m![3]));
        v = v.slice(6);
        break;
      }
      default:
        if (v[0] !== e) fail(v, e);
        v = v.slice(1);
    }
  }
  if (v) throw new GoTimeError(`parsing time "${value}": extra text: "${v}"`);
  if (day < 1 || day > daysIn(month, year)) range('day');
  return Date.UTC(year, month - 1, day, hour, min, sec) + fracMs - (offsetMin ?? 0) * 60_000;
}

/** Go's strconv.ParseInt(s, 10, 64) success, for the unix-timestamp form. */
const goInt = (s: string): boolean => /^[+-]?\d+$/.test(s);

/**
 * GetTimestamp + ParseTimestamps: the instant `value` names, in milliseconds since the epoch
 * (fractional). Throws an Error with Docker's message when Docker would refuse the value.
 * `zoneOffsetMin` is the daemon's UTC offset in minutes (east positive), used when the value names no zone.
 */
export function dockerTimestamp(value: string, nowMs: number, zoneOffsetMin: number): number {
  const d = parseGoDuration(value);
  if (value !== '0' && d !== undefined) {
    // Docker keeps whole seconds: reference.Add(-d).Unix().
    return Math.floor((nowMs - d / 1e6) / 1000) * 1000;
  }
  const inLocation = !/[zZ+]/.test(value) && value.split('-').length - 1 !== 3;
  let layout: string;
  if (value.includes('.')) layout = inLocation ? '2006-01-02T15:04:05.999999999' : '2006-01-02T15:04:05.999999999Z07:00';
  else if (value.includes('T')) {
    let colons = value.split(':').length - 1;
    if (!inLocation && !/[zZ]/.test(value) && colons > 0) colons--;
    const time = colons === 0 ? '15' : colons === 1 ? '15:04' : '15:04:05';
    layout = `2006-01-02T${time}${inLocation ? '' : 'Z07:00'}`;
  } else layout = inLocation ? '2006-01-02' : '2006-01-02Z07:00';
  try {
    return parseGoTime(layout, value, inLocation ? zoneOffsetMin : undefined);
  } catch (err) {
    if (!(err instanceof GoTimeError)) throw err;
    if (value.includes('-')) throw new Error(err.message);
    const [s, n] = value.split(/\.(.*)/s);
    if (!goInt(s) || (n !== undefined && !goInt(n))) throw new Error(`failed to parse value as time or duration: ${JSON.stringify(value)}`);
    const nanos = n === undefined ? 0 : Number(n) * 10 ** (9 - n.length);
    return Number(s) * 1000 + nanos / 1e6;
  }
}
