// netloom's DNS server code alone, on loopback: DnsServer and the batched UDP socket bound to
// ADDRESS:53 in the calling network namespace, one client endpoint (CLIENT_IP) and one name
// (NAME) in its records. bench/dns.bench.sh runs it as the `netloom-lo` server, in a namespace of
// its own with dnsperf beside it on loopback, as dnsmasq runs: the same answer path netloomd uses
// (cache, respond(), udpbatch), without the bridge and veth every gateway reply crosses. It is what
// answering inside each sandbox (Docker's 127.0.0.11) would measure, not something netloomd does.
//
//   node build/bench/dns-loopback.js --address 127.0.0.11 --client 127.0.0.1 --name nlbench-web
// Prints "listening" on stderr once bound; stops on SIGTERM or SIGINT.
import { parseArgs } from 'node:util';
import { silentLogger } from '../common/log.js';
import { Records } from '../dns/records.js';
import { DnsServer } from '../dns/server.js';

const { values } = parseArgs({
  options: {
    address: { type: 'string', default: '127.0.0.11' },
    client: { type: 'string', default: '127.0.0.1' },
    name: { type: 'string', default: 'nlbench-web' },
    answer: { type: 'string', default: '10.150.0.2' },
  },
});
const NET = 'nlbench-loopback';
const records = new Records();
const ep = (sandbox: string, ipv4: string) => ({ endpointId: `${sandbox}@lo`, sandbox, networkId: NET, network: 'lo', internal: false, ipv4, aliases: [] });
records.add(ep('nlbench-loopback-client', values.client));
records.add(ep(values.name, values.answer));
// No upstream: a name the records do not know is never sent anywhere.
const server = new DnsServer({ records, log: silentLogger, port: 53, defaultUpstreams: () => [] });
await server.addNetwork(NET, [values.address]);
console.error('listening');
const stop = (): void => {
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
