// daemon/filters.ts, gojson.ts, gotime.ts: Docker's `filters` parameter for network ls and prune.
// Expected texts and statuses were taken from a real dockerd 20.10.24 (curl on its socket).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { NetloomError } from '../../common/errors.js';
import { filterNetworks, parseFilters, pruneSelector, type FilterableNetwork } from '../../daemon/filters.js';
import { goJsonSyntaxError } from '../../daemon/gojson.js';
import { dockerTimestamp, parseGoDuration } from '../../daemon/gotime.js';

function fails(fn: () => unknown, status: number, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NetloomError, String(err));
    assert.equal(err.message, message);
    assert.equal(err.status, status);
    return true;
  });
}

const net = (name: string, more: Partial<FilterableNetwork> = {}): FilterableNetwork => ({
  name,
  id: createHash('sha256').update(name).digest('hex'),
  driver: 'bridge',
  scope: 'local',
  labels: {},
  predefined: ['bridge', 'host', 'none'].includes(name),
  inUse: false,
  ...more,
});
const NETS = [
  net('bridge', { inUse: true }),
  net('host', { driver: 'host' }),
  net('none', { driver: 'null' }),
  net('n1', { labels: { keep: '1' } }),
  net('n2', { labels: { keep: '2', x: '' } }),
  net('web', { inUse: true }),
  net('test 01'),
];
const ls = (filters: unknown): string[] => filterNetworks(NETS, parseFilters(JSON.stringify(filters))).map((n) => n.name);

