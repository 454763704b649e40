import CLinux
import Glibc
import Synchronization

/// Something that owns a file descriptor registered with a reactor. Called on the reactor's
/// thread with the epoll event bits (`Reactor.readable`, `.writable`, `.hangup`); never blocks.
public protocol ReactorIOHandler: AnyObject {
    func reactorEvent(_ events: UInt32)
}

/// One epoll loop on one thread; also that thread's Swift executor (see Reactor+Executor).
///
/// Threading rule: everything except `execute(_:)`, `enqueue(_:)` and `stop()` must be called on
/// the reactor's own thread. Objects confined to a reactor are marked `@unchecked Sendable` and
/// say so; that is the whole concurrency model — no locks on the request path.
public final class Reactor: @unchecked Sendable {
    public static let readable = SY_EPOLLIN
    public static let writable = SY_EPOLLOUT
    public static let hangup = SY_EPOLLHUP | SY_EPOLLERR | SY_EPOLLRDHUP
    public static let error = SY_EPOLLERR

    public let name: String
    /// This reactor as an actor's serial executor (see Reactor+Executor).
    public let serialExecutor = ReactorSerialExecutor()
    let epollFD: Int32
    let wakeFD: Int32
    let timerFD: Int32

    /// Handlers by fd; the generation in the epoll data word filters events for a reused fd.
    private var handlers: [(handler: ReactorIOHandler, generation: UInt32)?] = []
    private var nextGeneration: UInt32 = 1
    var timers = TimerHeap()
    var armedTimerDeadline: UInt64 = 0

    /// Jobs enqueued from this thread; swapped out and run each turn.
    var localJobs: [PendingJob] = []
    var localClosures: [() -> Void] = []
    let remote = Mutex(RemoteQueue())
    /// Set (under `remote`'s lock) whenever `remote` gets work and cleared when it is taken, so
    /// the loop's every turn checks a flag instead of taking the lock.
    let remoteQueued = Atomic<Bool>(false)
    private(set) var thread: pthread_t?
    /// What may keep the idle loop polling, and how busy the thread is (Reactor+BusyPoll).
    var busyPollers: [WeakBusyPoller] = []
    /// The monotonic time (ns) when the current turn's events arrived, read once per return
    /// from `epoll_wait`. For deadlines and idle bookkeeping that a turn's length (well under a
    /// millisecond under load) cannot blur: a request then reads no clock of its own for them.
    /// Never ahead of `monotonicNanos()`. Reactor thread only.
    public private(set) var turnTime = monotonicNanos()
    var load = ReactorLoad()
    private var running = false
    private let stopRequested = Atomic<Bool>(false)

    struct RemoteQueue: ~Copyable {
        var jobs: [PendingJob] = []
        var closures: [() -> Void] = []
        var wakePending = false
    }

    private static let wakeTag: UInt64 = 0xFFFF_FFFF_0000_0001
    private static let timerTag: UInt64 = 0xFFFF_FFFF_0000_0002

    public init(name: String) throws(SystemError) {
        self.name = name
        epollFD = try retryingEINTR("epoll_create1") { sy_epoll_create() }
        wakeFD = try retryingEINTR("eventfd") { sy_eventfd() }
        timerFD = try retryingEINTR("timerfd_create") { sy_timerfd_create() }
        _ = try retryingEINTR("epoll_ctl") { sy_epoll_ctl(epollFD, sy_epoll_ctl_add(), wakeFD, SY_EPOLLIN, Self.wakeTag) }
        _ = try retryingEINTR("epoll_ctl") { sy_epoll_ctl(epollFD, sy_epoll_ctl_add(), timerFD, SY_EPOLLIN, Self.timerTag) }
        adoptSerialExecutor()
    }

    deinit {
        FileDescriptor.close(epollFD)
        FileDescriptor.close(wakeFD)
        FileDescriptor.close(timerFD)
    }

