import GatewayCore

extension Array {
    /// Takes the next script call's worth out of what waits: the oldest item's tier (its
    /// `LimitScripts`), up to `limit` of that tier's items, in arrival order; the rest stay, in
    /// order. Admission and settlement queues both cut their calls this way.
    mutating func takeTierBatch(limit: Int, scripts: (Element) -> LimitScripts) -> [Element] {
        guard let first = first else { return [] }
        let tier = scripts(first)
        var batch: [Element] = []
        var rest: [Element] = []
        for item in self {
            if batch.count < limit, scripts(item) === tier { batch.append(item) } else { rest.append(item) }
        }
        if rest.isEmpty { removeAll(keepingCapacity: true) } else { self = rest }
        return batch
    }
}
