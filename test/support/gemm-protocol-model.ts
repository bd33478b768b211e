import { Command, Slot, SUPERVISOR } from '../../src/parallel/gemm-parallel-protocol.js';
import {
  CallerAt,
  CallerProtocol,
  DEAD,
  FaultReport,
  WorkerProtocol,
  WorkerStep,
  type ControlMemory,
} from '../../src/parallel/job-protocol.js';

/*
 * An exhaustive model check of the parallel GEMM's control-block protocol. The threads are the
 * protocol's own state machines (CallerProtocol, WorkerProtocol, FaultReport from
 * src/parallel/job-protocol.ts, or the old protocol's, transcribed in the test), stepped over a
 * simulated control block; around them, the model plays what the drivers do between protocol steps
 * (write a job's fields, compute a part, copy C out, deliver messages, report a fault) exactly where
 * ParallelGemm, GemmJobServer and the supervisor do it. It explores every interleaving of every
 * thread's steps (breadth first, each distinct state once), together with what the environment may
 * do at any moment: a spurious wake-up of any sleeping thread, a worker dying at any step (its
 * supervisor then hears it exit), a worker's part throwing, the caller's own part throwing.
 *
 * Checked in every state: Pending's count stays in 0..W; no worker runs a job twice; a job starts
 * with its own fields; the caller writes fields or copies C only while no worker is in a part;
 * a job the caller completes was run by every worker; the caller never posts after it failed.
 * Checked over the whole graph: no state is stuck (every thread asleep or waiting, the run not
 * over: a lost wake-up), and from every state the end is still reachable (so Exit always ends the
 * workers and a fault always ends a waiting caller). A violation comes with the shortest schedule
 * that produces it.
 */

/** The worker side of a protocol: WorkerProtocol or a transcription of the old one. */
export interface ModelWorker {
  pc: number;
  readonly job: number;
  step(mem: ControlMemory, applied: number): number;
  ran(): void;
}

/** The caller side: CallerProtocol or a transcription of the old one (same points: Working, Done, Failed, Closed). */
export interface ModelCaller {
  pc: number;
  post(): void;
  join(): void;
  close(): void;
  step(mem: ControlMemory): boolean;
}

export interface Protocol {
  name: string;
  caller(workers: number): ModelCaller;
  worker(index: number): ModelWorker;
  /** A worker's fault report (FaultReport, or the old protocol's). */
  report(writer: number): { pc: number; step(mem: ControlMemory): boolean };
  /** Whether the caller joins a job whose own part threw (the old one did not). */
  joinsAfterOwnThrow: boolean;
  /** Whether the caller waits for every worker to start before posting (ParallelGemm.workersStarted). */
  waitsForStart: boolean;
}

export interface Scenario {
  workers: number;
  jobs: number;
  /** Jobs (1-based) that send a message first, so a worker must apply it before running (the 'message' path). */
  messagesBefore?: readonly number[];
  spurious?: boolean;
  deaths?: number;
  partThrows?: number;
  ownThrows?: number;
  /** Cap on explored states (a guard against an unbounded model). */
  maxStates?: number;
}

export interface Result {
  states: number;
  transitions: number;
  /** The first violation found (shortest schedule), if any. */
  violation?: { what: string; trace: string[] };
  /** How the runs ended: counts of final states by outcome. */
  outcomes: Record<string, number>;
}

type WorkerPhase = 'protocol' | 'receive' | 'part-begin' | 'part-end' | 'report' | 'exited' | 'dead';
type CallerPhase = 'ready-dead' | 'ready-started' | 'fields' | 'post' | 'own' | 'join' | 'copy' | 'fail' | 'close' | 'terminated';

interface WorkerState {
  protocol: ModelWorker;
  phase: WorkerPhase;
  report?: { pc: number; step(mem: ControlMemory): boolean };
  applied: number;
  /** Generation whose part it is computing (0: none). */
  inPart: number;
}