    /// True when called on this reactor's thread.
    @inline(__always)
    public var inReactorThread: Bool {
        guard let thread else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    // MARK: File descriptors

    public func register(_ fd: Int32, events: UInt32, handler: ReactorIOHandler) throws(SystemError) {
        let index = Int(fd)
        if index >= handlers.count { handlers.append(contentsOf: repeatElement(nil, count: index - handlers.count + 64)) }
        let generation = nextGeneration
        nextGeneration &+= 1
        handlers[index] = (handler, generation)
        let data = UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
        _ = try retryingEINTR("epoll_ctl(add)") { sy_epoll_ctl(epollFD, sy_epoll_ctl_add(), fd, events, data) }
    }

    public func modify(_ fd: Int32, events: UInt32) throws(SystemError) {
        guard let entry = handlers[Int(fd)] else { return }
        let data = UInt64(entry.generation) << 32 | UInt64(UInt32(bitPattern: fd))
        _ = try retryingEINTR("epoll_ctl(mod)") { sy_epoll_ctl(epollFD, sy_epoll_ctl_mod(), fd, events, data) }
    }

    /// Removes the fd from epoll and drops the handler. Call before closing the fd.
    public func deregister(_ fd: Int32) {
        guard Int(fd) < handlers.count, handlers[Int(fd)] != nil else { return }
        handlers[Int(fd)] = nil
        _ = sy_epoll_ctl(epollFD, sy_epoll_ctl_del(), fd, 0, 0)
    }

    // MARK: Submission

    /// Runs `body` on this reactor's next turn, before it waits for I/O again. Reactor thread only;
    /// the cheap way to defer work out of a C callback (no timer, no syscall).
    public func runSoon(_ body: @escaping () -> Void) {
        localClosures.append(body)
    }

    /// Runs `body` on the reactor thread. Safe from any thread.
    public func execute(_ body: @escaping @Sendable () -> Void) {
        if inReactorThread {
            localClosures.append(body)
            return
        }
        let mustWake = remote.withLock { queue in
            queue.closures.append(body)
            remoteQueued.store(true, ordering: .releasing)
            defer { queue.wakePending = true }
            return !queue.wakePending
        }
        if mustWake { wake() }
    }

    func wake() { _ = sy_eventfd_signal(wakeFD) }

    /// Asks the loop to return from `run()` after the current turn. Safe from any thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        _ = sy_eventfd_signal(wakeFD)
    }

    // MARK: The loop

    /// The reactor whose loop runs on the calling thread, if any. Per-worker resources (a Redis
    /// connection, say) are found through it.
    public static var current: Reactor? {
        guard let raw = pthread_getspecific(currentReactorKey) else { return nil }
        return Unmanaged<Reactor>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Runs the loop on the calling thread until `stop()`. With nothing to do it sleeps in
    /// `epoll_wait`, unless a busy-poller awaits an answer on a hot worker: then it polls first
    /// (Reactor+BusyPoll).
    public func run() {
        thread = pthread_self()
        pthread_setspecific(currentReactorKey, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(currentReactorKey, nil) }
        running = true
        defer { running = false }
        turnTime = monotonicNanos()
        let capacity = 256
        let events = UnsafeMutablePointer<sy_epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        while !stopRequested.load(ordering: .acquiring) {
            runPendingWork()
            let hasWork = !localJobs.isEmpty || !localClosures.isEmpty
            let n: Int32
            if hasWork {
                n = sy_epoll_wait(epollFD, events, Int32(capacity), 0)
            } else {
                let bound = busyPollBound()
                n = bound > 0
                    ? busyPoll(events, capacity: Int32(capacity), bound: bound)
                    : sy_epoll_wait(epollFD, events, Int32(capacity), -1)
            }
            turnTime = monotonicNanos()
            if n < 0 { continue }  // EINTR
            for i in 0..<Int(n) {
                let event = events[i]
                switch event.data {
                case Self.wakeTag:
                    _ = sy_eventfd_drain(wakeFD)
                    drainRemote()
                case Self.timerTag:
                    _ = sy_timerfd_drain(timerFD)
                    timerFDFired()
                default:
                    let fd = Int(UInt32(truncatingIfNeeded: event.data))
                    let generation = UInt32(truncatingIfNeeded: event.data >> 32)
                    guard fd < handlers.count, let entry = handlers[fd], entry.generation == generation else { continue }
                    entry.handler.reactorEvent(event.events)
                }
            }
            fireDueTimers()
        }
        runPendingWork()
    }

    func runPendingWork() {
        drainRemote()
        // Bounded passes so a job storm cannot starve I/O.
        var passes = 0
        while (!localJobs.isEmpty || !localClosures.isEmpty) && passes < 8 {
            passes += 1
            if !localClosures.isEmpty {
                let closures = localClosures
                localClosures.removeAll(keepingCapacity: true)
                for closure in closures { closure() }
            }
            if !localJobs.isEmpty {
                var jobs: [PendingJob] = []
                swap(&jobs, &localJobs)
                for job in jobs { runJob(job) }
                if localJobs.isEmpty { swap(&jobs, &localJobs); localJobs.removeAll(keepingCapacity: true) }
            }
        }
    }

    private func drainRemote() {
        guard remoteQueued.load(ordering: .acquiring) else { return }
        let (jobs, closures) = remote.withLock { queue -> ([PendingJob], [() -> Void]) in
            remoteQueued.store(false, ordering: .relaxed)
            queue.wakePending = false
            if queue.jobs.isEmpty && queue.closures.isEmpty { return ([], []) }
            defer { queue.jobs.removeAll(); queue.closures.removeAll() }
            return (queue.jobs, queue.closures)
        }
        localJobs.append(contentsOf: jobs)
        localClosures.append(contentsOf: closures)
    }
}

/// Thread-specific slot for `Reactor.current` (created once, thread-safely, by Swift's lazy globals).
private let currentReactorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()
