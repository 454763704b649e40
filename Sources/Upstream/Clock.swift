import Reactor

@inline(__always)
func monotonicNow() -> UInt64 { monotonicNanos() }