interface State {
  mem: number[];
  caller: ModelCaller;
  phase: CallerPhase;
  /** Jobs the caller has started (1-based number of the current one). */
  job: number;
  started: boolean;
  ownThrew: boolean;
  failed: boolean;
  sent: number;
  /** The generation the job fields currently describe. */
  fields: number;
  workers: WorkerState[];
  /** Threads asleep: -1, or the slot they wait on (caller, workers, supervisor). */
  asleep: number[];
  /** Worker exits the supervisor has not handled yet. */
  exits: number[];
  supervisorReported: boolean;
  supervisorStep: 'idle' | 'check' | 'report';
  supervisorReport?: { pc: number; step(mem: ControlMemory): boolean };
  runs: number[][];
  completed: number[];
  deaths: number;
  partThrows: number;
  ownThrows: number;
}

const WORDS = Math.max(Slot.Generation, Slot.Pending, Slot.Command, Slot.Fault, Slot.Started, Slot.Seq) + 1;

class Violation extends Error {}

const SLOT_NAMES = new Map<number, string>(Object.entries(Slot).map(([name, slot]) => [slot, name]));
const named = (slot: number): string => SLOT_NAMES.get(slot) ?? `slot ${slot}`;

/**
 * The simulated control block: plain numbers, with Atomics.wait/notify's waiter list as `asleep`.
 * Each operation is logged, so a schedule reads as what every step did.
 */
class ModelMemory implements ControlMemory {
  readonly log: string[] = [];
  constructor(
    private readonly state: State,
    private readonly thread: number,
    private readonly threadName: (t: number) => string,
  ) {}
  private rmw(slot: number, op: string, args: string, next: (before: number) => number): number {
    const before = this.state.mem[slot]!;
    this.state.mem[slot] = next(before) | 0;
    this.log.push(`${op}(${named(slot)}${args}) ${before}→${this.state.mem[slot]}`);
    return before;
  }
  load(slot: number): number {
    this.log.push(`load(${named(slot)}) = ${this.state.mem[slot]}`);
    return this.state.mem[slot]!;
  }
  store(slot: number, value: number): void {
    this.rmw(slot, 'store', `, ${value}`, () => value);
  }
  add(slot: number, value: number): number {
    return this.rmw(slot, 'add', `, ${value}`, (before) => before + value);
  }
  sub(slot: number, value: number): number {
    return this.rmw(slot, 'sub', `, ${value}`, (before) => before - value);
  }
  or(slot: number, value: number): number {
    return this.rmw(slot, 'or', `, ${value === DEAD ? 'DEAD' : value}`, (before) => before | value);
  }
  compareExchange(slot: number, expected: number, replacement: number): number {
    return this.rmw(slot, 'compareExchange', `, ${expected}, ${replacement}`, (before) => (before === expected ? replacement : before));
  }
  wait(slot: number, value: number): void {
    // Checked and queued in one step, as Atomics.wait does.
    const sleeps = this.state.mem[slot] === value;
    if (sleeps) this.state.asleep[this.thread] = slot;
    this.log.push(`wait(${named(slot)}, ${value}): ${sleeps ? 'sleeps' : 'not-equal'}`);
  }
  notify(slot: number): void {
    const woken: string[] = [];
    this.state.asleep.forEach((s, t) => {
      if (s !== slot) return;
      this.state.asleep[t] = -1;
      woken.push(this.threadName(t));
    });
    this.log.push(`notify(${named(slot)}) wakes ${woken.length ? woken.join(', ') : 'no one'}`);
  }
  field(slot: number): number {
    this.log.push(`read ${named(slot)} = ${this.state.mem[slot]}`);
    return this.state.mem[slot]!;
  }
}

const cloneObject = <T extends object>(x: T): T => Object.assign(Object.create(Object.getPrototypeOf(x) as object) as T, x);