describe('filters: parsing as Docker decodes them', () => {
  test("invalid JSON is a 500 with Go's decoder message", () => {
    fails(() => parseFilters('notjson'), 500, "invalid character 'o' in literal null (expecting 'u')");
    fails(() => parseFilters('{"a":'), 500, 'unexpected end of JSON input');
    fails(() => parseFilters('{"a" 1}'), 500, "invalid character '1' after object key");
    fails(() => parseFilters('{a}'), 500, "invalid character 'a' looking for beginning of object key string");
    fails(() => parseFilters('x'), 500, "invalid character 'x' looking for beginning of value");
  });

  test("wrong types name Go's types; the legacy list form is accepted", () => {
    fails(() => parseFilters('{"label":"x"}'), 500, 'json: cannot unmarshal string into Go value of type map[string]bool');
    fails(() => parseFilters('[]'), 500, 'json: cannot unmarshal array into Go value of type map[string]map[string]bool');
    fails(() => parseFilters('"x"'), 500, 'json: cannot unmarshal string into Go value of type map[string]map[string]bool');
    fails(() => parseFilters('{"label":5}'), 500, 'json: cannot unmarshal number into Go value of type map[string]bool');
    fails(() => parseFilters('{"label":{"a":"b"}}'), 500, 'json: cannot unmarshal string into Go value of type bool');
    assert.deepEqual([...parseFilters('{"label":["keep"]}').get('label')!.keys()], ['keep']);
    assert.equal(parseFilters('null').size, 0);
    assert.equal(parseFilters('').size, 0);
  });

  test('the syntax check agrees with JSON.parse on what is valid', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string({ maxLength: 12 })), (s) => {
        let valid = true;
        try {
          JSON.parse(s);
        } catch {
          valid = false;
        }
        assert.equal(goJsonSyntaxError(s) === undefined, valid, s);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('filters: network ls', () => {
  test('an unknown filter is a 400 Invalid filter naming it, as Docker', () => {
    fails(() => ls({ lable: { a: true } }), 400, "Invalid filter 'lable'");
    fails(() => ls({ until: { '1h': true } }), 400, "Invalid filter 'until'");
  });

  test('name and id are unanchored regular expressions, as Docker (not prefixes)', () => {
    assert.deepEqual(ls({ name: { n: true } }), ['none', 'n1', 'n2']);
    assert.deepEqual(ls({ name: { '^n\\d$': true } }), ['n1', 'n2']);
    assert.deepEqual(ls({ name: { '(?i)N1': true } }), ['n1']);
    assert.deepEqual(ls({ name: { 'n[': true } }), []);
    assert.deepEqual(ls({ name: { 'test 01': true } }), ['test 01']);
    assert.deepEqual(ls({ id: { [NETS[3].id.slice(0, 6)]: true } }), ['n1']);
    assert.deepEqual(ls({ id: { [NETS[3].id.slice(2, 12)]: true } }), ['n1']);
  });

  test('driver and scope match exactly; a value flagged false matches nothing', () => {
    assert.deepEqual(ls({ driver: { host: true } }), ['host']);
    assert.deepEqual(ls({ driver: { bridg: true } }), []);
    assert.deepEqual(ls({ driver: { bridge: false } }), []);
    assert.equal(ls({ scope: { local: true } }).length, NETS.length);
    assert.deepEqual(ls({ scope: { swarm: true } }), []);
  });

  test('label: every k or k=v must be present', () => {
    assert.deepEqual(ls({ label: { keep: true } }), ['n1', 'n2']);
    assert.deepEqual(ls({ label: { 'keep=1': true } }), ['n1']);
    assert.deepEqual(ls({ label: { keep: true, x: true } }), ['n2']);
    assert.deepEqual(ls({ label: { 'keep=3': true } }), []);
  });

  test("type=custom|builtin and dangling=true|false, with Docker's errors", () => {
    assert.deepEqual(ls({ type: { builtin: true } }), ['bridge', 'host', 'none']);
    assert.deepEqual(ls({ type: { custom: true } }), ['n1', 'n2', 'web', 'test 01']);
    assert.equal(ls({ type: { custom: true, builtin: true } }).length, NETS.length);
    fails(() => ls({ type: { foo: true } }), 500, "invalid filter: 'type'='foo'");
    assert.deepEqual(ls({ dangling: { true: true } }), ['n1', 'n2', 'test 01']);
    assert.deepEqual(ls({ dangling: { '1': true } }), ['n1', 'n2', 'test 01']);
    assert.deepEqual(ls({ dangling: { false: true } }), ['bridge', 'host', 'none', 'web']);
    fails(() => ls({ dangling: { true: true, false: true } }), 400, 'got more than one value for filter key "dangling"');
    fails(() => ls({ dangling: { foo: true } }), 400, 'invalid value for filter \'dangling\', must be "true" (or "1"), or "false" (or "0")');
  });
});

describe('filters: prune', () => {
  const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
  const clock = { nowMs: NOW, zoneOffsetMin: 0 };
  const sel = (filters: unknown) => pruneSelector(parseFilters(JSON.stringify(filters)), clock);
  const at = (msAgo: number, labels: Record<string, string> = {}) => ({ created: new Date(NOW - msAgo).toISOString(), labels });

  test('only until, label and label! are accepted, checked before anything else', () => {
    fails(() => sel({ lable: { keep: true } }), 400, "Invalid filter 'lable'");
    fails(() => sel({ name: { n1: true } }), 400, "Invalid filter 'name'");
    fails(() => sel({ until: { '1h': true, '2h': true } }), 500, 'more than one until filter specified');
    fails(() => sel({ until: { bogus: true } }), 500, 'failed to parse value as time or duration: "bogus"');
    fails(() => sel({ until: { '1d': true } }), 500, 'failed to parse value as time or duration: "1d"');
    fails(() => sel({ until: { '': true } }), 500, 'failed to parse value as time or duration: ""');
    fails(() => sel({ until: { '2026-13-01': true } }), 500, 'parsing time "2026-13-01": month out of range');
  });

  test('until=24h deletes only networks created more than 24 h ago', () => {
    const s = sel({ until: { '24h': true } });
    assert.equal(s(at(25 * 3600e3)), true);
    assert.equal(s(at(23 * 3600e3)), false);
    assert.equal(s(at(0)), false);
    assert.equal(sel({ until: { '-1h': true } })(at(0)), true);
  });

  test('until as RFC 3339, date, and unix timestamp', () => {
    const old = at(48 * 3600e3);
    const recent = at(3600e3);
    for (const v of [
      '2026-11-30T12:00:00Z',
      '2026-11-30T12:00:00',
      '2026-11-30T14:00:00+02:00',
      '2026-11-30T12:00',
      '2026-11-30',
      String((NOW - 86400e3) / 1000),
      `${(NOW - 86400e3) / 1000}.5`,
    ]) {
      const s = sel({ until: { [v]: true } });
      assert.equal(s(old), true, v);
      assert.equal(s(recent), false, v);
    }
  });

  test("label needs every label; label! keeps what carries every label! (Docker's rule)", () => {
    assert.equal(sel({ label: { keep: true } })(at(0, { keep: '1' })), true);
    assert.equal(sel({ label: { keep: true } })(at(0)), false);
    assert.equal(sel({ 'label!': { keep: true } })(at(0, { keep: '1' })), false);
    assert.equal(sel({ 'label!': { keep: true } })(at(0)), true);
    const both = sel({ 'label!': { a: true, b: true } });
    assert.equal(both(at(0, { a: '' })), true);
    assert.equal(both(at(0, { a: '', b: '' })), false);
  });

  test('property: until never selects a network created after the instant it names', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: 0, max: 1e6 }), (agoMs, untilSec) => {
        const s = sel({ until: { [`${untilSec}s`]: true } });
        const n = at(agoMs);
        if (s(n)) assert.ok(Date.parse(n.created) <= NOW - untilSec * 1000);
      }),
    );
  });
});

