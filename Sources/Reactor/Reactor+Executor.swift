/// The reactor is the Swift executor of its thread: a task started with
/// `Task(executorPreference: reactor)` and every continuation it resumes run here, so awaiting an
/// upstream or Redis reply never leaves the thread. An actor may use `unownedExecutor` to live here too.
extension Reactor: SerialExecutor, TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if inReactorThread {
            localJobs.append(job)
            return
        }
        let mustWake = remote.withLock { queue in
            queue.jobs.append(job)
            defer { queue.wakePending = true }
            return !queue.wakePending
        }
        if mustWake { wake() }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    public func checkIsolated() {
        precondition(inReactorThread, "not on reactor \(name)")
    }

    public func isSameExclusiveExecutionContext(other: Reactor) -> Bool { self === other }

    @inline(__always)
    func runJob(_ job: UnownedJob) {
        job.runSynchronously(isolatedTo: asUnownedSerialExecutor(), taskExecutor: asUnownedTaskExecutor())
    }
}
