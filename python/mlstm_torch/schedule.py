"""Learning-rate schedules as src/optim/schedule.ts, from the same JSON spec a checkpoint stores:

    {"kind": "constant", "lr": X} | {"kind": "linear"|"cosine", "lr": X, "steps": N[, "floor": F]}
    | {"kind": "warmup", "steps": N, "then": SPEC}

`make_schedule(spec)(s)` is the learning rate of the 0-based update s (the trainer's step count before it).
"""
import math


def schedule_spec(kind, lr, steps, warmup):
    """The spec `mlstm train --schedule KIND --lr X --steps N --warmup W` builds (src/cli/train-command.ts)."""
    if kind == "constant":
        inner = {"kind": "constant", "lr": lr}
    elif kind in ("linear", "cosine"):
        inner = {"kind": kind, "lr": lr, "steps": max(1, steps - warmup)}
    else:
        raise ValueError(f"schedule_spec: unknown schedule {kind!r} (expected constant, linear or cosine)")
    return {"kind": "warmup", "steps": warmup, "then": inner} if warmup > 0 else inner


def make_schedule(spec):
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind == "constant":
        lr = float(spec["lr"])
        return lambda s: lr
    if kind in ("linear", "cosine"):
        lr, steps, floor = float(spec["lr"]), int(spec["steps"]), float(spec.get("floor", 0.0))
        if steps < 1 or not 0 <= floor <= lr:
            raise ValueError(f"make_schedule: bad {kind} schedule {spec}")
        if kind == "linear":
            return lambda s: floor if s >= steps else lr + (floor - lr) * (s / steps)
        return lambda s: floor if s >= steps else floor + (lr - floor) * 0.5 * (1 + math.cos(math.pi * s / steps))
    if kind == "warmup":
        steps = int(spec["steps"])
        if steps < 1:
            raise ValueError(f"make_schedule: warm-up steps must be >= 1, got {steps}")
        inner = make_schedule(spec["then"])
        peak = inner(0)
        return lambda s: peak * (s + 1) / steps if s < steps else inner(s - steps)
    raise ValueError(f"make_schedule: unknown schedule {spec!r} (expected kind constant, linear, cosine or warmup)")


def schedule_summary(spec):
    """A short description for the banner, e.g. `cosine from 0.003 after 100 warm-up steps`."""
    if spec["kind"] == "warmup":
        return f"{schedule_summary(spec['then'])} after {spec['steps']} warm-up steps"
    if spec["kind"] == "constant":
        return f"constant lr {spec['lr']:g}"
    return f"{spec['kind']} decay from lr {spec['lr']:g} over {spec['steps']} steps"
