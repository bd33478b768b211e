import { Command, CONTROL_INTS, readFaultText, Slot, SUPERVISOR, writeFaultText } from './gemm-parallel-protocol.js';

/*
 * The control-block protocol of the parallel GEMM, written once as small state machines:
 * CallerProtocol (post a job, join it, close), WorkerProtocol (wait for a job, run it, ack it) and
 * FaultReport (tell the caller that something failed). Every step does at most one operation on
 * the control block. The threads run these machines over Atomics (AtomicControl); the model check
 * (test/gemm-protocol-model.test.ts) runs the same classes over a simulated memory and explores
 * every interleaving of their steps, so what it proves is about this code, not a transcription.
 * Nothing here knows what a job computes: the drivers (gemm-parallel.ts, gemm-parallel-worker.ts)
 * write a job's fields before posting it and run the kernel where a machine says Run.
 *
 *   caller, per job                                 worker w, per job
 *   (write the job's fields: plain writes)          Look     g ← load(Generation); g = last → Park
 *   Publish  add(Pending, W); DEAD set → failed     Park     wait(Generation, last), then Look
 *   Advance  add(Generation, 1)                     Command  load(Command): Exit → end;
 *   Wake     notify(Generation)                              g must be last + 1; last ← g
 *   (its own part of C)                             Messages the job's Seq not applied yet → the
 *   Check    p ← load(Pending): DEAD → failed,               adapter delivers messages, then resumes
 *            0 → done, else Sleep                   Run      (its part of C)
 *   Sleep    wait(Pending, p), then Check           Ack      sub(Pending, 1); the last one → Notify
 *   (copy the workers' part of C out)               Notify   notify(Pending)
 *
 * close(): store(Command, Exit), add(Generation, 1), notify(Generation). A fault (a worker's part
 * throws, or its supervisor hears it die): its text first, then compareExchange(Fault, 0, 1 +
 * writer), or(Pending, DEAD), notify(Pending).
 *
 * Invariants (the model check explores them with spurious wake-ups, workers that start after the
 * first job, jobs that wait for messages, a worker dying at any step or throwing in its part, and
 * the caller's own part throwing): Pending's count never goes below 0 or above W; each worker runs
 * each job at most once, and a job the caller completes was run exactly once by every worker; the
 * caller writes a job's fields and reads C only while no worker is inside a part; a job never
 * starts with the fields of another; no thread sleeps forever (no lost wake-up: every state can
 * still reach the end), so Exit always terminates and a fault always reaches a waiting caller.
 *
 * THE BUG THIS REPLACES (issue 11: "ParallelGemm.gemm: -1 of 1 worker(s) did not finish within
 * 60000 ms" after a few hundred steps on a loaded machine). The worker used to do
 *     wait(Generation, seen); seen ← load(Generation); run its part; sub(Pending)
 * treating every return from the wait as a new job. But a notify is not tied to the change it
 * announces. A worker that was not asleep when the caller advanced Generation (still between its
 * previous ack and its wait, or not started yet, so its wait returns 'not-equal' at once) runs the
 * new job, acks it and goes to sleep on the new generation; the caller's notify for that same job,
 * delayed past all of that (the caller preempted between its add and its notify for longer than
 * the worker's part takes, as a loaded machine does now and then, or waiting for the futex mutex
 * V8 shares between all waits and notifies), then wakes it. No spurious wake-up is needed (V8 has
 * none): the wake-up is real, only late. It reloads the unchanged generation, runs the job again
 * (racing the caller's copy of C and the next job's fields) and decrements Pending a second time:
 * the caller waits for a count of −1 to reach 0. When the extra decrement lands after the next
 * job's store instead, that job's join returns early, with the worker's part of C missing. On the
 * old code, delaying the caller's notify by 3 ms on every 50th job reproduced the message after
 * ~11,000 jobs; the deterministic test (test/gemm-parallel-interleaving.test.ts) forces the
 * interleaving directly. The fix is the futex discipline: a wake-up says nothing, so the worker
 * re-checks that Generation moved past the job it last ran (Look/Park), and a late or spurious
 * wake-up only sends it back to sleep.
 *
 * Two more ways the old protocol could count an ack against the wrong job are gone as well: an
 * exception between posting a job and joining it (the caller's own part, or join's 60 s timeout)
 * abandoned a job whose late ack then counted against the next one; now the caller always joins
 * before it throws, and there is no timeout: a slow worker is waited for, a dead one reported.
 *
 * Why failures are flagged in Pending (the DEAD bit) and not in a word of their own: a caller
 * that read a separate fault word (0) and then went to sleep on Pending would miss a fault set in
 * between, and sleep forever on a worker that is dead. Changing the very word it waits on makes
 * its wait return 'not-equal' or be woken. And why Publish adds W rather than storing it: Pending
 * is 0 between jobs, so add is store, except that a fault reported between two jobs (DEAD on a
 * count of 0) survives the next post instead of being overwritten.
 *
 * The fault text is ordered by the same chain: a writer fills its own area before its
 * compareExchange on Fault; the caller reads Fault (the first writer's claim, which every later
 * claim attempt reads) after seeing DEAD, and then that writer's area.
 */

