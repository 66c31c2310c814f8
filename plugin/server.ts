// The Docker remote network-driver and remote IPAM plugin face: HTTP on a unix socket (by default
// /run/docker/plugins/netloom.sock, where dockerd finds a plugin named "netloom"). Routes only
// translate the wire (wire.ts) into the driver mapping (mapping.ts) and the IPAM mapping (ipam.ts).
//
// Engine rules this follows (docs/plugin-protocol.md): requests carry no
// Content-Type and may have an empty body; every answer is 200 with a JSON object, errors as
// {"Err"} for NetworkDriver and {"Error"} for IpamDriver; unknown methods 404; EndpointOperInfo
// answers {"Value":{}}; Join returns the host-side interface and a Gateway, or
// DisableGatewayService for internal networks.
import { acceptAnyJson } from '../common/http.js';
import { formatIfAddr, ifAddrIn } from '../common/cidr.js';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../common/log.js';
import type { Controller } from '../controller/index.js';
import * as ipam from './ipam.js';
import * as mapping from './mapping.js';
import * as wire from './wire.js';

// Defined beside the instance paths so netloomd knows the socket without loading this module.
export { PLUGIN_NAME, DEFAULT_PLUGIN_SOCKET } from '../common/config.js';
export const PLUGIN_BODY_LIMIT = 1 << 20;
const CONTENT_TYPE = 'application/vnd.docker.plugins.v1+json';

type Handler = (body: Record<string, unknown>) => Promise<object> | object;

/** The error key the engine reads: IpamDriver answers have no Err field, only Error. */
const errorKey = (url: string): 'Err' | 'Error' => (url.startsWith('/IpamDriver.') ? 'Error' : 'Err');

/** Teardown verbs: the engine only logs their errors, so we log them too, where someone looks. */
const TEARDOWN = new Set([
  'NetworkDriver.Leave',
  'NetworkDriver.DeleteEndpoint',
  'NetworkDriver.DeleteNetwork',
  'NetworkDriver.RevokeExternalConnectivity',
  'IpamDriver.ReleaseAddress',
  'IpamDriver.ReleasePool',
]);

export function pluginRoutes(ctl: Controller): Record<string, Handler> {
  const x = ctl.external;
  return {
    'Plugin.Activate': () => ({ Implements: ['NetworkDriver', 'IpamDriver'] }),

    'NetworkDriver.GetCapabilities': () => ({ Scope: 'local', ConnectivityScope: 'local' }),
    'NetworkDriver.CreateNetwork': async (b) => {
      await mapping.createNetwork(ctl, wire.createNetworkRequest(b));
      return {};
    },
    'NetworkDriver.DeleteNetwork': async (b) => {
      await x.deleteNetwork(wire.id(b, 'NetworkID'));
      return {};
    },
    'NetworkDriver.CreateEndpoint': async (b) => {
      const mac = await mapping.createEndpoint(ctl, wire.createEndpointRequest(b));
      // Only what the engine left empty may come back (an echoed address fails the create).
      return mac ? { Interface: { MacAddress: mac } } : {};
    },
    'NetworkDriver.DeleteEndpoint': async (b) => {
      await x.deleteEndpoint(wire.endpointIds(b).endpointId);
      return {};
    },
    'NetworkDriver.EndpointOperInfo': (b) => {
      x.endpoint(wire.endpointIds(b).endpointId);
      return { Value: {} };
    },
    'NetworkDriver.Join': async (b) => {
      const r = wire.joinRequest(b);
      const j = await mapping.join(ctl, r.networkId, r.endpointId, r.sandboxKey);
      return {
        InterfaceName: { SrcName: j.srcName, DstPrefix: 'eth' },
        ...(j.gateway ? { Gateway: j.gateway } : {}),
        ...(j.gatewayIPv6 ? { GatewayIPv6: j.gatewayIPv6 } : {}),
        ...(j.disableGatewayService ? { DisableGatewayService: true } : {}),
      };
    },
    'NetworkDriver.Leave': async (b) => {
      await x.detach(wire.endpointIds(b).endpointId);
      return {};
    },
    // -p/-P: the engine calls these for the sandbox's gateway endpoint only.
    'NetworkDriver.ProgramExternalConnectivity': async (b) => {
      await x.publish(wire.endpointIds(b).endpointId);
      return {};
    },
    'NetworkDriver.RevokeExternalConnectivity': async (b) => {
      await x.unpublish(wire.endpointIds(b).endpointId);
      return {};
    },
    // Swarm-only verbs: trivial successes, as the protocol asks.
    'NetworkDriver.AllocateNetwork': () => ({ Options: {} }),
    'NetworkDriver.FreeNetwork': () => ({}),
    'NetworkDriver.DiscoverNew': () => ({}),
    'NetworkDriver.DiscoverDelete': () => ({}),

    // State is persisted: the engine must not replay allocations after its restart.
    'IpamDriver.GetCapabilities': () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
    'IpamDriver.GetDefaultAddressSpaces': () => ({
      LocalDefaultAddressSpace: ipam.ADDRESS_SPACES.local,
      GlobalDefaultAddressSpace: ipam.ADDRESS_SPACES.global,
    }),
    'IpamDriver.RequestPool': async (b) => {
      const p = await ipam.requestPool(ctl, wire.poolRequest(b));
      // Handing the gateway over here spares the engine a RequestAddress (unless --gateway).
      return { PoolID: p.poolId, Pool: p.pool, Data: { 'com.docker.network.gateway': p.gateway } };
    },
    'IpamDriver.ReleasePool': async (b) => {
      await ipam.releasePool(ctl, wire.id(b, 'PoolID'));
      return {};
    },
    'IpamDriver.RequestAddress': async (b) => ({ Address: await ipam.requestAddress(ctl, wire.addressRequest(b)), Data: {} }),
    'IpamDriver.ReleaseAddress': async (b) => {
      const r = wire.releaseAddressRequest(b);
      await ipam.releaseAddress(ctl, r.poolId, r.address);
      return {};
    },
  };
}

const json = (reply: FastifyReply, status: number, value: object): FastifyReply => reply.status(status).type(CONTENT_TYPE).send(JSON.stringify(value));

export function buildPluginServer(ctl: Controller, log: Logger): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: PLUGIN_BODY_LIMIT });
  // The engine sends no Content-Type at all; parse every body ourselves.
  acceptAnyJson(app, 200, PLUGIN_BODY_LIMIT);

  for (const [method, handler] of Object.entries(pluginRoutes(ctl))) {
    app.post(`/${method}`, async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        return json(reply, 200, await handler(wire.body(req.body)));
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const level = TEARDOWN.has(method) ? 'warn' : 'info';
        log[level]({ method, err: message }, 'docker plugin call failed');
        return json(reply, 200, { [errorKey(req.url)]: message });
      }
    });
  }
  app.setNotFoundHandler((req, reply) => json(reply, 404, { Err: `netloom does not implement ${req.method} ${req.url}` }));
  // Body parse errors and oversized bodies: before any handler. A non-200 answer is read as Err
  // by the engine for both interfaces; a 200 one needs the interface's own key.
  app.setErrorHandler((err, req, reply) => {
    const e = err as { statusCode?: number; message?: string };
    const status = e.statusCode === 200 ? 200 : e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    const message = e.message ?? String(err);
    log.info({ url: req.url, status, err: message }, 'docker plugin: bad request');
    return json(reply, status, status === 200 ? { [errorKey(req.url)]: message } : { Err: message });
  });
  return app;
}
