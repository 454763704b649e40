import CLinux
import Glibc
import HTTPTypes
import Reactor

/// One client connection: reads, parses (strictly), dispatches one request at a time as a task
/// on the reactor, and writes responses in order — so pipelined requests are answered in order.
/// Reactor-thread confined (`@unchecked Sendable` for the tasks that run on that same reactor).
final class HTTPConnection: ReactorIOHandler, @unchecked Sendable {
    enum State {
        case awaitingHead
        case readingBody
        case handling
        case closed
    }

    let fd: Int32
    /// Strong, not `unowned`: an unowned reference costs a check-and-retain on every use (a dozen
    /// per request). The cycle (the worker keeps its open connections) ends when the connection
    /// closes and the worker lets go of it.
    let server: HTTPServerWorker
    var reactor: Reactor { server.reactor }
    var state = State.awaitingHead
    var parser: HTTPRequestParser

    var input: [UInt8] = []
    var inputStart = 0
    /// Where in `input` the request being parsed began; -1 once its first bytes were dropped
    /// (then it cannot go into the replay table).
    var requestStart = -1
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var headStartedAt: UInt64 = 0

    var output: [UInt8] = []
    var outputStart = 0
    var writeInterest = false
    /// A `flush` is queued for the end of this reactor turn (`flushSoon`).
    var flushScheduled = false
    var readPaused = false
    var writeWaiter: CheckedContinuation<Bool, Never>?
    var resumeParsingAfterFlush = false
    var closeAfterFlush = false
    var keepAlive = true
    var draining = false
    /// A response is being produced or written (from dispatch until `finishResponse`).
    var responding = false
    /// Serves this connection's requests one after another: started by the first request and
    /// parked between requests, so a request costs a continuation resume instead of creating,
    /// enqueueing and destroying a task with its executor preference record.
    private var serving: Task<Void, Never>?
    /// What the serving task's upstream waits register with, so closing cancels them without a
    /// cancellation handler per wait (`CancellationScope`). Made with the first serving task.
    private var cancellation: CancellationScope?
    /// The serving task, parked until the next request (nil when the connection closes).
    private var requestWaiter: UnsafeContinuation<ServerRequest?, Never>?
    /// A request dispatched while the serving task was still finishing the previous response.
    private var pendingRequest: ServerRequest?
    /// Writes the answer to a request the parser refused.
    private var errorTask: Task<Void, Never>?
    var currentStream: (any ServerStream)?

    /// When the current phase times out (monotonic ns from the reactor's turn time, 0 = never).
    /// Checked by the server's periodic sweep, so a request costs two stores here instead of four
    /// timer-heap moves, and reads no clock.
    private var deadline: UInt64 = 0
    var timerKind = TimerKind.idle
    enum TimerKind { case idle, header, body }

    /// Stop reading from a client that pipelines faster than we answer past this much input.
    static let maxBufferedInput = 1 << 20