/** Pending's fault bit: set (never cleared) once a worker failed; the count is the bits below it. */
export const DEAD = 1 << 30;
const COUNT = DEAD - 1;

/** The operations the protocol does on the control block's words (Slot.*). */
export interface ControlMemory {
  load(slot: number): number;
  store(slot: number, value: number): void;
  add(slot: number, value: number): number;
  sub(slot: number, value: number): number;
  or(slot: number, value: number): number;
  compareExchange(slot: number, expected: number, replacement: number): number;
  /** Sleeps while `slot` holds `value` (returns at once if it does not). A return says nothing: callers re-check. */
  wait(slot: number, value: number): void;
  notify(slot: number): void;
  /** A plain read of a job field, ordered by the Atomics operations around it. */
  field(slot: number): number;
}

/** ControlMemory over the real control block. */
export class AtomicControl implements ControlMemory {
  constructor(private readonly ctrl: Int32Array) {}
  load(slot: number): number {
    return Atomics.load(this.ctrl, slot);
  }
  store(slot: number, value: number): void {
    Atomics.store(this.ctrl, slot, value);
  }
  add(slot: number, value: number): number {
    return Atomics.add(this.ctrl, slot, value);
  }
  sub(slot: number, value: number): number {
    return Atomics.sub(this.ctrl, slot, value);
  }
  or(slot: number, value: number): number {
    return Atomics.or(this.ctrl, slot, value);
  }
  compareExchange(slot: number, expected: number, replacement: number): number {
    return Atomics.compareExchange(this.ctrl, slot, expected, replacement);
  }
  wait(slot: number, value: number): void {
    Atomics.wait(this.ctrl, slot, value);
  }
  notify(slot: number): void {
    Atomics.notify(this.ctrl, slot);
  }
  field(slot: number): number {
    return this.ctrl[slot]!;
  }
}

/**
 * ControlMemory whose wait first spins on the word for up to `spinMs`, then sleeps in
 * Atomics.wait. Returning from the spin while the word is unchanged never happens, and returning
 * because it changed is what a wait may do anyway, so to the protocol this is a wait with an early
 * (spurious) wake-up, which both sides allow (they re-check the word: CallerAt.Sleep, WorkerAt.Look)
 * and the model check explores: the protocol is unchanged. Why spin: a futex wake-up costs ~50-100 µs
 * here, as long as a per-step part of a training step.
 */
export class SpinningControl extends AtomicControl {
  constructor(
    private readonly words: Int32Array,
    private readonly spinMs: number,
  ) {
    super(words);
  }
  override wait(slot: number, value: number): void {
    const until = performance.now() + this.spinMs;
    for (;;) {
      for (let i = 0; i < 256; i++) if (Atomics.load(this.words, slot) !== value) return;
      if (performance.now() > until) break;
    }
    super.wait(slot, value);
  }
}

/** Where the caller is (CallerProtocol.pc). The driver acts at Working, Done, Failed and Closed. */
export const CallerAt = {
  Idle: 0,
  Publish: 1,
  Advance: 2,
  Wake: 3,
  Working: 4, // the job is posted: the caller computes its own part, then join()
  Check: 5,
  Sleep: 6,
  Done: 7, // every worker acked: the caller copies C out
  Failed: 8, // DEAD, or a count that cannot be (see `broken`): the driver reports and closes
  Exit: 9,
  ExitAdvance: 10,
  ExitWake: 11,
  Closed: 12,
} as const;

