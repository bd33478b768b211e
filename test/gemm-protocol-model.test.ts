import { describe, expect, it } from 'vitest';
import { Slot } from '../src/parallel/gemm-parallel-protocol.js';
import { CallerAt, CallerProtocol, DEAD, FaultAt, FaultReport, type ControlMemory } from '../src/parallel/job-protocol.js';
import { CURRENT, explore, type Protocol, type Scenario } from './support/gemm-protocol-model.js';
import { OLD } from './support/gemm-protocol-old.js';

/*
 * The parallel GEMM's control-block protocol, model-checked: every interleaving of the caller's,
 * the workers' and the supervisor's steps (test/support/gemm-protocol-model.ts explains the model
 * and lists the invariants). The current protocol is the code itself (job-protocol.ts's state
 * machines); the old one, which crashed issue 11's training runs, is transcribed below step for
 * step from the code it replaced, and the model finds its double ack, with the schedule.
 */

const describeResult = (r: ReturnType<typeof explore>): string =>
  `${r.states} states, ${r.transitions} transitions; ends: ${JSON.stringify(r.outcomes)}` +
  (r.violation ? `\nVIOLATION: ${r.violation.what}\n  ${r.violation.trace.join('\n  ')}` : '');

/** The current protocol must be safe and live in `scenario`: no violation, and every kind of end reached. */
function expectSafe(scenario: Scenario, protocol: Protocol = CURRENT): ReturnType<typeof explore> {
  const result = explore(protocol, scenario);
  expect(result.violation, describeResult(result)).toBeUndefined();
  return result;
}

describe('the control-block protocol (job-protocol.ts), explored exhaustively', () => {
  it('is safe and always ends: 2 workers, 3 jobs, message waits, spurious wake-ups', () => {
    const r = expectSafe({ workers: 2, jobs: 3, messagesBefore: [1, 2], spurious: true });
    expect(Object.keys(r.outcomes).filter((o) => !o.startsWith('completed'))).toEqual([]); // nothing fails without a fault
    expect(r.outcomes['completed, 3 of 3 jobs in parallel']).toBeGreaterThan(0);
    expect(r.states).toBeGreaterThan(1000); // the interleavings really were explored
  });

  it('reports a worker that dies at any step to the caller, which fails instead of waiting; the others still exit', () => {
    const r = expectSafe({ workers: 2, jobs: 2, messagesBefore: [1], spurious: true, deaths: 1 });
    expect(r.outcomes['failed']).toBeGreaterThan(0); // a death before the last join: reported
    expect(r.outcomes['completed, 2 of 2 jobs in parallel']).toBeGreaterThan(0); // after the last join: harmless
  });

  it("handles a worker's part that throws, and the caller's own part that throws (the job is joined first)", () => {
    expectSafe({ workers: 2, jobs: 2, messagesBefore: [2], spurious: true, partThrows: 1 });
    expectSafe({ workers: 2, jobs: 3, messagesBefore: [1], spurious: true, ownThrows: 1 });
    expectSafe({ workers: 1, jobs: 3, spurious: true, deaths: 1, ownThrows: 1 });
  });

  it('does not rely on waiting for the workers to start: a job posted before a worker started is run exactly once', () => {
    const early: Protocol = { ...CURRENT, name: 'posts before the workers start', waitsForStart: false };
    expectSafe({ workers: 2, jobs: 2, messagesBefore: [1], spurious: true }, early);
    expectSafe({ workers: 1, jobs: 2, spurious: true, deaths: 1 }, early);
  });
});

