#!/usr/bin/env bash
# The README's test command (make test): lint (make lint: ESLint's layer rules and the Prettier
# check), unit tests, privileged tests in private namespaces, then proof that the host's
# namespaces, links and iptables are as before.
set -uo pipefail
cd "$(dirname "$0")/../.."
before=$(bash test/helpers/host-state.sh)
status=0
make --no-print-directory lint || status=1
node --test --test-concurrency=4 build/test/unit/ || status=1
bash test/helpers/run-priv.sh || status=1
after=$(bash test/helpers/host-state.sh)
if [ "$before" != "$after" ]; then
  echo "host state changed by the test suite:"
  diff <(echo "$before") <(echo "$after")
  status=1
else
  echo "host unchanged: ip netns list, ip link, iptables-save and ip_forward are as before the suite"
fi
exit $status
