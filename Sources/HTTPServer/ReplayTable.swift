import Glibc

/// Answers byte-exact repeats of requests the strict parser already accepted, without parsing
/// them again: a small per-worker table from a request's framed bytes (request line, field
/// lines, body framing and body, exactly as received) to the bytes of the response written for
/// it. A request that is not a byte-exact repeat, or arrives split so that its bytes are not all
/// buffered yet, goes through the parser as always, so the parser's refusals still hold.
///
/// Parsing the same bytes from the parser's initial state always gives the same head, body and
/// framing, so a repeat needs no new validation; whether the *answer* may be repeated is the
/// handler's call (`ServerResponse.repeatableForSeconds`, mock-llm's deterministic replies).
/// Only keep-alive answers without `Expect: 100-continue` are kept; the `date` header is
/// rewritten in place when the second changes. Reactor-thread confined, like its server.
final class ReplayTable {
    struct Entry {
        /// The request's exact bytes.
        var request: [UInt8]
        /// The request's last eight bytes (bodies usually differ there): a cheap first reject.
        var tail: UInt64
        /// Status line, headers and body, as written for the first request.
        var response: [UInt8]
        /// Where the 29-byte `date` value sits in `response`.
        var dateOffset: Int
        /// The wall-clock second `response`'s date shows.
        var dateSecond: Int
        /// The first wall-clock second at which the answer may no longer be repeated.
        var expiresAtSecond: Int
    }

    static let capacity = 16
    /// Requests shorter than the tail word are not worth a fast path; longer ones than this are
    /// not worth keeping (a table of 16 stays under about 1 MB).
    static let minRequestBytes = 8
    static let maxRequestBytes = 8192
    static let maxResponseBytes = 65_536

    private(set) var entries: [Entry] = []
    /// The slot replaced next once the table is full (round robin).
    private var nextVictim = 0
    /// Repeats answered from the table (tests and diagnostics).
    private(set) var hits = 0

    var isEmpty: Bool { entries.isEmpty }

    /// The entry whose request bytes start `input`, if any. Reads no byte past `input`.
    @inline(__always)
    func match(_ input: UnsafeRawBufferPointer) -> Int? {
        guard let base = input.baseAddress else { return nil }
        for index in entries.indices {
            let count = entries[index].request.count
            guard count <= input.count,
                  base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == entries[index].tail
            else { continue }
            let equal = entries[index].request.withUnsafeBytes { memcmp($0.baseAddress!, base, count) == 0 }
            if equal { return index }
        }
        return nil
    }

    /// The response bytes for a repeat of entry `index`'s request with the date of `second`
    /// (`date`, 29 bytes), or nil when the answer has expired (the entry is then dropped).
    func response(at index: Int, second: Int, date: [UInt8]) -> [UInt8]? {
        guard second < entries[index].expiresAtSecond else {
            entries.remove(at: index)
            nextVictim = 0
            return nil
        }
        if entries[index].dateSecond != second {
            let offset = entries[index].dateOffset
            entries[index].response.replaceSubrange(offset..<offset + date.count, with: date)
            entries[index].dateSecond = second
        }
        hits &+= 1
        return entries[index].response
    }

    /// Keeps `request` → `response` for up to `seconds`, if both are small enough. `dateOffset`
    /// is where the `date` value of `second` (29 bytes) starts in `response`.
    func insert(request: UnsafeRawBufferPointer, response: [UInt8], dateOffset: Int, second: Int, seconds: Int) {
        guard request.count >= Self.minRequestBytes, request.count <= Self.maxRequestBytes,
              response.count <= Self.maxResponseBytes, dateOffset >= 0, seconds > 0
        else { return }
        let entry = Entry(
            request: Array(request), tail: request.loadUnaligned(fromByteOffset: request.count - 8, as: UInt64.self),
            response: response, dateOffset: dateOffset, dateSecond: second,
            expiresAtSecond: second.addingReportingOverflow(seconds).overflow ? Int.max : second + seconds)
        if let existing = match(request), entries[existing].request.count == request.count {
            entries[existing] = entry
        } else if entries.count < Self.capacity {
            entries.append(entry)
        } else {
            entries[nextVictim] = entry
            nextVictim = (nextVictim + 1) % Self.capacity
        }
    }

    /// Forgets every entry (the handler or the parser's limits changed).
    func removeAll() {
        entries.removeAll()
        nextVictim = 0
    }
}
