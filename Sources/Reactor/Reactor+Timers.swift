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
        guard let earliest = timers.earliest else { return }
        let now = monotonicNanos()
        if earliest.deadline <= now {
            while let timer = timers.popDue(now: now) {
                timer.action()
            }
        }
        rearmTimerFD()
    }

    /// Programs the timerfd only when the earliest deadline moved EARLIER than what is armed.
    /// Reprogramming a kernel timer is costly (a VM exit on virtual machines), and most moves are
    /// later (idle and first-byte deadlines pushed on each request) or removals; those leave the
    /// timerfd early, and an early wake-up just re-arms for the real earliest deadline.
    func rearmTimerFD() {
        guard let next = timers.earliest?.deadline else { return }
        if armedTimerDeadline == 0 || next < armedTimerDeadline {
            armedTimerDeadline = next
            _ = sy_timerfd_arm(timerFD, next)
        }
    }

    /// The timerfd fired: nothing is armed until the next `rearmTimerFD`.
    func timerFDFired() {
        armedTimerDeadline = 0
    }
}
