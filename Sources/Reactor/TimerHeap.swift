/// A one-shot timer owned by a reactor. Re-arming an existing timer (a connection's idle
/// deadline, say) moves it in the heap instead of allocating a new one, so per-request
/// deadlines cost no garbage. Reactor-thread confined.
public final class ReactorTimer: @unchecked Sendable {
    fileprivate(set) var heapIndex = -1
    fileprivate(set) public var deadline: UInt64 = 0
    let action: () -> Void

    public init(_ action: @escaping () -> Void) {
        self.action = action
    }

    public var isArmed: Bool { heapIndex >= 0 }
}

/// An indexed binary min-heap of timers by deadline: O(log n) insert, remove and move.
struct TimerHeap {
    private var items: [ReactorTimer] = []

    var count: Int { items.count }
    var earliest: ReactorTimer? { items.first }

    mutating func insertOrMove(_ timer: ReactorTimer, deadline: UInt64) {
        if timer.heapIndex >= 0 {
            let old = timer.deadline
            timer.deadline = deadline
            if deadline < old { siftUp(timer.heapIndex) } else { siftDown(timer.heapIndex) }
            return
        }
        timer.deadline = deadline
        timer.heapIndex = items.count
        items.append(timer)
        siftUp(items.count - 1)
    }

    mutating func remove(_ timer: ReactorTimer) {
        let index = timer.heapIndex
        guard index >= 0, index < items.count, items[index] === timer else { return }
        let last = items.count - 1
        if index != last {
            items.swapAt(index, last)
            items[index].heapIndex = index
        }
        items.removeLast()
        timer.heapIndex = -1
        if index < items.count {
            siftDown(index)
            siftUp(index)
        }
    }

    mutating func popDue(now: UInt64) -> ReactorTimer? {
        guard let first = items.first, first.deadline <= now else { return nil }
        remove(first)
        return first
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            if items[parent].deadline <= items[child].deadline { break }
            swapNodes(parent, child)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            if left >= items.count { break }
            var smallest = left
            let right = left + 1
            if right < items.count && items[right].deadline < items[left].deadline { smallest = right }
            if items[parent].deadline <= items[smallest].deadline { break }
            swapNodes(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapNodes(_ a: Int, _ b: Int) {
        items.swapAt(a, b)
        items[a].heapIndex = a
        items[b].heapIndex = b
    }
}
