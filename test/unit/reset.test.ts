// system reset's firewall part: the script that removes netloom's chains and nothing else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { removeChainsScript } from '../../controller/reset.js';

const save = `*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:NETLOOM - [0:0]
:NETLOOM-POSTROUTING - [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j NETLOOM
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -j NETLOOM-POSTROUTING
-A NETLOOM-POSTROUTING -s 10.0.0.0/24 ! -o nlb-1 -j MASQUERADE
-A NETLOOM -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80
-A DOCKER -i docker0 -j RETURN
COMMIT
`;

test('removeChainsScript drops the jumps to NETLOOM* chains as saved, then flushes and deletes them; others stay', () => {
  const { script, chains } = removeChainsScript(save, 'nat');
  assert.deepEqual(chains, ['NETLOOM', 'NETLOOM-POSTROUTING']);
  assert.equal(
    script,
    '*nat\n-D PREROUTING -m addrtype --dst-type LOCAL -j NETLOOM\n-D POSTROUTING -j NETLOOM-POSTROUTING\n' +
      '-F NETLOOM\n-F NETLOOM-POSTROUTING\n-X NETLOOM\n-X NETLOOM-POSTROUTING\nCOMMIT\n',
  );
  assert.doesNotMatch(script, /DOCKER/);
});

test('removeChainsScript of a table without netloom chains is empty', () => {
  assert.deepEqual(removeChainsScript('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n', 'filter'), { script: '', chains: [] });
});
