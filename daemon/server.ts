// netloomd's HTTP API on a unix socket: Docker's Engine API network routes (so `docker network`
// pointed at our socket works) plus /sandboxes. Routes only translate; the controller decides.
import { acceptAnyJson } from '../common/http.js';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { invalid, isNetloomError } from '../common/errors.js';
import type { Controller } from '../controller/index.js';
import type { NetworkView } from '../controller/inspect.js';
import { filterNetworks, parseFilters, pruneSelector } from './filters.js';
import { ENGINE_HEADERS, engineRoutes, queryParam } from './engine.js';
import { EventHub } from './events.js';
import { parseConnect, parseCreateNetwork, parseCreateSandbox, parseDisconnect } from './wire.js';

export { API_VERSION } from './engine.js';

/** Refusals Docker 20.10 answers with 500 rather than a 4xx (its daemon does not type these
 *  errors; docs/engine-api.md §5.1): its clients and the SDK's exception classes follow the status. */
const DOCKER_STATUS: Readonly<Record<string, number>> = { NL_IPAM_INVALID_CIDR: 500, NL_NOT_CONNECTED: 500 };

type Fail = (reply: FastifyReply, status: number, message: string, code: string) => FastifyReply;

// Docker's client decodes an error body only when Content-Type is exactly application/json.
const fail: Fail = (reply, status, message, code) =>
  // (A Buffer body, or fastify would append "; charset=utf-8".)
  reply
    .status(status)
    .type('application/json')
    .send(Buffer.from(JSON.stringify({ message, code })));

export function buildServer(ctl: Controller, logger: boolean | object = false): FastifyInstance {
  const app = Fastify({
    logger: logger as boolean,
    bodyLimit: 1 << 20,
    // Network names have no length limit in Docker; find-my-way's default (100) would 404 longer ones.
    routerOptions: { maxParamLength: 4096 },
    // Docker clients prefix every path with /v1.NN; accept any version, or none.
    rewriteUrl: (req) => (req.url ?? '/').replace(/^\/v\d+\.\d+(?=\/)/, ''),
  });

  // Bodiless POSTs arrive with any Content-Type (old docker CLI: text/plain, length 0).
  acceptAnyJson(app, 400, 1 << 20);

  app.addHook('onSend', async (_req, reply) => {
    reply.headers(ENGINE_HEADERS);
  });
  app.setErrorHandler((err, _req, reply: FastifyReply) => {
    if (isNetloomError(err)) return fail(reply, DOCKER_STATUS[err.code] ?? err.status, err.message, err.code);
    const e = err as { statusCode?: number; message?: string };
    const status = e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    return fail(reply, status, e.message ?? String(err), status === 500 ? 'NL_INTERNAL' : 'NL_BAD_REQUEST');
  });
  const hub = new EventHub();
  engineRoutes(app, ctl, hub, fail);
  const actors = eventActors(ctl);
  networkRoutes(app, ctl, hub, actors);
  sandboxRoutes(app, ctl, hub, actors);

  // netloom's own: intent against kernel (GET looks, POST repairs and looks again).
  app.get('/doctor', async () => ctl.doctor());
  app.post('/doctor/fix', async () => ctl.doctorFix());
  // Waits until the links disconnect and rm retired are deleted (tests; the reaper does it when idle).
  app.post('/settle', async () => ({ reaped: await ctl.settle() }));
  return app;
}

// Docker's Actor of a network event, read before the network changes (or goes): after an
// operation, another one may already have removed it.
const actorOf = (v: NetworkView) => ({ id: v.Id, name: v.Name, driver: v.Driver, scope: v.Scope });

type Actor = ReturnType<typeof actorOf>;

interface Actors {
  readonly actor: (ref: string) => Actor;
  /** After an operation: the network's actor if it still exists (nothing if it is gone again). */
  readonly networkIf: (id: string) => Actor[];
  /** After an operation: the actors of the sandbox's networks (nothing if it is gone again). */
  readonly sandboxNets: (name: string) => Actor[];
}

function eventActors(ctl: Controller): Actors {
  const actor = (ref: string) => actorOf(ctl.inspectNetwork(ref));
  const still = <T>(read: () => T[]): T[] => {
    try {
      return read();
    } catch {
      return [];
    }
  };
  return {
    actor,
    networkIf: (id) => still(() => [actor(id)]),
    sandboxNets: (name) => still(() => Object.keys(ctl.sandboxView(name).Networks).map(actor)),
  };
}