    /// The client's address, read once per connection when its first request is dispatched.
    private lazy var peerHost: String? = {
        var buffer = [CChar](repeating: 0, count: 64)
        guard sy_peer_host(fd, &buffer, Int32(buffer.count)) == 0 else { return nil }
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    init(fd: Int32, server: HTTPServerWorker) throws(SystemError) {
        self.fd = fd
        self.server = server
        self.parser = HTTPRequestParser(limits: server.configuration.limits)
        try server.reactor.register(fd, events: Reactor.readable | Reactor.hangup, handler: self)
        armTimer(.idle)
    }

    func reactorEvent(_ events: UInt32) {
        if events & Reactor.writable != 0 { flush() }
        guard state != .closed else { return }
        if events & (Reactor.readable | Reactor.hangup) != 0 { readAvailable() }
    }

    // MARK: Reading

    /// Reads into the worker's read buffer. Bytes that arrive between requests are first offered
    /// to the replay table right there (no copy for a byte-exact repeat); the rest is appended to
    /// `input` for the parser.
    private func readAvailable() {
        var peerClosed = false
        var repeatsAnswered = false
        let buffer = server.readBuffer
        while state != .closed && input.count - inputStart < Self.maxBufferedInput {
            let n: Int
            do {
                guard case .processed(let count) = try FileDescriptor.read(fd, into: buffer) else { break }  // wouldBlock
                n = count
            } catch {
                peerClosed = true
                break
            }
            if n == 0 { peerClosed = true; break }
            var start = 0
            if inputStart == input.count && state == .awaitingHead && !parser.isMidRequest && !server.replays.isEmpty {
                while start < n && state == .awaitingHead,
                      let length = answerRepeat(UnsafeRawBufferPointer(rebasing: buffer[start..<n])) {
                    start += length
                    repeatsAnswered = true
                }
            }
            if start < n { input.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start..<n])) }
            if n < buffer.count { break }
        }
        if repeatsAnswered { repeatsWritten() }
        if input.count - inputStart >= Self.maxBufferedInput { readPaused = true; updateInterest() }
        if peerClosed {
            // A client that goes away mid-request cancels the upstream work.
            if state == .handling || inputStart == input.count { close(); return }
        }
        if state == .awaitingHead || state == .readingBody { processInput() }
        if peerClosed && state != .closed { close() }
    }

    /// Parses buffered input until a request is complete (then dispatches it) or more bytes are needed.
    func processInput() {
        var repeatsAnswered = false
        while state == .awaitingHead || state == .readingBody {
            // A head without a body ends with no bytes left: the parser still owes `.end`.
            if inputStart == input.count && state == .awaitingHead { break }
            if state == .awaitingHead && !parser.isMidRequest {
                requestStart = inputStart
                if !server.replays.isEmpty, let length = input.withUnsafeBytes({ raw in
                    answerRepeat(UnsafeRawBufferPointer(rebasing: raw[inputStart...]))
                }) {
                    inputStart += length
                    repeatsAnswered = true
                    continue
                }
            }
            if state == .awaitingHead && timerKind == .idle { armTimer(.header) }
            let outcome = parseStep()
            guard case .success(let step) = outcome else {
                if case .failure(let error) = outcome { respondToBadRequest(status: error.status, reason: error.reason) }
                return
            }
            inputStart += step.consumed
            guard let event = step.event else {
                if step.consumed == 0 { break }
                continue
            }
            switch event {
            case .head(let parsed):
                head = parsed
                headStartedAt = monotonicNanos()
                state = .readingBody
                armTimer(.body)
                if parsed.expectContinue && inputStart == input.count {
                    enqueueOutput(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                    flush()
                }
            case .body:
                continue
            case .end:
                dispatch()
            }
        }
        if repeatsAnswered { repeatsWritten() }
        compactInput()
    }

    /// One parser step over the unconsumed input; body bytes are copied out before the caller
    /// advances past them.
    private func parseStep() -> Result<(event: HTTPParserEvent?, consumed: Int), HTTPParseError> {
        input.withUnsafeBytes { raw in
            let slice = UnsafeRawBufferPointer(rebasing: raw[inputStart...])
            do throws(HTTPParseError) {
                let step = try parser.parse(slice)
                if case .body(let range) = step.event { body.append(contentsOf: slice[range]) }
                return .success(step)
            } catch {
                return .failure(error)
            }
        }
    }

    private func compactInput() {
        if inputStart == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 262_144)
            inputStart = 0
            requestStart = -1
        } else if inputStart > 65_536 {
            input.removeFirst(inputStart)
            inputStart = 0
            requestStart = -1
        }
        if readPaused && input.count - inputStart < Self.maxBufferedInput / 2 {
            readPaused = false
            updateInterest()
        }
    }

    private func dispatch() {
        guard let head = head.take() else { return }  // moved out, not copied and released
        state = .handling
        disarmTimer()
        keepAlive = head.keepAlive && !draining
        var body: [UInt8] = []
        swap(&body, &self.body)
        let request = ServerRequest(head: head, body: body, receivedAt: headStartedAt, peerHost: peerHost)
        responding = true
        if let response = server.handler.immediateResponse(to: request), case .bytes(let bytes) = response.body {
            // Written now; the caller's parse loop goes on with the next request (no recursion
            // through `responseFinished`, however many requests are pipelined).
            let written = writeComplete(response, bytes)
            if response.repeatableForSeconds > 0, let written, keepAlive, !head.expectContinue {
                rememberRepeatable(written, for: response.repeatableForSeconds)
            }
            finishResponse()
            return
        }
        if let waiter = requestWaiter {
            requestWaiter = nil
            server.parkedServingTasks -= 1
            waiter.resume(returning: request)
        } else if serving == nil {
            let scope = cancellation ?? CancellationScope(reactor: reactor)
            cancellation = scope
            serving = Task(executorPreference: reactor) {
                await CancellationScope.$current.withValue(scope) { await self.serve(request) }
            }
        } else {
            pendingRequest = request  // the serving task takes it once its response is written
        }
    }

    /// The serving task's loop. The handler is read per request: the server may swap it.
    /// Every `await` here costs a hop check against the task's executor preference (a lock in
    /// the runtime), so a complete body is written without one and the wait is inline.
    private func serve(_ first: ServerRequest) async {
        var request = first
        while true {
            let response = await server.handler.handle(request)
            if case .bytes(let bytes) = response.body {
                write(response, bytes)
            } else {
                await write(response)
            }
            if let pending = pendingRequest {
                // Dispatched while the response was written.
                pendingRequest = nil
                request = pending
                continue
            }
            guard state != .closed else { return }
            // A parked task keeps the allocator slabs its request used (about 20 KB): past a
            // bound per worker, an idle connection's task ends and its next request starts one.
            guard server.parkedServingTasks < HTTPServerWorker.maxParkedServingTasks else {
                serving = nil
                return
            }
            server.parkedServingTasks += 1
            // Unsafe rather than checked: a checked continuation allocates per wait; `dispatch`
            // and `close` are the two places it is resumed, each after clearing `requestWaiter`
            // and counting it out of `parkedServingTasks`.
            guard let next = await withUnsafeContinuation({ requestWaiter = $0 }) else { return }
            request = next
        }
    }

    /// Called after a task's response was handed to the socket: next request or close.
    func responseFinished() {
        guard state == .handling else { return }
        finishResponse()
        if state == .awaitingHead { processInput() }
    }

    /// Back to reading the next request, or closing (after `Connection: close`, once flushed:
    /// nothing pipelined after such a request is parsed).
    func finishResponse() {
        responding = false
        currentStream = nil
        guard state == .handling else { return }
        if !keepAlive {
            closeAfterFlush = true  // stays `.handling`: nothing after this request is parsed
            if pendingOutput == 0 { close() } else { armTimer(.idle) }
            return
        }
        state = .awaitingHead
        armTimer(.idle)
        if pendingOutput > Self.maxBufferedInput {
            state = .handling  // the client is not reading its answers: parse again once drained
            resumeParsingAfterFlush = true
        }
    }

    private func respondToBadRequest(status: Int, reason: String) {
        state = .handling
        keepAlive = false
        disarmTimer()
        let response = server.configuration.errorResponse(status, reason)
        responding = true
        errorTask = Task(executorPreference: reactor) { await self.write(response) }
    }

    // MARK: Timers and closing

    func armTimer(_ kind: TimerKind) {
        timerKind = kind
        let configuration = server.configuration
        let after: UInt64 = switch kind {
        case .idle: configuration.idleTimeout
        case .header: configuration.headerTimeout
        case .body: configuration.bodyTimeout
        }
        deadline = reactor.turnTime &+ after
    }

    private func disarmTimer() {
        deadline = 0
    }

    /// Called by the server's sweep.
    func checkDeadline(_ now: UInt64) {
        guard deadline != 0, now >= deadline else { return }
        deadline = 0
        timedOut()
    }

    private func timedOut() {
        switch state {
        case .awaitingHead where inputStart == input.count && timerKind == .idle:
            close()
        case .awaitingHead, .readingBody:
            respondToBadRequest(status: 408, reason: "the request took too long to arrive")
        case .handling where !responding:
            close()  // a finished answer the client has not read within the idle timeout
        case .handling, .closed:
            break
        }
    }

    /// Drain: idle connections close now, busy ones after their current response.
    func beginDrain() {
        draining = true
        keepAlive = false
        if state == .awaitingHead && inputStart == input.count && pendingOutput == 0 { close() }
    }

    /// Sends what is buffered, then closes with SO_LINGER 0 so the peer sees a reset.
    func resetAndClose() {
        flush()
        guard state != .closed else { return }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    /// Closes the socket now; a request in flight is cancelled (and with it its upstream transfer).
    func close() {
        guard state != .closed else { return }
        state = .closed
        disarmTimer()
        reactor.deregister(fd)
        FileDescriptor.close(fd)
        currentStream?.cancel()
        currentStream = nil
        cancellation?.cancel()
        serving?.cancel()
        serving = nil
        errorTask?.cancel()
        errorTask = nil
        pendingRequest = nil
        if let waiter = requestWaiter {
            requestWaiter = nil
            server.parkedServingTasks -= 1
            waiter.resume(returning: nil)
        }
        if let waiter = writeWaiter {
            writeWaiter = nil
            waiter.resume(returning: false)
        }
        server.connectionClosed(self)
    }
}