function clone(s: State): State {
  return {
    ...s,
    mem: s.mem.slice(),
    caller: cloneObject(s.caller),
    workers: s.workers.map((w) => ({ ...w, protocol: cloneObject(w.protocol), ...(w.report && { report: cloneObject(w.report) }) })),
    asleep: s.asleep.slice(),
    exits: s.exits.slice(),
    ...(s.supervisorReport && { supervisorReport: cloneObject(s.supervisorReport) }),
    runs: s.runs.map((r) => r.slice()),
    completed: s.completed.slice(),
  };
}

function key(s: State): string {
  const own = (x: object): string =>
    Object.values(x)
      .map((v) => (typeof v === 'number' || typeof v === 'boolean' || v === undefined ? String(v) : ''))
      .join(',');
  return [
    s.mem.join(','),
    own(s.caller),
    s.phase,
    s.job,
    s.started,
    s.ownThrew,
    s.failed,
    s.sent,
    s.fields,
    s.workers.map((w) => `${own(w.protocol)}:${w.phase}:${w.report ? own(w.report) : ''}:${w.applied}:${w.inPart}`).join('|'),
    s.asleep.join(','),
    s.exits.join(','),
    s.supervisorReported,
    s.supervisorStep,
    s.supervisorReport ? own(s.supervisorReport) : '',
    s.runs.map((r) => r.join('')).join('|'),
    s.completed.join(','),
    s.deaths,
    s.partThrows,
    s.ownThrows,
  ].join(';');
}

interface Move {
  label: string;
  /** Applies the move to `s` (a copy), returning what it did when that says more than the label. */
  apply(s: State): string | void;
}

