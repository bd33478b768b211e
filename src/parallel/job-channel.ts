import {
  CONTROL_INTS,
  DrillKind,
  FLOAT_BYTE,
  FLOAT_SLOTS,
  Slot,
  type UnnumberedMessage,
  type WorkerMessage,
} from './gemm-parallel-protocol.js';
import { CallerAt, CallerProtocol, DEAD, firstFault, SpinningControl } from './job-protocol.js';

/*
 * The caller's end of the job protocol, shared by every parallel GEMM driver (the JS kernel's,
 * gemm-parallel.ts, and the wasm kernel's, gemm-parallel-wasm.ts): the control block, the
 * CallerProtocol of job-protocol.ts run to its driver points, message numbering, the start-up
 * check, fault handling (GemmWorkerFault, the backend closed), fault drills, the per-thread speed
 * estimate the splits are sized by, and close. A driver only writes a job's fields, computes its
 * own part between post() and join(), and reads the workers' results after join(): what the
 * fields mean (which kernel, which operands) is the driver's and its worker's business.
 */

/**
 * What a runtime adapter provides: workers started on the control block, a way to message them,
 * and a watch on them. The caller blocks in Atomics.wait while the workers compute, so it cannot
 * hear a worker's 'error' or 'exit' event itself: the adapter has something with a free event loop
 * (a supervisor thread) hear it and report it in the control block (reportFault in
 * job-protocol.ts), which wakes the caller at once. A worker that throws reports itself.
 */
export interface WorkerTransport {
  /** Number of worker threads (not counting the caller's). */
  readonly workers: number;
  /** Delivers a message to every worker; each applies it before any job that names its sequence number. */
  send(message: WorkerMessage): void;
  /** Ends the workers (after Command.Exit has been posted). */
  terminate(): void;
}

/**
 * A worker of a parallel GEMM failed (it threw, died, or was terminated) during a gemm: that
 * product was abandoned (its C is partly written: do not use it), and the backend is closed
 * (every later call throws this again). Nothing computed before is affected: go on from the last
 * good state, on one thread or on a new backend.
 */
export class GemmWorkerFault extends Error {
  /** What happened, e.g. 'gemm worker 1 of 1 exited unexpectedly (exit code 1)'. */
  readonly reason: string;
  constructor(reason: string, threads: number) {
    super(`${reason} (parallel gemm of ${threads} threads; the backend is closed)`);
    this.name = 'GemmWorkerFault';
    this.reason = reason;
  }
}

/**
 * A fault drill, for tests and for demonstrating failure handling: worker `worker` (0-based,
 * default 0), at its `afterJobs`-th parallel job from now (default 1), throws in its part
 * ('throw'), asks to be terminated mid-part and waits for it ('terminate': its supervisor
 * terminates it and hears it end, as it would any death), or stalls for `ms` before computing
 * ('stall': a descheduled worker, which the caller simply waits for). It fires once.
 */
export interface FaultDrill {
  kind: 'throw' | 'terminate' | 'stall';
  worker?: number;
  afterJobs?: number;
  ms?: number;
}

/**
 * How long the caller spins on Pending before it sleeps in Atomics.wait (ms). The caller computes
 * its own part while the workers compute theirs, so they usually end within microseconds of each
 * other, and waking from a futex costs ~50-100 µs (a training step's per-step parts take ~100 µs).
 */
export const JOIN_SPIN_MS = 0.05;

/** The caller's side of one control block: post a job, compute, join; or fail and close. */
export class JobChannel {
  readonly threads: number;
  /** The job's Int32 fields (Slot.*, Part.*): plain writes before post(). */
  readonly ctrl: Int32Array;
  /** [0] the job's alpha, [1 + w] worker w's time for its last part (ms). */
  readonly floats: Float64Array;
  /** The current job's parts: part p is [bounds[p], bounds[p + 1]) of C's rows or columns (reused by every call). */
  readonly bounds: Int32Array;
  /** Relative speed of each thread, the caller's first (always 1): parts are sized in proportion (see rebalance). */
  readonly speeds: number[];
  private readonly mem: SpinningControl;
  private readonly protocol: CallerProtocol;
  /** Whether every worker has started serving: until then the caller computes alone (it never waits on a thread not yet watched). */
  private started = false;
  /** Why the backend closed itself, thrown again by every later call. */
  private failure: GemmWorkerFault | undefined;
  private sent = 0; // sequence number of the last message sent
  private closedFlag = false;

  /** `control` must be the CONTROL_BYTES SharedArrayBuffer the transport's workers were started with. */
  constructor(
    private readonly transport: WorkerTransport,
    private readonly control: SharedArrayBuffer,
  ) {
    this.ctrl = new Int32Array(control, 0, CONTROL_INTS);
    this.mem = new SpinningControl(this.ctrl, JOIN_SPIN_MS);
    this.protocol = new CallerProtocol(transport.workers);
    this.floats = new Float64Array(control, FLOAT_BYTE, FLOAT_SLOTS);
    this.threads = transport.workers + 1;
    this.speeds = new Array<number>(this.threads).fill(1);
    this.bounds = new Int32Array(this.threads + 1);
  }

