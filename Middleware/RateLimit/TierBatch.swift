import GatewayCore

extension Array {
    /// Takes the next script call's worth out of what waits: the oldest item's tier (its
    /// `LimitScripts`), up to `limit` of that tier's items, in arrival order; the rest stay, in
    /// order. Admission and settlement queues both cut their calls this way.
    mutating func takeTierBatch(limit: Int, scripts: (Element) -> LimitScripts) -> [Element] {
        guard let first = first else { return [] }
        let tier = scripts(first)
        return take(limit: limit) { scripts($0) === tier }
    }

    /// Takes up to `limit` of the items that `matches`, in order; the rest stay, in order.
    /// Mostly every item matches and fits (one tier, one turn's worth): the whole array is
    /// handed over then, where copying each item out and destroying the original cost a value
    /// witness call and a retain and release per reference it holds. The queue left behind
    /// gets room for as many again: the next turn brings about as many, and growing from empty
    /// reallocated it four or five times a batch.
    mutating func take(limit: Int, where matches: (Element) -> Bool) -> [Element] {
        if count <= limit, allSatisfy(matches) {
            var taken: [Element] = []
            swap(&taken, &self)
            reserveCapacity(taken.count)
            return taken
        }
        var taken: [Element] = []
        var rest: [Element] = []
        for item in self {
            if taken.count < limit, matches(item) { taken.append(item) } else { rest.append(item) }
        }
        if rest.isEmpty { removeAll(keepingCapacity: true) } else { self = rest }
        return taken
    }
}