/** Docker's /networks routes; each change publishes its event. */
function networkRoutes(app: FastifyInstance, ctl: Controller, hub: EventHub, { actor, networkIf }: Actors): void {
  app.get('/networks', async (req) => {
    const f = parseFilters(queryParam(req.query, 'filters'));
    const views = ctl.listNetworks().map((v) => ({
      v,
      name: v.Name,
      id: v.Id,
      driver: v.Driver,
      scope: v.Scope,
      labels: v.Labels,
      predefined: ctl.state.networks.get(v.Id)?.predefined ?? false,
      inUse: ctl.state.endpointsOf({ network: v.Id }).length > 0,
    }));
    return filterNetworks(views, f).map((x) => x.v);
  });
  app.get<{ Params: { id: string } }>('/networks/:id', async (req) => ctl.inspectNetwork(req.params.id));
  app.post('/networks/create', async (req, reply) => {
    const n = await ctl.createNetwork(parseCreateNetwork(req.body));
    for (const net of networkIf(n.id)) hub.publish('create', net);
    return reply.status(201).send({ Id: n.id, Warning: ctl.createWarning(n) });
  });
  app.post<{ Params: { id: string } }>('/networks/:id/connect', async (req, reply) => {
    const { container, req: r } = parseConnect(req.body);
    const net = actor(req.params.id);
    await ctl.connect(req.params.id, container, r);
    hub.publish('connect', net, ctl.state.findSandbox(container)?.id);
    return reply.status(200).send();
  });
  app.post<{ Params: { id: string } }>('/networks/:id/disconnect', async (req, reply) => {
    const { container, force } = parseDisconnect(req.body);
    const net = actor(req.params.id);
    const sandboxId = ctl.state.findSandbox(container)?.id;
    await ctl.disconnect(req.params.id, container, force);
    hub.publish('disconnect', net, sandboxId);
    return reply.status(200).send();
  });
  app.delete<{ Params: { id: string } }>('/networks/:id', async (req, reply) => {
    const net = actor(req.params.id);
    await ctl.removeNetwork(req.params.id);
    hub.publish('destroy', net);
    return reply.status(204).send();
  });
  app.post('/networks/prune', async (req) => {
    // Every filter is checked before anything is deleted: a misspelt one deletes nothing.
    const deletes = pruneSelector(parseFilters(queryParam(req.query, 'filters')), {
      nowMs: Date.now(),
      zoneOffsetMin: -new Date().getTimezoneOffset(),
    });
    const before = new Map(ctl.listNetworks().map((v) => [v.Name, actorOf(v)]));
    const deleted = await ctl.pruneNetworks((n) => !deletes(n));
    for (const name of deleted) {
      const net = before.get(name);
      if (net) hub.publish('destroy', net);
    }
    return { NetworksDeleted: deleted.length ? deleted : null };
  });
}

/** netloom's /sandboxes routes; creating or removing one publishes connect or disconnect events. */
function sandboxRoutes(app: FastifyInstance, ctl: Controller, hub: EventHub, { sandboxNets }: Actors): void {
  app.get('/sandboxes', async () => ctl.listSandboxes());
  app.get<{ Params: { name: string } }>('/sandboxes/:name', async (req) => ctl.sandboxView(req.params.name));
  app.post('/sandboxes/create', async (req, reply) => {
    const sb = await ctl.createSandbox(parseCreateSandbox(req.body));
    for (const net of sandboxNets(sb.Name)) hub.publish('connect', net, sb.Id);
    return reply.status(201).send(sb);
  });
  app.get<{ Params: { name: string }; Querystring: { name?: string; type?: string } }>('/sandboxes/:name/dns', async (req) => {
    const name = req.query.name;
    if (!name) throw invalid('NL_BAD_REQUEST', 'query parameter "name" is required: the name to explain');
    return ctl.explainName(req.params.name, name, req.query.type ?? 'A');
  });
  app.delete<{ Params: { name: string } }>('/sandboxes/:name', async (req, reply) => {
    const sb = ctl.sandboxView(req.params.name);
    const nets = sandboxNets(sb.Name);
    await ctl.removeSandbox(req.params.name);
    for (const net of nets) hub.publish('disconnect', net, sb.Id);
    return reply.status(204).send();
  });
}
