// Docker's remote network-driver verbs, mapped onto the controller's operations for what a
// container engine manages (controller/external.ts). The engine splits `network create` and
// `connect` into IPAM calls (ipam.ts) and these, in a fixed order (docs/plugin-protocol.md):
//   CreateNetwork..DeleteNetwork is a network on the pools the engine reserved,
//   CreateEndpoint..DeleteEndpoint an engine-attached endpoint, Join..Leave its veth,
//   ProgramExternalConnectivity..RevokeExternalConnectivity its published ports.
// What is Docker's own stays here: its IDs, the names netloom shows for them, its option keys.
import { invalid } from '../common/errors.js';
import type { Controller, ExternalNetworkRequest, ExternalPool } from '../controller/index.js';

/** One IPv4Data/IPv6Data entry: Pool, Gateway and AuxAddresses as the engine sends them. */
export type IpamData = ExternalPool;

export interface DockerNetworkRequest extends Omit<ExternalNetworkRequest, 'id' | 'name' | 'driver'> {
  readonly networkId: string;
}

export interface DockerEndpointRequest {
  readonly networkId: string;
  readonly endpointId: string;
  readonly address: string;
  readonly addressIPv6: string;
  readonly mac: string;
  /** The engine's port map as --publish specs; published at ProgramExternalConnectivity. */
  readonly portmap: readonly string[];
  readonly unknownOptions: readonly string[];
}

export interface JoinReply {
  readonly srcName: string;
  readonly gateway?: string;
  readonly gatewayIPv6?: string;
  readonly disableGatewayService: boolean;
}

/** The name `netloom network ls` shows: Docker does not tell drivers the name it uses. */
export const dockerNetworkName = (id: string): string => `docker-${id.slice(0, 12)}`;
/** What netloom shows for the container of an endpoint (Docker does not say which it is). */
const containerLabel = (endpointId: string): string => `docker-${endpointId.slice(0, 12)}`;

function checkId(field: 'NetworkID' | 'EndpointID', id: string): void {
  if (!/^[0-9a-f]{64}$/.test(id)) throw invalid('NL_BAD_ID', `invalid ${field} "${id}": expected 64 hex characters`);
}

/** netloom's remote driver is its bridge driver. */
export async function createNetwork(ctl: Controller, req: DockerNetworkRequest): Promise<void> {
  const { networkId, ...rest } = req;
  checkId('NetworkID', networkId);
  await ctl.external.createNetwork({ ...rest, id: networkId, name: dockerNetworkName(networkId), driver: 'bridge' });
}

/** Returns the MAC netloom chose when the request had none (only what the engine left empty may
 *  be answered: an echoed value fails the create). */
export async function createEndpoint(ctl: Controller, req: DockerEndpointRequest): Promise<string | undefined> {
  checkId('EndpointID', req.endpointId);
  if (req.unknownOptions.length) throw invalid('NL_UNSUPPORTED_OPTION', `unsupported endpoint option ${req.unknownOptions.join(', ')}`);
  const r = await ctl.external.createEndpoint({
    networkId: req.networkId,
    endpointId: req.endpointId,
    label: containerLabel(req.endpointId),
    ipv4: req.address,
    ipv6: req.addressIPv6,
    mac: req.mac,
    publish: req.portmap,
  });
  return req.mac || !r.created ? undefined : r.endpoint.mac;
}

export async function join(ctl: Controller, networkId: string, endpointId: string, sandboxKey: string): Promise<JoinReply> {
  const a = await ctl.external.attach(networkId, endpointId, sandboxKey);
  // Internal: DisableGatewayService, so the engine makes no docker_gwbridge either.
  return { srcName: a.ifname, gateway: a.gateway4, gatewayIPv6: a.gateway6, disableGatewayService: a.internal };
}
