import GatewayCore

/// How one `LimitScripts.admit` call carries its requests, and how its reply is read back.
///
/// The script takes a caller's requests together, whatever order they came in: per caller, the
/// index of its key, how many requests (a run), then each one's reservation. Callers' counters
/// are apart, so the order between callers changes no answer; within a run the order is kept.
/// When a whole run fits, the script answers it at once in the group form (`-2`, the run's
/// length, then each limit's counts before it: a concurrency limit's live leases, a window's
/// current and previous count), and `answers` works each request's short-form answer out from
/// those counts with the script's arithmetic. Under load a worker's batch is mostly one
/// caller's run, and a run costs the script about what one request did. Immutable once built.
public struct AdmissionLayout: Sendable {
    /// Each run's length, in the script's order.
    private var runs: [Int] = []
    /// The reservations, in the script's order.
    private var reserves: [Int64] = []
    /// Per request as added, its place in the script's order; empty when they are the same.
    private var places: [Int] = []

    /// Appends `requests` to `call`'s first section, each caller's run together.
    public init<Requests: Collection>(appending requests: Requests, to call: inout ScriptBatch,
                                      limiter: (Requests.Element) -> String, reserve: (Requests.Element) -> Int64) {
        var positions: [Int] = []  // each run's key, in `call.keys`
        positions.reserveCapacity(4)
        reserves.reserveCapacity(requests.count)
        // A batch is mostly one caller's run, or callers one after another: those go as they came.
        var contiguous = true
        for request in requests {
            let position = call.position(of: limiter(request))
            reserves.append(reserve(request))
            if position == positions.last {
                runs[runs.count - 1] += 1
                continue
            }
            if positions.contains(position) { contiguous = false }
            positions.append(position)
            runs.append(1)
        }
        if !contiguous { regroup(positions: &positions, requests: requests, call: &call, limiter: limiter) }
        var next = 0
        for (run, length) in runs.enumerated() {
            call.startEntry(position: positions[run], section: 0)
            call.append(Int64(length))
            for reserve in reserves[next..<(next + length)] { call.append(reserve) }
            next += length
        }
    }

    /// The runs of interleaved callers gathered: one run per caller, in order of first arrival.
    private mutating func regroup<Requests: Collection>(positions: inout [Int], requests: Requests, call: inout ScriptBatch,
                                                        limiter: (Requests.Element) -> String) {
        var runOf: [Int: Int] = [:]  // key position to its run
        var callers: [Int] = []
        var lengths: [Int] = []
        let keyed = requests.map { call.position(of: limiter($0)) }
        for position in keyed where runOf[position] == nil {
            runOf[position] = callers.count
            callers.append(position)
            lengths.append(0)
        }
        for position in keyed { lengths[runOf[position]!] += 1 }
        var starts: [Int] = []
        var total = 0
        for length in lengths {
            starts.append(total)
            total += length
        }
        var grouped = [Int64](repeating: 0, count: reserves.count)
        places = keyed.enumerated().map { request, position in
            let run = runOf[position]!
            let place = starts[run]
            starts[run] += 1
            grouped[place] = reserves[request]
            return place
        }
        reserves = grouped
        runs = lengths
        positions = callers
    }

    /// Each request's answer in `reply`, in the order the requests were added: the reply with
    /// every group-form answer written out as its requests' short forms, and where each
    /// request's answer starts in it. Nil when the reply is not shaped as `LimitScripts.admit`
    /// documents, or answers other requests.
    public func answers(plan: LimitPlan, reply: PackedIntegers) -> (reply: PackedIntegers, offsets: [Int])? {
        let count = plan.limits.count
        var at = 1 + count
        guard reply.count >= at else { return nil }
        var expanded: [Int64]?  // made at the first group form
        var offsets: [Int] = []
        offsets.reserveCapacity(reserves.count)
        var next = 0  // the run's first request, in the script's order
        for length in runs {
            if at < reply.count && reply[at] == -2 {
                guard at + 1 < reply.count, reply[at + 1] == Int64(length) else { return nil }
                if expanded == nil {
                    var copy = (0..<at).map { reply[$0] }
                    copy.reserveCapacity(reply.count + reserves.count * (1 + count))
                    expanded = copy
                }
                guard let used = writeRun(plan: plan, reply: reply, at: at, reserves: reserves[next..<(next + length)],
                                          into: &expanded!, offsets: &offsets)
                else { return nil }
                at += used
            } else {
                for _ in 0..<length {
                    guard let size = RateLimitSnapshot.size(plan: plan, reply: reply, at: at) else { return nil }
                    if expanded == nil {
                        offsets.append(at)
                    } else {
                        offsets.append(expanded!.count)
                        for i in at..<(at + size) { expanded!.append(reply[i]) }
                    }
                    at += size
                }
            }
            next += length
        }
        guard at == reply.count, !offsets.isEmpty else { return nil }
        let inOrder = places.isEmpty ? offsets : places.map { offsets[$0] }
        return (expanded.map(PackedIntegers.init) ?? reply, inOrder)
    }

    /// Writes the short-form answers of the run whose group form is at `at`, each as the
    /// straight path would have given it (`LimitScripts.admitLua`: the same IEEE double
    /// arithmetic in the same order); the integers the group form took, or nil when malformed.
    private func writeRun(plan: LimitPlan, reply: PackedIntegers, at: Int, reserves: ArraySlice<Int64>,
                          into out: inout [Int64], offsets: inout [Int]) -> Int? {
        // Per limit: where its counts are in the group form, and a window's weight of the previous count.
        var fields: [(at: Int, weight: Double)] = []
        fields.reserveCapacity(plan.limits.count)
        var field = at + 2
        for limit in plan.limits {
            switch limit.kind {
            case .concurrency:
                fields.append((field, 0))
                field += 1
            case .requests, .tokens:
                let left = SlidingWindow(limit: limit.limit, windowMicros: limit.parameter).position(now: reply[0]).left
                fields.append((field, Double(left) / Double(limit.parameter)))
                field += 2
            default: return nil
            }
        }
        guard field <= reply.count else { return nil }
        var before: Int64 = 0  // the run's reservations before this request
        for (i, reserve) in reserves.enumerated() {
            offsets.append(out.count)
            out.append(0)
            for (limit, counts) in zip(plan.limits, fields) {
                if limit.kind == .concurrency {
                    out.append(limit.limit - 1 - (reply[counts.at] + Int64(i)))
                    continue
                }
                let tokens = limit.kind == .tokens
                let current = Double(reply[counts.at] + (tokens ? before : Int64(i)))
                let used = Double(reply[counts.at + 1]) * counts.weight + current + Double(tokens ? reserve : 1)
                out.append(Int64(Double(limit.limit) - used))
            }
            before += reserve
        }
        return field - at
    }
}
