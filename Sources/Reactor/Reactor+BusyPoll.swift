import CLinux
import Glibc

/// Something on a reactor that expects an answer within microseconds: a state store's reply.
/// While one does and its worker is busy, the loop polls epoll for up to `busyPollNanos`
/// instead of sleeping (see `Reactor.busyPollBound`).
public protocol ReactorBusyPoller: AnyObject {
    /// How long an idle loop may poll for this poller's answer: 0 when it awaits none.
    var busyPollNanos: UInt64 { get }
}

/// Whether a reactor's thread is busy enough that polling beats sleeping: the share of wall
/// time the thread spent on the CPU doing work (polling does not count) over the last window.
///
/// Sleeping in `epoll_wait` costs a worker more than the syscall: on a VM the idle vCPU exits
/// to the host, and a thread that slept resumes with cold caches. A busy worker waiting ~100 µs
/// for Redis pays that on every turn (measured: about a tenth of its throughput on the
/// rate-limited chain, bench/RESULTS.md). A mostly idle one would only burn the wait as CPU and
/// gain nothing (measured at `-c1`: twice the CPU per request, the same latency), so polling is
/// kept for workers that were at least `hotShare` busy.
public struct ReactorLoad: Sendable, Equatable {
    /// The busy share at or above which a worker polls.
    public static let hotShare = 0.75
    /// How often the share is recomputed.
    public static let window: UInt64 = 10_000_000

    /// The busy share this gauge calls hot (`hotShare` but in tests).
    let threshold: Double
    private var windowStart: UInt64 = 0
    private var cpuAtStart: UInt64 = 0
    private var polledInWindow: UInt64 = 0
    public private(set) var isHot = false
    /// All the time spent polling, since the start.
    public private(set) var polledTotal: UInt64 = 0

    public init(hotShare: Double = ReactorLoad.hotShare) { threshold = hotShare }

    /// Call with the monotonic time and the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`)
    /// when a window may have ended; `cpu` is read only then (`needsSample`).
    public mutating func sample(now: UInt64, cpu: UInt64) {
        let wall = now &- windowStart
        if windowStart != 0, wall > 0 {
            let worked = (cpu &- cpuAtStart).subtractingReportingOverflow(polledInWindow)
            let busy = worked.overflow ? 0 : Double(worked.partialValue) / Double(wall)
            isHot = busy >= threshold
        }
        windowStart = now
        cpuAtStart = cpu
        polledInWindow = 0
    }

    /// Whether the current window has ended (or none started) at `now`.
    public func needsSample(now: UInt64) -> Bool { windowStart == 0 || now &- windowStart >= Self.window }

    /// Time spent polling: CPU time that was no work.
    public mutating func polled(_ nanos: UInt64) {
        polledInWindow &+= nanos
        polledTotal &+= nanos
    }
}

extension Reactor {
    /// Registers a poller (held weakly). Reactor thread only.
    public func addBusyPoller(_ poller: any ReactorBusyPoller) {
        busyPollers.append(WeakBusyPoller(poller: poller))
    }

    /// How long the idle loop may poll before it sleeps: the longest bound of the pollers that
    /// await an answer, when the worker is hot; 0 otherwise. Pollers that are gone are dropped.
    func busyPollBound() -> UInt64 {
        guard !busyPollers.isEmpty else { return 0 }
        var bound: UInt64 = 0
        var dead = false
        for entry in busyPollers {
            guard let poller = entry.poller else {
                dead = true
                continue
            }
            bound = max(bound, poller.busyPollNanos)
        }
        if dead { busyPollers.removeAll { $0.poller == nil } }
        guard bound > 0 else { return 0 }
        let now = monotonicNanos()
        if load.needsSample(now: now) { load.sample(now: now, cpu: threadCPUNanos()) }
        return load.isHot ? bound : 0
    }

    /// Polls epoll (no wait) until an event arrives or `bound` has passed, then waits as usual.
    func busyPoll(_ events: UnsafeMutablePointer<sy_epoll_event>, capacity: Int32, bound: UInt64) -> Int32 {
        let start = monotonicNanos()
        var now = start
        defer { load.polled(now &- start) }
        repeat {
            let n = sy_epoll_wait(epollFD, events, capacity, 0)
            now = monotonicNanos()
            if n != 0 { return n }
        } while now &- start < bound
        return sy_epoll_wait(epollFD, events, capacity, -1)
    }
}

struct WeakBusyPoller {
    weak var poller: (any ReactorBusyPoller)?
}

/// The calling thread's CPU time in nanoseconds.
func threadCPUNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
