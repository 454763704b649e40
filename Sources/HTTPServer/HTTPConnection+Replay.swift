/// The connection's side of the worker's `ReplayTable`: byte-exact repeats of accepted requests
/// are answered from the parse loop without the parser, the handler or a response head.
extension HTTPConnection {
    /// Answers the request at the start of `bytes` if they begin with a byte-exact repeat held
    /// by the replay table, returning its length; nil otherwise (then the parser reads them).
    /// Called only between requests (`.awaitingHead`, parser at rest). The answer is queued, not
    /// sent: `repeatsWritten` sends everything answered in one pass at once.
    func answerRepeat(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !draining else { return nil }  // a draining server answers with `connection: close`
        let replays = server.replays
        guard let index = replays.match(bytes) else { return nil }
        let length = replays.entries[index].request.count
        let dates = server.dateCache
        let date = dates.current()
        guard let response = replays.response(at: index, second: dates.second, date: date) else { return nil }
        requestStart = -1
        keepAlive = true
        enqueueOutput(response)
        if pendingOutput > Self.maxBufferedInput {
            state = .handling  // the client is not reading its answers: parse again once drained
            resumeParsingAfterFlush = true
        }
        return length
    }

    /// After a parse pass that answered repeats: restart the idle deadline (unless a partial
    /// request after them runs the header deadline now) and send.
    func repeatsWritten() {
        if state == .awaitingHead && timerKind == .idle { armTimer(.idle) }
        flush()
    }

    /// Keeps the answer just written for the request that ends at `inputStart`, so its byte-exact
    /// repeats are answered from the table for up to `seconds`.
    func rememberRepeatable(_ written: (bytes: [UInt8], dateOffset: Int), for seconds: Int) {
        guard requestStart >= 0, requestStart < inputStart else { return }
        let second = server.dateCache.second
        input.withUnsafeBytes { raw in
            server.replays.insert(
                request: UnsafeRawBufferPointer(rebasing: raw[requestStart..<inputStart]), response: written.bytes,
                dateOffset: written.dateOffset, second: second, seconds: seconds)
        }
    }
}