export function explore(protocol: Protocol, scenario: Scenario): Result {
  const W = scenario.workers;
  const J = scenario.jobs;
  const messagesBefore = new Set(scenario.messagesBefore ?? []);
  const maxStates = scenario.maxStates ?? 2_000_000;
  const caller = W; // thread numbers: workers 0..W-1, caller W, supervisor W+1
  const supervisor = W + 1;
  const threadName = (t: number): string => (t === caller ? 'the caller' : t === supervisor ? 'the supervisor' : `worker ${t + 1}`);

  const initial: State = {
    mem: new Array<number>(WORDS).fill(0),
    caller: protocol.caller(W),
    phase: protocol.waitsForStart ? 'ready-dead' : 'fields',
    job: 1,
    started: !protocol.waitsForStart,
    ownThrew: false,
    failed: false,
    sent: 1, // the operand buffers, sent when the backend is made
    fields: 0,
    workers: Array.from({ length: W }, (_, w) => ({
      protocol: protocol.worker(w),
      phase: 'protocol' as WorkerPhase,
      applied: 0,
      inPart: 0,
    })),
    asleep: new Array<number>(W + 2).fill(-1),
    exits: [],
    supervisorReported: false,
    supervisorStep: 'idle',
    runs: Array.from({ length: W }, () => new Array<number>(J + 2).fill(0)),
    completed: [],
    deaths: scenario.deaths ?? 0,
    partThrows: scenario.partThrows ?? 0,
    ownThrows: scenario.ownThrows ?? 0,
  };
  initial.mem[Slot.Command] = Command.Gemm;

  const fail = (what: string): never => {
    throw new Violation(what);
  };
  const countOf = (pending: number): number => pending & (DEAD - 1);
  const checkState = (s: State): void => {
    const pending = s.mem[Slot.Pending]!;
    if (pending < 0 || countOf(pending) > W)
      fail(`Pending is ${pending & DEAD ? 'DEAD + ' : ''}${countOf(pending) | 0} (raw ${pending}): outside 0..${W}`);
  };

  /** The moves each thread (and the environment) can make from `s`. */
  function moves(s: State): Move[] {
    const out: Move[] = [];
    const stepped = (who: string, thread: number, move: (t: State, m: ModelMemory) => string | void): Move => ({
      label: who,
      apply: (t) => {
        const m = new ModelMemory(t, thread, threadName);
        const said = move(t, m);
        return `${who}: ${[...m.log, ...(said ? [said] : [])].join(', ') || 'local step'}`;
      },
    });

    // The caller: ParallelGemm.gemm → runParallel, then close().
    if (s.asleep[caller] === -1 && s.phase !== 'terminated') {
      out.push(stepped(`caller ${s.phase}`, caller, callerMove));
    }
    if (s.asleep[caller] !== -1 && scenario.spurious)
      out.push({ label: 'caller wakes spuriously', apply: (t) => void (t.asleep[caller] = -1) });
    if (s.phase === 'own' && s.ownThrows > 0) {
      out.push({
        label: "caller's own part throws",
        apply: (t) => {
          t.ownThrows--;
          t.ownThrew = true;
          ownDone(t);
        },
      });
    }

    // The workers: GemmJobServer.serve and its adapter.
    s.workers.forEach((w, i) => {
      if (w.phase === 'exited' || w.phase === 'dead') return;
      if (s.asleep[i] === -1 && !(w.phase === 'receive' && w.applied >= s.sent)) {
        out.push(stepped(`worker ${i + 1} ${w.phase}`, i, (t, m) => workerMove(t, i, m)));
      }
      if (s.asleep[i] !== -1 && scenario.spurious)
        out.push({ label: `worker ${i + 1} wakes spuriously`, apply: (t) => void (t.asleep[i] = -1) });
      if (w.phase === 'part-end' && s.partThrows > 0) {
        out.push({
          label: `worker ${i + 1}'s part throws`,
          apply: (t) => {
            t.partThrows--;
            const tw = t.workers[i]!;
            tw.inPart = 0;
            tw.phase = 'report'; // GemmJobServer.run → fail → reportFault (its text first)
            tw.report = protocol.report(i);
          },
        });
      }
      if (s.deaths > 0) {
        out.push({
          label: `worker ${i + 1} dies`,
          apply: (t) => {
            t.deaths--;
            const tw = t.workers[i]!;
            tw.phase = 'dead';
            tw.inPart = 0; // it writes nothing more
            t.asleep[i] = -1;
            t.exits.push(i); // its supervisor hears 'exit'
          },
        });
      }
    });

    // The supervisor: gemm-supervisor.ts's fault(), once per worker exit.
    if (s.supervisorStep !== 'idle' || s.exits.length > 0) {
      out.push(stepped(`supervisor ${s.supervisorStep === 'idle' ? 'hears an exit' : s.supervisorStep}`, supervisor, supervisorMove));
    }
    return out;
  }

  function ownDone(t: State): void {
    if (!protocol.joinsAfterOwnThrow && t.ownThrew) {
      // The old runParallel: the exception skips the join; the next gemm starts a new job.
      t.ownThrew = false;
      nextJob(t);
      return;
    }
    t.caller.join();
    t.phase = 'join';
  }

  function nextJob(t: State): void {
    t.job++;
    t.phase = t.job > J ? 'close' : t.started ? 'fields' : 'ready-dead';
    if (t.phase === 'close') t.caller.close();
  }

  function callerMove(t: State, m: ModelMemory): string | void {
    switch (t.phase) {
      case 'ready-dead': // workersStarted(): a fault before every worker started is thrown
        t.phase = (m.load(Slot.Pending) & DEAD) !== 0 ? 'fail' : 'ready-started';
        return;
      case 'ready-started':
        if (m.load(Slot.Started) === W) {
          t.started = true;
          t.phase = 'fields';
        } else {
          nextJob(t); // computed on the caller's thread alone: nothing shared is touched
        }
        return;
      case 'fields': {
        if (t.failed) fail('the caller posted a job after it had failed');
        const busy = t.workers.findIndex((w) => w.inPart !== 0);
        if (busy >= 0)
          fail(`the caller wrote job ${t.job}'s fields while worker ${busy + 1} was in its part of job ${t.workers[busy]!.inPart}`);
        if (messagesBefore.has(t.job)) t.sent++;
        t.fields = t.mem[Slot.Generation]! + 1; // the caller is the only writer of Generation
        t.mem[Slot.Seq] = t.sent;
        t.caller.post();
        t.phase = 'post';
        return `writes job ${t.job}'s fields (Seq ${t.sent})`;
      }
      case 'post':
        if (!t.caller.step(m)) t.phase = t.caller.pc === CallerAt.Failed ? 'fail' : 'own';
        return;
      case 'own':
        ownDone(t);
        return 'computes its own part';
      case 'join':
        if (t.caller.step(m)) return;
        if (t.caller.pc === CallerAt.Failed) {
          t.phase = 'fail';
        } else if (t.ownThrew) {
          t.ownThrew = false; // rethrown after the join: nothing is copied, the next gemm is a new job
          nextJob(t);
        } else {
          t.phase = 'copy';
        }
        return;
      case 'copy': {
        const g = t.fields;
        const busy = t.workers.findIndex((w) => w.inPart !== 0);
        if (busy >= 0) fail(`the caller copied job ${g}'s C while worker ${busy + 1} was in its part of job ${t.workers[busy]!.inPart}`);
        t.runs.forEach((runs, i) => {
          if (runs[g] !== 1) fail(`job ${g} completed but worker ${i + 1} ran it ${runs[g]} time(s)`);
        });
        t.completed.push(g);
        nextJob(t);
        return `copies job ${g}'s C out`;
      }
      case 'fail':
        if (t.mem[Slot.Fault] === 0 && (t.mem[Slot.Pending]! & DEAD) === 0)
          fail(`the caller failed with no fault reported (Pending ${t.mem[Slot.Pending]})`);
        t.failed = true;
        t.caller.close();
        t.phase = 'close';
        return;
      case 'close':
        if (!t.caller.step(m)) t.phase = 'terminated';
        return;
      default:
        return;
    }
  }

  function workerMove(t: State, i: number, m: ModelMemory): string | void {
    const w = t.workers[i]!;
    switch (w.phase) {
      case 'protocol': {
        const step = w.protocol.step(m, w.applied);
        if (step === WorkerStep.Receive) w.phase = 'receive';
        else if (step === WorkerStep.Run) w.phase = 'part-begin';
        else if (step === WorkerStep.Exit) {
          w.phase = 'exited';
          t.exits.push(i);
        } else if (step === WorkerStep.Broken) {
          w.phase = 'report';
          w.report = protocol.report(i);
        }
        return;
      }
      case 'receive': // the adapter applies the next message and calls serve again
        w.applied++;
        w.phase = 'protocol';
        return `applies message ${w.applied}`;
      case 'part-begin': {
        // runPart reads the job's fields and starts writing its part of the shared C.
        const g = w.protocol.job;
        if (t.fields !== g) fail(`worker ${i + 1} ran job ${g} with the fields of job ${t.fields}`);
        if (++t.runs[i]![g]! > 1) fail(`worker ${i + 1} ran job ${g} ${t.runs[i]![g]} times`);
        w.inPart = g;
        w.phase = 'part-end';
        return `starts its part of job ${g}`;
      }
      case 'part-end':
        w.inPart = 0;
        w.protocol.ran();
        w.phase = 'protocol';
        return `finishes its part of job ${w.protocol.job}`;
      case 'report':
        if (!w.report!.step(m)) {
          w.phase = 'exited'; // it stops serving; its thread ends
          t.exits.push(i);
        }
        return;
      default:
        return;
    }
  }

  function supervisorMove(t: State, m: ModelMemory): string | void {
    if (t.supervisorStep === 'idle') {
      t.exits.shift();
      t.supervisorStep = 'check';
      return;
    }
    if (t.supervisorStep === 'check') {
      // fault(): nothing once reported, or once close() has posted Exit (isClosing: an atomic load)
      const closing = m.load(Slot.Command) === Command.Exit;
      if (t.supervisorReported || closing) {
        t.supervisorStep = 'idle';
      } else {
        t.supervisorReported = true;
        t.supervisorReport = new FaultReport(SUPERVISOR);
        t.supervisorStep = 'report';
      }
      return;
    }
    if (!t.supervisorReport!.step(m)) {
      t.supervisorReport = undefined;
      t.supervisorStep = 'idle';
    }
  }

  const isFinal = (s: State): boolean =>
    s.phase === 'terminated' &&
    s.workers.every((w) => w.phase === 'exited' || w.phase === 'dead') &&
    s.exits.length === 0 &&
    s.supervisorStep === 'idle';

  // Breadth first: parents give the shortest schedule to any state.
  const index = new Map<string, number>();
  const parent: number[] = [];
  const via: string[] = [];
  const stored: State[] = [];
  const successors: number[][] = [];
  const outcomes: Record<string, number> = {};
  const trace = (at: number, last?: string): string[] => {
    const labels: string[] = last ? [last] : [];
    for (let n = at; n > 0; n = parent[n]!) labels.push(via[n]!);
    return labels.reverse();
  };
  const add = (s: State, from: number, label: string): number => {
    const k = key(s);
    const seen = index.get(k);
    if (seen !== undefined) return seen;
    const n = stored.length;
    index.set(k, n);
    stored.push(s);
    parent.push(from);
    via.push(label);
    successors.push([]);
    return n;
  };
  add(initial, -1, 'start');
  let transitions = 0;
  for (let n = 0; n < stored.length; n++) {
    if (stored.length > maxStates)
      return { states: stored.length, transitions, violation: { what: `more than ${maxStates} states`, trace: [] }, outcomes };
    const s = stored[n]!;
    const options = moves(s);
    if (options.length === 0) {
      if (!isFinal(s)) {
        const who = [
          s.asleep[caller] !== -1 ? `the caller sleeps on slot ${s.asleep[caller]} (phase ${s.phase})` : `the caller is ${s.phase}`,
          ...s.workers.map((w, i) => `worker ${i + 1} ${s.asleep[i] !== -1 ? `sleeps on slot ${s.asleep[i]}` : w.phase}`),
        ].join('; ');
        return {
          states: stored.length,
          transitions,
          violation: { what: `stuck: ${who} (Pending ${s.mem[Slot.Pending]})`, trace: trace(n) },
          outcomes,
        };
      }
      const outcome = s.failed ? 'failed' : `completed, ${s.completed.length} of ${J} jobs in parallel`;
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      continue;
    }
    for (const move of options) {
      const t = clone(s);
      let label = move.label;
      try {
        label = move.apply(t) ?? label;
        checkState(t);
      } catch (error) {
        if (error instanceof Violation)
          return { states: stored.length, transitions, violation: { what: error.message, trace: trace(n, label) }, outcomes };
        throw error;
      }
      transitions++;
      successors[n]!.push(add(t, n, label));
    }
  }

  // From every state an end must still be reachable (no livelock, no thread left behind for good).
  const predecessors: number[][] = stored.map(() => []);
  successors.forEach((next, n) => next.forEach((m) => predecessors[m]!.push(n)));
  const canEnd = new Uint8Array(stored.length);
  const queue: number[] = [];
  stored.forEach((s, n) => {
    if (isFinal(s)) {
      canEnd[n] = 1;
      queue.push(n);
    }
  });
  while (queue.length > 0) {
    for (const p of predecessors[queue.pop()!]!) {
      if (!canEnd[p]) {
        canEnd[p] = 1;
        queue.push(p);
      }
    }
  }
  const trapped = canEnd.indexOf(0);
  if (trapped >= 0)
    return {
      states: stored.length,
      transitions,
      violation: { what: 'a state from which the run can never end', trace: trace(trapped) },
      outcomes,
    };
  return { states: stored.length, transitions, outcomes };
}

/** The protocol as the code runs it now. */
export const CURRENT: Protocol = {
  name: 'current',
  caller: (workers) => new CallerProtocol(workers),
  worker: () => new WorkerProtocol(),
  report: (writer) => new FaultReport(writer),
  joinsAfterOwnThrow: true,
  waitsForStart: true,
};