  get workers(): number {
    return this.transport.workers;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Throws why the channel cannot take a job: the fault that closed it, or `op` after close(). */
  checkOpen(op: string): void {
    if (this.failure) throw this.failure;
    if (this.closedFlag) throw new Error(`${op}: the backend has been closed`);
  }

  /** The fault that closed the channel, if one did. */
  get fault(): GemmWorkerFault | undefined {
    return this.failure;
  }

  /** Numbers `message` and delivers it to every worker (nothing after close). */
  send(message: UnnumberedMessage): void {
    if (this.closedFlag) return;
    this.sent++;
    this.transport.send({ ...message, seq: this.sent } as WorkerMessage);
  }

  /** Whether every worker has started serving; a fault reported before that (a worker that could not start) is thrown. */
  workersStarted(): boolean {
    if (this.started) return true;
    if ((Atomics.load(this.ctrl, Slot.Pending) & DEAD) !== 0) this.fail();
    this.started = Atomics.load(this.ctrl, Slot.Started) === this.transport.workers;
    return this.started;
  }

  /**
   * Posts the job whose fields are written (workers apply every message sent so far first).
   * Throws the GemmWorkerFault (and closes) when a fault was reported since the last job.
   */
  post(): void {
    this.ctrl[Slot.Seq] = this.sent;
    this.protocol.post(); // publishes the fields (Atomics are sequentially consistent)
    this.advance();
    if (this.protocol.pc === CallerAt.Failed) this.fail();
  }

  /**
   * Waits for every worker to finish the posted job, however long that takes. Throws the
   * GemmWorkerFault (and closes) when one failed. Call it whatever the caller's own part did: an
   * abandoned job's ack would count against the next.
   */
  join(): void {
    this.protocol.join();
    this.advance();
    if (this.protocol.pc === CallerAt.Failed) this.fail();
  }

  /**
   * Ends a posted job after the caller computed its own part, which began at `posted` (performance.now())
   * and threw `ownError` if it failed: joins whatever happened there (an abandoned job's ack would count
   * against the next), then rethrows the part's error, else rebalances the split with the part's time.
   */
  finish(parts: number, posted: number, ownError: { error: unknown } | undefined): void {
    const mine = performance.now() - posted;
    this.join();
    if (ownError) throw ownError.error;
    this.rebalance(parts, mine, performance.now() - posted - mine);
  }

  /** Runs the caller's protocol to its next point (Working, Done, Failed, Closed): waits for the workers in Sleep, however long they take. */
  private advance(): void {
    while (this.protocol.step(this.mem));
  }

  /** The protocol failed (a fault reported, or a count that cannot be): close and throw why. */
  private fail(): never {
    const broken = this.protocol.broken;
    const why =
      broken !== undefined
        ? `a protocol error: ${broken} worker(s) pending where ${this.transport.workers} or fewer can be`
        : (firstFault(this.control) ?? 'a gemm worker failed');
    this.failure = new GemmWorkerFault(why, this.threads);
    this.close();
    throw this.failure;
  }

  /**
   * Re-estimates each worker's speed relative to this thread's from the job just done, so that the
   * next split gives every thread a share it finishes at the same moment. Static halves left this
   * thread waiting ~15% of a training step on a quiet 2-vCPU machine (the worker starts after the
   * operand copies, and a virtual CPU is not always there), more under load. A worker reports its
   * own time; a start delay shows as this thread waiting in join, and is added to the slowest.
   * Smoothed (a quarter per job) and clamped to [1/4, 4], so one odd job cannot starve a thread.
   * Only the split moves: every element of C is computed the same way whoever computes it.
   */
  rebalance(parts: number, mine: number, waited: number): void {
    if (mine < 0.05) return; // too short to time
    const bounds = this.bounds; // part p has bounds[p + 1] − bounds[p] rows or columns: its work is proportional
    const myRate = (bounds[1]! - bounds[0]!) / mine;
    let slowest = 0;
    for (let w = 0; w + 1 < parts; w++) slowest = Math.max(slowest, this.floats[1 + w]!);
    // Waiting (beyond the ~µs of a join that finds the job done) means the slowest worker ended at mine + waited.
    const delay = waited > 0.02 ? Math.max(0, mine + waited - slowest) : 0;
    for (let w = 0; w + 1 < parts; w++) {
      const took = this.floats[1 + w]! + delay;
      if (!(took > 0)) continue;
      const relative = Math.min(4, Math.max(0.25, (bounds[w + 2]! - bounds[w + 1]!) / took / myRate));
      this.speeds[w + 1] = 0.75 * this.speeds[w + 1]! + 0.25 * relative;
    }
  }

  /**
   * Resolves once every worker has started serving (until then gemm computes on the calling
   * thread alone: the same numbers); rejects with the GemmWorkerFault if one could not start.
   */
  async ready(): Promise<void> {
    while (!this.closedFlag && !this.workersStarted()) await new Promise((resolve) => setTimeout(resolve, 2));
    if (this.failure) throw this.failure;
  }

  /** Arms a fault drill (see FaultDrill): plain writes, published by the next post. */
  drill(drill: FaultDrill): void {
    const worker = drill.worker ?? 0;
    if (!Number.isInteger(worker) || worker < 0 || worker >= this.transport.workers) {
      throw new RangeError(`drill: worker must be an integer in 0..${this.transport.workers - 1}, got ${worker}`);
    }
    const ctrl = this.ctrl;
    ctrl[Slot.DrillKind] = drill.kind === 'throw' ? DrillKind.Throw : drill.kind === 'terminate' ? DrillKind.Terminate : DrillKind.Stall;
    ctrl[Slot.DrillMs] = Math.max(0, Math.round(drill.ms ?? 0));
    ctrl[Slot.DrillJob] = ctrl[Slot.Generation]! + Math.max(1, Math.round(drill.afterJobs ?? 1));
    ctrl[Slot.DrillWorker] = worker + 1;
  }

  /** Stops the workers. Safe to call twice. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.protocol.close();
    this.advance();
    this.transport.terminate();
  }
}