/** The caller's side: one job at a time, always joined, then close. */
export class CallerProtocol {
  pc: number = CallerAt.Idle;
  /** The Pending value Sleep waits on. */
  expected = 0;
  /** When Failed without DEAD: the impossible Pending value seen (a protocol error), else undefined. */
  broken: number | undefined;

  constructor(readonly workers: number) {}

  /** The job's fields are written: post it (then run `step` until it returns false). */
  post(): void {
    this.pc = CallerAt.Publish;
  }

  /** The caller's own part is done (or threw): wait for the workers. */
  join(): void {
    this.pc = CallerAt.Check;
  }

  /** No more jobs: tell the workers to exit. From Idle, Done or Failed. */
  close(): void {
    this.pc = CallerAt.Exit;
  }

  /** Takes one step; false once at a point where the driver acts (Working, Done, Failed, Closed). */
  step(mem: ControlMemory): boolean {
    switch (this.pc) {
      case CallerAt.Publish: {
        const before = mem.add(Slot.Pending, this.workers);
        if ((before & DEAD) !== 0) return this.fail(undefined); // a fault since the last job: post nothing
        if (before !== 0) return this.fail(before); // an ack came after the job it belonged to had ended
        this.pc = CallerAt.Advance;
        return true;
      }
      case CallerAt.Advance:
        mem.add(Slot.Generation, 1);
        this.pc = CallerAt.Wake;
        return true;
      case CallerAt.Wake:
        mem.notify(Slot.Generation);
        this.pc = CallerAt.Working;
        return false;
      case CallerAt.Check: {
        const pending = mem.load(Slot.Pending);
        if ((pending & DEAD) !== 0) return this.fail(undefined);
        if (pending === 0) {
          this.pc = CallerAt.Done;
          return false;
        }
        if (pending < 0 || pending > this.workers) return this.fail(pending);
        this.expected = pending;
        this.pc = CallerAt.Sleep;
        return true;
      }
      case CallerAt.Sleep:
        mem.wait(Slot.Pending, this.expected);
        this.pc = CallerAt.Check;
        return true;
      case CallerAt.Exit:
        mem.store(Slot.Command, Command.Exit);
        this.pc = CallerAt.ExitAdvance;
        return true;
      case CallerAt.ExitAdvance:
        mem.add(Slot.Generation, 1);
        this.pc = CallerAt.ExitWake;
        return true;
      case CallerAt.ExitWake:
        mem.notify(Slot.Generation);
        this.pc = CallerAt.Closed;
        return false;
      default:
        return false;
    }
  }

  private fail(broken: number | undefined): false {
    this.broken = broken === undefined ? undefined : broken & COUNT;
    this.pc = CallerAt.Failed;
    return false;
  }
}

/** Where a worker is (WorkerProtocol.pc). */
export const WorkerAt = {
  Start: 0,
  Look: 1,
  Park: 2,
  Command: 3,
  Messages: 4,
  Run: 5, // the driver runs the part, then ran()
  Ack: 6,
  Notify: 7,
  Exited: 8,
  Broken: 9, // a generation that skipped a job: the driver reports it as a fault
} as const;

/** What the driver of a WorkerProtocol does after a step. */
export const WorkerStep = {
  Next: 0, // step again
  Receive: 1, // the job needs messages not applied yet: deliver them, then step again
  Run: 2, // run this worker's part of job `job`, then ran()
  Exit: 3,
  Broken: 4,
} as const;

/** One worker's side: every job exactly once, in order, whatever wakes it. */
export class WorkerProtocol {
  pc: number = WorkerAt.Start;
  /** The last generation this worker accepted (0: the control block's initial value, so a job posted before it started is not missed). */
  last = 0;
  /** The generation being looked at or run. */
  job = 0;

