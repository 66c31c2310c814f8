// A controller on the fake system and a memory store, started: what the controller's unit tests
// restart again and again (pass the same store and system to play a daemon restart).
import { silentLogger } from '../../common/log.js';
import { Controller } from '../../controller/index.js';
import type { ReconcileReport } from '../../controller/reconcile.js';
import { MemoryStore } from '../../store/memory.js';
import { createFakeSystem, type FakeSystem } from '../../system/fake/index.js';

export interface World {
  store: MemoryStore;
  sys: FakeSystem;
  ctl: Controller;
  report: ReconcileReport;
}

export async function start(store = new MemoryStore(), sys = createFakeSystem()): Promise<World> {
  const ctl = new Controller({ store, sys, log: silentLogger });
  const report = await ctl.start();
  return { store, sys, ctl, report };
}
