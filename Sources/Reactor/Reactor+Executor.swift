/// The reactor is the Swift task executor of its thread: a task started with
/// `Task(executorPreference: reactor)` and every continuation it resumes run here, so awaiting an
/// upstream or Redis reply never leaves the thread.
///
/// Such jobs run *on* the reactor as a task executor, not isolated to it. Were they run isolated
/// to a serial executor, every entry into a nonisolated async function would have to switch away
/// from that isolation, and with the task's preference the switch is a new job on this same
/// queue: about 17 jobs per proxied request instead of 1. Actors that want to live on the
/// reactor use `serialExecutor`, whose jobs do run isolated.
extension Reactor: TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        submit(PendingJob(job: UnownedJob(job), isolated: false))
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    func submit(_ job: PendingJob) {
        if inReactorThread {
            localJobs.append(job)
            return
        }
        let mustWake = remote.withLock { queue in
            queue.jobs.append(job)
            remoteQueued.store(true, ordering: .releasing)
            defer { queue.wakePending = true }
            return !queue.wakePending
        }
        if mustWake { wake() }
    }

    @inline(__always)
    func runJob(_ pending: PendingJob) {
        if pending.isolated {
            pending.job.runSynchronously(isolatedTo: serialExecutor.asUnownedSerialExecutor(), taskExecutor: asUnownedTaskExecutor())
        } else {
            pending.job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// A job queued on the reactor, and whether it must run isolated to `serialExecutor` (an
/// actor's job) or just on the reactor's thread (a task's).
struct PendingJob {
    let job: UnownedJob
    let isolated: Bool
}

/// The reactor as the serial executor of an actor that lives on its thread:
/// `nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.serialExecutor.asUnownedSerialExecutor() }`.
/// Safe from any thread; jobs run on the reactor's thread, isolated to this executor.
public final class ReactorSerialExecutor: SerialExecutor, @unchecked Sendable {
    /// Set once by the reactor's initialiser, before the reactor is shared.
    fileprivate(set) weak var reactor: Reactor?

    init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        reactor?.submit(PendingJob(job: UnownedJob(job), isolated: true))
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func checkIsolated() {
        precondition(reactor?.inReactorThread == true, "not on reactor \(reactor?.name ?? "(gone)")")
    }
}

extension Reactor {
    /// Connects `serialExecutor` to this reactor (called once from `init`).
    func adoptSerialExecutor() {
        serialExecutor.reactor = self
    }
}
