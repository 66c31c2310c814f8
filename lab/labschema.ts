// A *.loom.yaml file's first two checks (lab/topology.ts does the rest): YAML with source
// positions (yaml's parseDocument + LineCounter), then the shipped JSON Schema (ajv), with the
// one schema error worth showing turned into a sentence. Every error names FILE:LINE:COL. Pure.
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YNode } from 'yaml';

import schema from './lab.schema.json' with { type: 'json' };
let validator: ReturnType<Ajv['compile']> | undefined;

export class LabFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${col}: ${detail}`);
  }
}

export type Path = readonly (string | number)[];

export class Located {
  constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lc: LineCounter,
  ) {}

  /** The position of the deepest node on the path (the key itself when `atKey`). */
  at(path: Path, atKey = false): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let offset = 0;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        offset = (pair.key as YNode).range?.[0] ?? offset;
        if (atKey && seg === path[path.length - 1]) break;
        node = pair.value;
      } else if (isSeq(node)) {
        node = node.items[Number(seg)];
      } else break;
      const r = (node as YNode | null)?.range;
      if (r) offset = r[0];
    }
    return this.lc.linePos(offset);
  }

  error(path: Path, message: string, atKey = false): LabFileError {
    const p = this.at(path, atKey);
    return new LabFileError(this.file, p.line, p.col, message);
  }
}

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);
const pointer = (p: string): string[] =>
  p
    ? p
        .split('/')
        .slice(1)
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    : [];

/** The one ajv error worth showing: the deepest, and for oneOf the branch closest to the value. */
function schemaMessage(e: ErrorObject, where: string[]): { message: string; atKey: boolean; path: string[] } {
  const at = where.length ? where.join('.') : 'the file';
  switch (e.keyword) {
    case 'additionalProperties': {
      const k = String((e.params as { additionalProperty: string }).additionalProperty);
      return { message: `unknown key "${k}" in ${at}`, atKey: true, path: [...where, k] };
    }
    case 'required':
      return { message: `${at} needs "${String((e.params as { missingProperty: string }).missingProperty)}"`, atKey: false, path: where };
    case 'enum':
      return { message: `${at} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`, atKey: false, path: where };
    case 'pattern':
      return { message: `${at} ${patternHint(where)}`, atKey: false, path: where };
    case 'propertyNames':
      return { message: `invalid name in ${at}: ${patternHint(where)}`, atKey: false, path: where };
    case 'not':
      return { message: `${at} takes networks or network_mode, not both`, atKey: false, path: where };
    default:
      return { message: `${at} ${e.message ?? 'is invalid'}`, atKey: false, path: where };
  }
}

function patternHint(where: string[]): string {
  const last = where[where.length - 1] ?? '';
  const parent = where[where.length - 2] ?? '';
  const hints: Record<string, string> = {
    name: 'must be [a-z0-9-], starting with a letter or digit, at most 20 characters',
    network_mode: 'must be host, none or container:NODE',
    probe: 'must be icmp, tcp/PORT or udp/PORT',
    allow: 'must be "a<->b", "a->b", "a->*" or "*->b"',
    a: 'must be NODE:IFNAME',
    b: 'must be NODE:IFNAME',
    serve: 'must be tcp/PORT or udp/PORT',
    ports: 'must be [HOST_IP:][HOST_PORT:]PORT[/tcp|udp]',
    add_hosts: 'must be NAME:IPV4',
    links: 'must be NODE[:ALIAS]',
    subnet: 'must be an IPv4 CIDR such as 10.1.0.0/24',
    ip_range: 'must be an IPv4 CIDR such as 10.1.0.0/25',
    a_ip: 'must be an IPv4 address with a prefix such as 10.1.1.1/30',
    b_ip: 'must be an IPv4 address with a prefix such as 10.1.1.2/30',
    ip: 'must be an IPv4 address such as 10.1.0.5',
    gateway: 'must be an IPv4 address such as 10.1.0.1',
    dns: 'must be IPv4 addresses',
    hostname: 'must be a host name such as n01.example',
    nodes: 'names must be [a-z0-9_-], not "host"',
    networks: 'names must be [a-z0-9_.-], not bridge, host or none (those exist already)',
  };
  return hints[last] ?? hints[parent] ?? 'is not a valid value (see lab/lab.schema.json)';
}

function firstSchemaError(errors: ErrorObject[]): ErrorObject {
  // oneOf reports every branch's failure; the deepest error is the useful one.
  const depth = (e: ErrorObject) => pointer(e.instancePath).length * 10 + (e.keyword === 'oneOf' ? 0 : e.keyword === 'type' ? 1 : 5);
  return [...errors].sort((x, y) => depth(y) - depth(x))[0];
}

/** The YAML (with positions) checked against the shipped JSON Schema: the raw value, and where
 *  each of its parts is in the file; throws LabFileError (FILE:LINE:COL: ...) on the first problem. */
export function readLabYaml(text: string, file: string): { raw: unknown; loc: Located } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const loc = new Located(file, doc, lc);
  if (doc.errors.length) {
    const e = doc.errors[0];
    const p = lc.linePos(e.pos[0]);
    throw new LabFileError(file, p.line, p.col, `invalid YAML: ${lowerFirst(e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''))}`);
  }
  const raw = doc.toJS() as unknown;
  if (raw === null || raw === undefined) throw new LabFileError(file, 1, 1, 'the file is empty: a lab needs at least a name and nodes');
  validator ??= new Ajv({ allErrors: true, strict: false }).compile(schema);
  if (!validator(raw)) {
    const e = firstSchemaError(validator.errors ?? []);
    const m = schemaMessage(e, pointer(e.instancePath));
    throw loc.error(m.path, m.message, m.atKey);
  }
  return { raw, loc };
}
