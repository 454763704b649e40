import CLinux
import Glibc

/// A failed system call: the call's name and `errno`. Thrown by every wrapper in this module.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public var call: String
    public var errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// The outcome of a non-blocking read or write.
public enum IOResult: Equatable, Sendable {
    case processed(Int)
    case wouldBlock
}

/// Runs a system call, retrying `EINTR`, throwing `SystemError` for any other failure.
/// Every syscall in the gateway goes through here or one of the wrappers below.
@inline(__always)
public func retryingEINTR<T: FixedWidthInteger>(_ call: String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let e = Glibc.errno
        if e == EINTR { continue }
        throw SystemError(call, errno: e)
    }
}

/// Non-blocking I/O helpers: `EAGAIN` is `.wouldBlock`, a closed peer reads as `.processed(0)`.
public enum FileDescriptor {
    @inline(__always)
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return .processed(n) }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            throw SystemError("read", errno: e)
        }
    }

    /// Sends with `MSG_NOSIGNAL` so a closed peer is an error, never a SIGPIPE.
    @inline(__always)
    public static func send(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult {
        while true {
            let n = sy_send_nosignal(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return .processed(n) }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            throw SystemError("send", errno: e)
        }
    }

    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)  // never retried: on Linux the fd is released even on EINTR
    }
}

/// Monotonic clock in nanoseconds (CLOCK_MONOTONIC).
@inline(__always)
public func monotonicNanos() -> UInt64 { sy_monotonic_ns() }

/// Wall clock in nanoseconds since the Unix epoch.
@inline(__always)
public func wallClockNanos() -> UInt64 { sy_realtime_ns() }

/// CLOCK_MONOTONIC_COARSE in nanoseconds: the time of the last tick (a few ms resolution),
/// read without touching the clock source. For deadlines measured in seconds, set on every
/// request and checked by a periodic sweep that reads the same clock.
@inline(__always)
public func coarseMonotonicNanos() -> UInt64 { coarseNanos(CLOCK_MONOTONIC_COARSE) }

/// CLOCK_REALTIME_COARSE in nanoseconds since the Unix epoch (a few ms behind the wall clock).
@inline(__always)
public func coarseWallClockNanos() -> UInt64 { coarseNanos(CLOCK_REALTIME_COARSE) }

@inline(__always)
private func coarseNanos(_ clock: clockid_t) -> UInt64 {
    var now = timespec()
    clock_gettime(clock, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// Online CPUs, for `workers: auto`.
public func onlineCPUCount() -> Int { Int(sy_cpu_count()) }
