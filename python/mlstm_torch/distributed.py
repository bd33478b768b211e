"""The process group of a `torchrun` run, and the few collectives the trainer needs.

Launched by torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT set), `Distributed.from_env` joins
the group: NCCL when the ranks train on GPUs, gloo on CPUs. Each rank uses the GPU of its LOCAL_RANK.
Launched as a plain process, it is a world of one and every collective is the identity, so the same
training code runs with or without torchrun.
"""
import os

import torch
import torch.distributed as dist


class Distributed:
    def __init__(self, rank=0, world=1, local_rank=0, device=torch.device("cpu"), backend=None):
        self.rank, self.world, self.local_rank = rank, world, local_rank
        self.device, self.backend = device, backend

    @property
    def active(self):
        return self.world > 1

    @property
    def is_main(self):
        return self.rank == 0

    @staticmethod
    def from_env(device="auto", backend="auto"):
        """device: auto (cuda if available), cpu or cuda; backend: auto (nccl on cuda, gloo on cpu), nccl or gloo."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda":
            if not torch.cuda.is_available():
                raise RuntimeError("--device cuda: torch sees no CUDA device here")
            if local_rank >= torch.cuda.device_count():
                raise RuntimeError(f"local rank {local_rank} has no GPU: this node has {torch.cuda.device_count()}; "
                                   "give torchrun --nproc_per_node at most the number of GPUs")
            torch.cuda.set_device(local_rank)
            dev = torch.device("cuda", local_rank)
        elif device == "cpu":
            dev = torch.device("cpu")
        else:
            raise ValueError(f"--device must be auto, cpu or cuda, got {device!r}")
        if backend == "auto":
            backend = "nccl" if dev.type == "cuda" else "gloo"
        if backend == "nccl" and dev.type != "cuda":
            raise ValueError("the NCCL backend needs GPUs (--device cuda); use gloo on CPUs")
        if world > 1:
            if not dist.is_available():
                raise RuntimeError("this torch was built without torch.distributed")
            dist.init_process_group(backend=backend)
            world, rank = dist.get_world_size(), dist.get_rank()
        return Distributed(rank, world, local_rank, dev, backend if world > 1 else None)

    def close(self):
        if self.active and dist.is_initialized():
            dist.destroy_process_group()

    # Collectives: identities in a world of one. Tensors live on self.device (NCCL needs them on the GPU).
    def all_reduce_sum(self, t):
        if self.active:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def all_gather_cat(self, t):
        """Concatenate every rank's `t` along dim 0, in rank order (all shares have the same shape)."""
        if not self.active:
            return t
        parts = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts, dim=0)

    def broadcast_object(self, obj):
        """Rank 0's `obj` on every rank (small Python values: a decision, an error message)."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self.device if self.backend == "nccl" else None)
        return box[0]

    def gather_objects(self, obj):
        """Every rank's `obj`, in rank order, on every rank."""
        if not self.active:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def barrier(self):
        if self.active:
            if self.backend == "nccl":
                dist.barrier(device_ids=[self.local_rank])
            else:
                dist.barrier()