describe('the old protocol (before issue 11), in the same model', () => {
  it('lets a late notify wake a worker that already ran the job: it runs it again and acks it twice', () => {
    const r = explore(OLD, { workers: 1, jobs: 2 });
    expect(r.violation, describeResult(r)).toBeDefined();
    expect(r.violation!.what).toMatch(/worker 1 ran job \d 2 times|Pending is .*-1/);
    // The schedule: the worker sees the new generation without sleeping (its wait returns 'not-equal'),
    // runs and acks it, sleeps on it, and only then does the caller's notify for that job arrive.
    const trace = r.violation!.trace.join('\n');
    expect(trace).toMatch(
      /add\(Generation, 1\) 0→1\n.*wait\(Generation, 0\): not-equal[^]*sub\(Pending, 1\) 1→0[^]*wait\(Generation, 1\): sleeps\ncaller post: notify\(Generation\) wakes worker 1\nworker 1 protocol: load\(Generation\) = 1/,
    );
  });

  it("abandons a job when the caller's own part throws: the next job's fields overwrite it before the worker has run it", () => {
    const r = explore(OLD, { workers: 1, jobs: 3, ownThrows: 1 });
    expect(r.violation, describeResult(r)).toBeDefined();
    expect(r.violation!.what).toBe('worker 1 ran job 1 with the fields of job 2');
    expect(r.violation!.trace.join('\n')).toMatch(/caller's own part throws\ncaller fields: writes job 2's fields/);
  });

  it('the current protocol has neither: the same scenarios are safe', () => {
    expectSafe({ workers: 1, jobs: 2 });
    expectSafe({ workers: 1, jobs: 3, ownThrows: 1 });
  });
});

/*
 * Two tempting designs the model rejects, to show what the current one's details are for.
 */
describe('the fault path: why DEAD lives in Pending and why Publish adds', () => {
  it('storing W at Publish (instead of adding) erases a fault reported between jobs: the caller waits forever', () => {
    class StoresPending extends CallerProtocol {
      override step(mem: ControlMemory): boolean {
        if (this.pc !== CallerAt.Publish) return super.step(mem);
        mem.store(Slot.Pending, this.workers);
        this.pc = CallerAt.Advance;
        return true;
      }
    }
    const r = explore({ ...CURRENT, name: 'stores Pending', caller: (w) => new StoresPending(w) }, { workers: 1, jobs: 2, deaths: 1 });
    expect(r.violation?.what, describeResult(r)).toMatch(/stuck: the caller sleeps on slot 1/);
  });

  it('a fault flag in a word of its own (not in Pending) is a lost wake-up: checked, then slept past', () => {
    const FAULT_CHECK = 100;
    class ChecksFaultWord extends CallerProtocol {
      override step(mem: ControlMemory): boolean {
        if (this.pc === CallerAt.Check) {
          if (mem.load(Slot.Fault) !== 0) {
            this.pc = CallerAt.Failed;
            return false;
          }
          this.pc = FAULT_CHECK;
          return true;
        }
        if (this.pc === FAULT_CHECK) {
          const pending = mem.load(Slot.Pending);
          if (pending === 0) {
            this.pc = CallerAt.Done;
            return false;
          }
          this.expected = pending;
          this.pc = CallerAt.Sleep;
          return true;
        }
        return super.step(mem);
      }
    }
    class FlagsFaultOnly extends FaultReport {
      override step(mem: ControlMemory): boolean {
        if (this.pc !== FaultAt.Mark) return super.step(mem);
        this.pc = FaultAt.Wake; // no or(Pending, DEAD): the fault is only in Slot.Fault
        return true;
      }
    }
    const separate: Protocol = {
      ...CURRENT,
      name: 'separate fault word',
      caller: (w) => new ChecksFaultWord(w),
      report: (writer) => new FlagsFaultOnly(writer),
      waitsForStart: false,
    };
    // The supervisor's report must use the variant too: patch the model's FaultReport through the protocol's report().
    const r = explore(separate, { workers: 1, jobs: 1, partThrows: 1 });
    expect(r.violation?.what, describeResult(r)).toMatch(/stuck: the caller sleeps on slot 1/);
    expect(DEAD).toBe(1 << 30);
  });
});
