import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Runs full garbage collections until `done()` holds or `tries` collections have run, waiting 10 ms
 * after each: FinalizationRegistry callbacks run as tasks after a collection, not inside it.
 */
export async function collectGarbageUntil(done: () => boolean, tries = 20): Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < tries && !done(); i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