  /** Takes one step; `applied` is how many messages this worker has applied. */
  step(mem: ControlMemory, applied: number): number {
    switch (this.pc) {
      case WorkerAt.Start:
        mem.add(Slot.Started, 1);
        this.pc = WorkerAt.Look;
        return WorkerStep.Next;
      case WorkerAt.Look: {
        const generation = mem.load(Slot.Generation);
        if (generation === this.last) {
          this.pc = WorkerAt.Park; // nothing new, whatever woke us
        } else {
          this.job = generation;
          this.pc = WorkerAt.Command;
        }
        return WorkerStep.Next;
      }
      case WorkerAt.Park:
        mem.wait(Slot.Generation, this.last);
        this.pc = WorkerAt.Look;
        return WorkerStep.Next;
      case WorkerAt.Command:
        if (mem.load(Slot.Command) === Command.Exit) {
          this.pc = WorkerAt.Exited;
          return WorkerStep.Exit;
        }
        if (this.job !== this.last + 1) {
          this.pc = WorkerAt.Broken; // the caller posted past a job this worker never acked
          return WorkerStep.Broken;
        }
        this.last = this.job;
        this.pc = WorkerAt.Messages;
        return WorkerStep.Next;
      case WorkerAt.Messages:
        if (applied < mem.field(Slot.Seq)) return WorkerStep.Receive;
        this.pc = WorkerAt.Run;
        return WorkerStep.Run;
      case WorkerAt.Run:
        return WorkerStep.Run;
      case WorkerAt.Ack: {
        const before = mem.sub(Slot.Pending, 1);
        this.pc = (before & COUNT) === 1 ? WorkerAt.Notify : WorkerAt.Look;
        return WorkerStep.Next;
      }
      case WorkerAt.Notify:
        mem.notify(Slot.Pending);
        this.pc = WorkerAt.Look;
        return WorkerStep.Next;
      case WorkerAt.Exited:
        return WorkerStep.Exit;
      default:
        return WorkerStep.Broken;
    }
  }

  /** The part of job `job` is done: ack it. */
  ran(): void {
    this.pc = WorkerAt.Ack;
  }
}

/** Where a FaultReport is. */
export const FaultAt = { Claim: 0, Mark: 1, Wake: 2, Done: 3 } as const;

/**
 * Tells the caller that something failed: claims Slot.Fault for `writer` (only the first claim
 * counts: its text is the one reported), sets DEAD in Pending and wakes the caller. The writer has
 * filled its fault-text area before the first step.
 */
export class FaultReport {
  pc: number = FaultAt.Claim;

  constructor(readonly writer: number) {}

  /** Takes one step; false once done. */
  step(mem: ControlMemory): boolean {
    switch (this.pc) {
      case FaultAt.Claim:
        mem.compareExchange(Slot.Fault, 0, this.writer + 1);
        this.pc = FaultAt.Mark;
        return true;
      case FaultAt.Mark:
        mem.or(Slot.Pending, DEAD);
        this.pc = FaultAt.Wake;
        return true;
      case FaultAt.Wake:
        mem.notify(Slot.Pending);
        this.pc = FaultAt.Done;
        return false;
      default:
        return false;
    }
  }
}

/** Reports a fault from this thread: `text` into `writer`'s area, then a FaultReport over Atomics. */
export function reportFault(control: SharedArrayBuffer, writer: number, text: string): void {
  writeFaultText(control, writer, text);
  const report = new FaultReport(writer);
  const mem = new AtomicControl(new Int32Array(control, 0, CONTROL_INTS));
  while (report.step(mem));
}

/** Whether close() has posted Exit: workers ending now are not faults. */
export const isClosing = (control: SharedArrayBuffer): boolean =>
  Atomics.load(new Int32Array(control, 0, CONTROL_INTS), Slot.Command) === Command.Exit;

/** The first fault reported on `control` (its writer's text), or undefined when none was. */
export function firstFault(control: SharedArrayBuffer): string | undefined {
  const claim = Atomics.load(new Int32Array(control, 0, CONTROL_INTS), Slot.Fault);
  if (claim === 0) return undefined;
  const writer = claim - 1;
  return (
    readFaultText(control, writer) || (writer === SUPERVISOR ? 'the gemm supervisor reported a fault' : `gemm worker ${writer + 1} failed`)
  );
}
