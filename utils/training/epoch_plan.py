"""Which epochs a run (or one process of a multi-worker job) trains, and how each global batch is shared."""
from dataclasses import dataclass


@dataclass(frozen=True)
class EpochPlan:
    batch_size: int
    seed: int
    first_epoch: int  # epochs already finished (Keras' initial_epoch)
    last_epoch: int  # the run's total epochs
    # A multi-worker job: each process feeds its slice of every global batch; together they feed the whole batch.
    processes: int = 1
    process_index: int = 0
    devices: int = 1  # of the whole job: a global batch is used only when it divides evenly among them

    def steps_per_epoch(self, count: int) -> int:
        """Global batches per epoch: all full ones, and the last smaller one where the devices can share it
        equally (always on one device; with N devices a remainder that N does not divide is skipped)."""
        full, rest = divmod(count, self.batch_size)
        return full + (1 if rest and rest % self.devices == 0 else 0)

    def own_slice(self, indices):
        """This process's part of a global batch's indices."""
        share = len(indices) // self.processes
        return indices[self.process_index * share:(self.process_index + 1) * share]
