// Records written by an older netloom, brought to today's shape when the store is loaded.
//
// Format 1 (no meta/record-format key): an endpoint's addresses are "ip/prefix" strings and its
// sandbox is the sandbox's name. Format 2: addresses are {ip, prefix} and the sandbox is its id
// (as the network already was), and an engine's endpoint has an `attachment` instead of
// `external` (attachment.ts). Pure: state.ts reads the store, calls this and writes the result.
import { addressOf, parseIfAddr, type IfAddr } from '../common/cidr.js';
import type { EndpointRecord, SandboxRecord } from './records.js';
import { upgradeEndpoint } from './attachment.js';

export const RECORD_FORMAT = 2;

/** An endpoint as format 1 stored it. */
export type EndpointRecordV1 = Omit<EndpointRecord, 'ipv4' | 'ipv6'> & { readonly ipv4?: string; readonly ipv6?: string };

/** A stored address in either format. The address text is kept as written (inspect shows it);
 *  a missing or bad prefix, which netloom never wrote, reads as a host prefix. */
function ifAddr(a: string | IfAddr | undefined, family: 4 | 6): IfAddr | undefined {
  if (a === undefined || typeof a !== 'string') return a;
  return { ip: addressOf(a), prefix: parseIfAddr(a)?.prefix ?? (family === 4 ? 32 : 128) };
}

/** Format 1 to 2. A sandbox name no sandbox has (a Docker endpoint's docker-<id>) stays as it is. */
export function migrateEndpoint(ep: EndpointRecordV1 | EndpointRecord, sandboxesByName: ReadonlyMap<string, SandboxRecord>): EndpointRecord {
  const { ipv4, ipv6, ...rest } = ep;
  const sandbox = sandboxesByName.get(ep.sandbox)?.id ?? ep.sandbox;
  const v4 = ifAddr(ipv4, 4);
  const v6 = ifAddr(ipv6, 6);
  // An engine's endpoint: `external: {sandboxKey?, publish?}` becomes an EngineAttachment.
  return upgradeEndpoint({ ...rest, sandbox, ...(v4 ? { ipv4: v4 } : {}), ...(v6 ? { ipv6: v6 } : {}) });
}
