import { Command, Slot } from '../../src/parallel/gemm-parallel-protocol.js';
import { CallerAt, CallerProtocol, FaultReport, WorkerStep, type ControlMemory } from '../../src/parallel/job-protocol.js';
import type { ModelWorker, Protocol } from './gemm-protocol-model.js';

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

/**
 * The old caller differs from CallerProtocol in two steps, overridden here; its other steps were
 * the same operations: "Atomics.add(ctrl, Slot.Generation, 1); Atomics.notify(ctrl,
 * Slot.Generation);" to post, "Atomics.wait(ctrl, Slot.Pending, pending, remaining)" to join (the
 * 60 s deadline is left out), and close()'s Exit, add and notify.
 */
export class OldCaller extends CallerProtocol {
  override step(mem: ControlMemory): boolean {
    switch (this.pc) {
      case CallerAt.Publish: // "Atomics.store(ctrl, Slot.Pending, this.transport.workers);"
        mem.store(Slot.Pending, this.workers);
        this.pc = CallerAt.Advance;
        return true;
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
      default:
        return super.step(mem);
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
