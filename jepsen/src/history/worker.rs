//! The process/retire rule: a worker (one client loop) runs one logical process at a time; after
//! an `info` completion its process is retired and the worker continues as `process +
//! concurrency`, so a process never has two operations in flight and an ambiguous operation is
//! never followed by another from the same process.

use super::Process;

#[derive(Debug, Clone)]
pub struct Worker {
    pub id: u64,
    concurrency: u64,
    process: u64,
}

impl Worker {
    /// Worker `id` of `concurrency` workers (`id < concurrency`).
    pub fn new(id: u64, concurrency: u64) -> Worker {
        assert!(id < concurrency, "worker {id} of {concurrency}");
        Worker {
            id,
            concurrency,
            process: id,
        }
    }

    pub fn process(&self) -> Process {
        Process::Client(self.process)
    }

    /// Call after an `info` completion.
    pub fn retire(&mut self) {
        self.process += self.concurrency;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retired_processes_never_come_back() {
        let mut a = Worker::new(1, 4);
        let b = Worker::new(2, 4);
        assert_eq!(a.process(), Process::Client(1));
        a.retire();
        assert_eq!(a.process(), Process::Client(5));
        a.retire();
        assert_eq!(a.process(), Process::Client(9));
        assert_eq!(b.process(), Process::Client(2));
    }
}
