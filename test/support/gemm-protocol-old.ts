import { Command, Slot } from '../../src/parallel/gemm-parallel-protocol.js';
import { CallerAt, FaultReport, WorkerStep, type ControlMemory } from '../../src/parallel/job-protocol.js';
import type { ModelCaller, ModelWorker, Protocol } from './gemm-protocol-model.js';

/*
 * The old protocol (src/tensor/kernels/gemm-parallel*.ts before issue 11), one step per
 * operation on the control block, each quoting the line it models.
 */
export class OldWorker implements ModelWorker {
  pc = 0;
  seen = 0; // "private seen = 0"
  get job(): number {
    return this.seen;
  }
  step(mem: ControlMemory, applied: number): number {
    switch (this.pc) {
      case 0: // "if (!this.inJob) { Atomics.wait(ctrl, Slot.Generation, this.seen);"
        mem.wait(Slot.Generation, this.seen);
        this.pc = 1;
        return WorkerStep.Next;
      case 1: // "this.seen = Atomics.load(ctrl, Slot.Generation);"
        this.seen = mem.load(Slot.Generation);
        this.pc = 2;
        return WorkerStep.Next;
      case 2: // "if (ctrl[Slot.Command] === Command.Exit) return 'exit'; this.inJob = true; }"
        if (mem.field(Slot.Command) === Command.Exit) {
          this.pc = 9;
          return WorkerStep.Exit;
        }
        this.pc = 3;
        return WorkerStep.Next;
      case 3: // "if (this.buffers.applied < ctrl[Slot.Seq]!) return 'message';" then runPart
        if (applied < mem.field(Slot.Seq)) return WorkerStep.Receive;
        this.pc = 4;
        return WorkerStep.Run;
      case 4:
        return WorkerStep.Run;
      case 5: // "this.inJob = false; if (Atomics.sub(ctrl, Slot.Pending, 1) === 1)"
        this.pc = mem.sub(Slot.Pending, 1) === 1 ? 6 : 0;
        return WorkerStep.Next;
      case 6: // "Atomics.notify(ctrl, Slot.Pending);"
        mem.notify(Slot.Pending);
        this.pc = 0;
        return WorkerStep.Next;
      default:
        return WorkerStep.Exit;
    }
  }
  ran(): void {
    this.pc = 5;
  }
}

export class OldCaller implements ModelCaller {
  pc: number = CallerAt.Idle;
  private expected = 0;
  constructor(private readonly workers: number) {}
  post(): void {
    this.pc = CallerAt.Publish;
  }
  join(): void {
    this.pc = CallerAt.Check;
  }
  close(): void {
    this.pc = CallerAt.Exit;
  }
  step(mem: ControlMemory): boolean {
    switch (this.pc) {
      case CallerAt.Publish: // "Atomics.store(ctrl, Slot.Pending, this.transport.workers);"
        mem.store(Slot.Pending, this.workers);
        this.pc = CallerAt.Advance;
        return true;
      case CallerAt.Advance: // "Atomics.add(ctrl, Slot.Generation, 1);"
        mem.add(Slot.Generation, 1);
        this.pc = CallerAt.Wake;
        return true;
      case CallerAt.Wake: // "Atomics.notify(ctrl, Slot.Generation);"
        mem.notify(Slot.Generation);
        this.pc = CallerAt.Working;
        return false;
      case CallerAt.Check: {
        // join(): "const pending = Atomics.load(ctrl, Slot.Pending); if (pending === 0) break;"
        const pending = mem.load(Slot.Pending);
        if (pending === 0) {
          this.pc = CallerAt.Done;
          return false;
        }
        this.expected = pending;
        this.pc = CallerAt.Sleep;
        return true;
      }
      case CallerAt.Sleep: // "Atomics.wait(ctrl, Slot.Pending, pending, remaining);" (the 60 s deadline is left out)
        mem.wait(Slot.Pending, this.expected);
        this.pc = CallerAt.Check;
        return true;
      case CallerAt.Exit: // close(): "this.ctrl[Slot.Command] = Command.Exit;"
        mem.store(Slot.Command, Command.Exit);
        this.pc = CallerAt.ExitAdvance;
        return true;
      case CallerAt.ExitAdvance: // "Atomics.add(this.ctrl, Slot.Generation, 1);"
        mem.add(Slot.Generation, 1);
        this.pc = CallerAt.ExitWake;
        return true;
      case CallerAt.ExitWake: // "Atomics.notify(this.ctrl, Slot.Generation);"
        mem.notify(Slot.Generation);
        this.pc = CallerAt.Closed;
        return false;
      default:
        return false;
    }
  }
}

export const OLD: Protocol = {
  name: 'old',
  caller: (workers) => new OldCaller(workers),
  worker: () => new OldWorker(),
  report: (writer) => new FaultReport(writer),
  joinsAfterOwnThrow: false, // "const mine = …; this.join();" came after the own part, with no try
  waitsForStart: false,
};