describe('filters: fuzz', () => {
  const key = fc.constantFrom('label', 'label!', 'until', 'name', 'id', 'type', 'dangling', 'driver', 'scope', 'lable');
  const val = fc.oneof(fc.constantFrom('24h', '-1h', '0', '2026-11-30', 'keep', 'keep=1', 'true', 'custom', '^n', '('), fc.string({ maxLength: 6 }));
  const filters = fc.oneof(
    fc.dictionary(key, fc.dictionary(val, fc.oneof(fc.boolean(), fc.constant(null)), { maxKeys: 2 }), { maxKeys: 3 }).map((d) => JSON.stringify(d)),
    fc.dictionary(key, fc.array(val, { maxLength: 2 }), { maxKeys: 3 }).map((d) => JSON.stringify(d)),
    fc.json(),
    fc.string({ maxLength: 10 }),
  );

  test('any filters text gives a result or a NetloomError, never another exception; prune never selects a network without a label= it names', () => {
    const clock = { nowMs: Date.UTC(2026, 11, 1), zoneOffsetMin: 0 };
    fc.assert(
      fc.property(
        filters,
        fc.integer({ min: 0, max: 1e9 }),
        fc.dictionary(fc.constantFrom('keep', 'x'), fc.constantFrom('', '1'), { maxKeys: 2 }),
        (raw, agoMs, labels) => {
          try {
            const f = parseFilters(raw);
            filterNetworks(NETS, f);
          } catch (err) {
            assert.ok(err instanceof NetloomError, String(err));
          }
          try {
            const f = parseFilters(raw);
            const s = pruneSelector(f, clock);
            const n = { created: new Date(clock.nowMs - agoMs).toISOString(), labels };
            if (s(n))
              for (const want of f.get('label')?.keys() ?? [])
                assert.ok(Object.hasOwn(labels, want.split('=')[0]), `${raw} selected ${JSON.stringify(labels)}`);
          } catch (err) {
            assert.ok(err instanceof NetloomError, String(err));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('gotime', () => {
  test('Go durations', () => {
    assert.equal(parseGoDuration('1h30m'), 5400e9);
    assert.equal(parseGoDuration('-1.5h'), -5400e9);
    assert.equal(parseGoDuration('300ms'), 300e6);
    assert.equal(parseGoDuration('0'), 0);
    for (const bad of ['', '1', '1d', 'h', '1hx', '.h', '1h-']) assert.equal(parseGoDuration(bad), undefined, bad);
  });

  test("a date without a zone is in the daemon's zone", () => {
    assert.equal(dockerTimestamp('2026-11-30', 0, 60), Date.UTC(2026, 10, 29, 23, 0));
    assert.equal(dockerTimestamp('2026-11-30Z', 0, 60), Date.UTC(2026, 10, 30));
  });
});
