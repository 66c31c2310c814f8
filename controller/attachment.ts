// Who plumbs an endpoint's sandbox side, asked in one place. Pure.
//
// Most endpoints belong to a netloom sandbox: netloom makes the veth, moves one end into the
// sandbox's namespace and configures it, for as long as the record exists. An engine-attached
// endpoint (EngineAttachment, made through controller/external.ts) is plumbed by a container
// engine: netloom's veth exists only between attach and detach, and its container end stays in
// the host namespace for the engine to move.
import type { EndpointRecord } from './records.js';

/** Whether the endpoint's kernel side should exist now (reconcile re-applies it, the firewall
 *  and doctor count it): always for a sandbox's endpoint, while attached for an engine's. */
export const isPlumbed = (ep: EndpointRecord): boolean => !ep.attachment || ep.attachment.sandboxKey !== undefined;

/** An endpoint record as main wrote it before EngineAttachment: `external: {sandboxKey?, publish?}`. */
type OldEndpoint = EndpointRecord & { readonly external?: { readonly sandboxKey?: string; readonly publish?: readonly string[] } };

/** Loads a record of either shape as today's: `external` becomes an engine attachment. */
export function upgradeEndpoint(raw: EndpointRecord): EndpointRecord {
  const { external, ...rest } = raw as OldEndpoint;
  if (!external || rest.attachment) return raw;
  return { ...rest, attachment: { kind: 'engine', ...external } };
}
