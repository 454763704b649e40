import CLinux

/// Timers on the reactor: one timerfd armed at the earliest deadline of an indexed heap.
/// `Task.sleep` wakes on a global timer thread, so the gateway sleeps and times out here instead.
extension Reactor {
    /// Arms (or moves) `timer` to fire at the absolute monotonic `deadline` (ns). Reactor thread only.
    public func arm(_ timer: ReactorTimer, at deadline: UInt64) {
        timers.insertOrMove(timer, deadline: deadline)
        rearmTimerFD()
    }

    /// Arms `timer` to fire `nanoseconds` from now. Reactor thread only.
    public func arm(_ timer: ReactorTimer, after nanoseconds: UInt64) {
        arm(timer, at: monotonicNanos() &+ nanoseconds)
    }

    /// Disarms `timer`; a no-op when it is not armed. Reactor thread only.
    public func disarm(_ timer: ReactorTimer) {
        guard timer.isArmed else { return }
        timers.remove(timer)
        rearmTimerFD()
    }

    /// A new one-shot timer firing `action` after `nanoseconds`. Reactor thread only.
    @discardableResult
    public func schedule(after nanoseconds: UInt64, _ action: @escaping () -> Void) -> ReactorTimer {
        let timer = ReactorTimer(action)
        arm(timer, after: nanoseconds)
        return timer
    }

    /// Number of armed timers (for tests and leak checks).
    public var armedTimerCount: Int { timers.count }

    func fireDueTimers() {
        guard timers.count > 0 else { return }
        let now = monotonicNanos()
        while let timer = timers.popDue(now: now) {
            timer.action()
        }
        rearmTimerFD()
    }

    private func rearmTimerFD() {
        let next = timers.earliest?.deadline ?? 0
        if next != armedTimerDeadline {
            armedTimerDeadline = next
            _ = sy_timerfd_arm(timerFD, next)
        }
    }
}
