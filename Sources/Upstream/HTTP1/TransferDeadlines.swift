import Reactor

/// The first deadline of every transfer a pool starts (the first byte's, or the total's when
/// that is sooner), without a timer-heap move per transfer. Transfers with the same timeouts
/// reach that deadline in the order they started, so each distinct span keeps a queue in start
/// order under one timer armed for its oldest entry. A transfer that ends (or is dropped)
/// clears its entry in place; cleared entries leave from the front, or in a compaction once
/// they outnumber the live ones. A transfer still running when its entry comes due gets the
/// exact per-transfer timer (`TransferDeadline`) for whatever deadline it has left: only
/// transfers that outlive their first-byte span (long streams) and connects touch the heap.
/// Entries do not count their references: a transfer clears its entry before it can go away.
/// Reactor-thread confined: one per connection pool.
final class StartDeadlines {
    final class Queue {
        let span: UInt64
        fileprivate var entries: [(deadline: UInt64, transfer: Unmanaged<HTTP1Transfer>?)] = []
        /// The position (as transfers record it) of `entries[0]`.
        fileprivate var base = 0
        fileprivate var front = 0
        fileprivate var live = 0
        fileprivate var timer: ReactorTimer?

        init(span: UInt64) { self.span = span }

        /// Moves past cleared entries at the front, and lets go of what it moved past. Called
        /// whenever an entry is cleared, so the front entry is always a live one.
        fileprivate func dropCleared() {
            while front < entries.count, entries[front].transfer == nil { front += 1 }
            if front == entries.count {
                base &+= entries.count
                entries.removeAll(keepingCapacity: entries.capacity <= 4096)
                front = 0
            } else if front >= 1024, front * 2 >= entries.count {
                base &+= front
                entries.removeFirst(front)
                front = 0
            }
        }
    }

    private let reactor: Reactor
    private var queues: [Queue] = []

    init(reactor: Reactor) {
        self.reactor = reactor
    }

    deinit {
        // Goes with its pool, on the pool's reactor: a timer left armed would call into it.
        for queue in queues { if let timer = queue.timer { reactor.disarm(timer) } }
    }

    /// Entries held, cleared ones included (tests: the queues stay bounded).
    var entryCount: Int { queues.reduce(0) { $0 + $1.entries.count - $1.front } }

    /// Watches `transfer`, started at `now`, until `now + span`.
    func watch(_ transfer: HTTP1Transfer, span: UInt64, now: UInt64) {
        let queue = self.queue(span)
        transfer.startQueue = queue
        transfer.startEntry = queue.base &+ queue.entries.count
        queue.entries.append((now &+ span, Unmanaged.passUnretained(transfer)))
        queue.live += 1
        if queue.entries.count - queue.front > 2 * queue.live + 64 { compact(queue) }
        if queue.timer?.isArmed != true { arm(queue) }
    }

    /// `transfer` ended (or is going away): its entry no longer refers to it.
    func forget(_ transfer: HTTP1Transfer) {
        guard let queue = transfer.startQueue else { return }
        transfer.startQueue = nil
        queue.entries[transfer.startEntry &- queue.base].transfer = nil
        queue.live -= 1
        queue.dropCleared()
    }

    private func queue(_ span: UInt64) -> Queue {
        for queue in queues where queue.span == span { return queue }
        let made = Queue(span: span)
        queues.append(made)
        return made
    }

    /// Keeps only live entries, in order, and tells their transfers where they moved.
    private func compact(_ queue: Queue) {
        let base = queue.base &+ queue.entries.count
        var kept: [(deadline: UInt64, transfer: Unmanaged<HTTP1Transfer>?)] = []
        kept.reserveCapacity(queue.live)
        for entry in queue.entries[queue.front...] {
            guard let transfer = entry.transfer else { continue }
            transfer.takeUnretainedValue().startEntry = base &+ kept.count
            kept.append(entry)
        }
        queue.entries = kept
        queue.base = base
        queue.front = 0
    }

    private func arm(_ queue: Queue) {
        guard queue.front < queue.entries.count else { return }
        let timer = queue.timer ?? ReactorTimer { [unowned self, unowned queue] in self.fire(queue) }
        queue.timer = timer
        reactor.arm(timer, at: queue.entries[queue.front].deadline)
    }

    private func fire(_ queue: Queue) {
        let now = monotonicNanos()
        while queue.front < queue.entries.count, queue.entries[queue.front].deadline <= now {
            let transfer = queue.entries[queue.front].transfer!.takeUnretainedValue()
            forget(transfer)
            transfer.deadlineReached()
        }
        arm(queue)
    }
}

/// A transfer's exact deadline timer, for a connect and for what is left once its start
/// deadline passed; reused by the pool's transfers one after another. The timer is armed only
/// while `transfer` holds the slot (it is disarmed when handed back), so the reference does not
/// need to be counted. Reactor-thread confined.
final class TransferDeadline {
    unowned(unsafe) var transfer: HTTP1Transfer?
    private(set) lazy var timer = ReactorTimer { [unowned self] in self.transfer?.deadlineReached() }
}
