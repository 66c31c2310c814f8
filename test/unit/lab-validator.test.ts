// lab/labschema.validate.ts is generated from lab/lab.schema.json by make build: it must be the
// validator of the schema as it is now, and answer as ajv's compile() of it answers.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import validateLab, { schemaSha256 } from '../../lab/labschema.validate.js';

const text = readFileSync('lab/lab.schema.json', 'utf8');

test('the generated validator is of the schema as it is (else: make build)', () => {
  assert.equal(schemaSha256, createHash('sha256').update(text).digest('hex'), 'lab/labschema.validate.ts is stale: run make build');
});

test('it gives the errors ajv compile() gives, on good and bad labs', () => {
  const compiled = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(text) as object);
  const labs: unknown[] = [
    { name: 'ok', nodes: { a: { networks: ['n'] } }, networks: { n: { subnet: '10.1.0.0/24' } } },
    { name: 'Bad Name', nodes: {} },
    { name: 'x', nodes: { a: { networks: ['n'], network_mode: 'host', bogus: 1 } } },
    { name: 'x', nodes: { a: {} }, links: [{ a: 'a', b: 'b:p0' }], expect: { reach: [{ probe: 'icmp', nodes: 'a' }] } },
    { nodes: { a: { hostname: 'x'.repeat(300) } } },
  ];
  const oks = labs.map((lab) => {
    const ok = (validateLab as (x: unknown) => boolean)(lab);
    assert.equal(ok, compiled(lab), JSON.stringify(lab));
    assert.deepEqual((validateLab as unknown as { errors: unknown }).errors ?? null, compiled.errors ?? null, JSON.stringify(lab));
    return ok;
  });
  assert.deepEqual(oks, [true, false, false, false, false]);
});
