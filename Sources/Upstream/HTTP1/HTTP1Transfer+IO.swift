import Glibc
import Reactor

// The socket side of a native transfer: connect completion, writing the request, reading and
// parsing the response, and handing the connection back. Runs in reactor callbacks and in the
// task that starts the transfer; never blocks, never runs gateway code (it only records and
// resumes continuations).
//
// Retry rule (a POST must never reach the upstream twice): a request is sent again, once and on
// a fresh connection, only when it went out on a reused idle connection and the kernel refused
// its very first bytes (EPIPE/ECONNRESET: the peer had already reset). Once any byte of it was
// accepted, an EOF or reset before the answer is an error for the caller. Stale idle
// connections are caught before that by the pool (peer-close events while idle, and a probe at
// reuse), so this is the narrow remainder.

extension HTTP1Transfer {
    /// `connection` (new and connecting, or connected) is now this transfer's.
    func attach(_ connection: HTTP1Connection, reused: Bool) {
        guard !done else {
            pool.release(connection, reusable: reused)
            return
        }
        self.connection = connection
        connection.owner = self
        swap(&parser.memo, &connection.responseLines)  // given back in `finish`
        reusedConnection = reused
        sent = 0
        if connection.state == .connecting {
            armDeadline(connectDeadline)
            return
        }
        connectDeadline = 0
        sendRequest()
    }

    /// A connect (with its name lookup) starts now.
    func connectStarted() {
        connectDeadline = monotonicNanos() &+ request.timeouts.connect
        armDeadline(connectDeadline)
    }

    /// No connection could be made (lookup failed, every address refused).
    func connectFailed(_ message: String) {
        connection = nil
        fail(.connect(message))
    }

    /// Socket events of the leased (or connecting) connection.
    func connectionEvent(_ events: UInt32) {
        guard let connection, !done else { return }
        if connection.state == .connecting {
            let error = TCPClientSocket.pendingError(connection.fd)
            guard error == 0 else {
                self.connection = nil
                connection.owner = nil
                pool.connectFailed(connection, for: self, errno: error)
                return
            }
            guard events & Reactor.writable != 0 else { return }
            connection.state = .leased
            connectDeadline = 0
            sendRequest()
            return
        }
        if events & Reactor.writable != 0 && sent < request.bytes.count { sendRequest() }
        if !done && events & (Reactor.readable | Reactor.hangup) != 0 { readResponse() }
    }

    // MARK: Writing

    func sendRequest() {
        guard let connection else { return }
        let total = request.bytes.count
        while sent < total {
            let outcome = request.bytes.withUnsafeBytes { raw in
                Result { () throws(SystemError) in try FileDescriptor.send(connection.fd, UnsafeRawBufferPointer(rebasing: raw[sent...])) }
            }
            let result: IOResult
            switch outcome {
            case .success(let value): result = value
            case .failure(let error): return sendFailed(error)
            }
            guard case .processed(let n) = result else {
                connection.setInterest(Reactor.readable | Reactor.writable)
                return
            }
            sent += n
        }
        connection.setInterest(paused ? 0 : Reactor.readable)
    }

    private func sendFailed(_ error: SystemError) {
        let peerGone = error.errno == EPIPE || error.errno == ECONNRESET || error.errno == ENOTCONN
        if sent == 0 && reusedConnection && peerGone && !retried, let connection {
            retried = true
            self.connection = nil
            connection.owner = nil
            pool.reconnect(replacing: connection, for: self)
            return
        }
        fail(.io("sending the request to \(originPool.origin) failed: \(error)"))
    }

    // MARK: Reading

    /// Reads what the socket has, parses it, and stops when it would block, the response is
    /// complete, or a streaming consumer is behind (then the socket is not read until it pulls).
    func readResponse() {
        guard let connection else { return }
        let buffer = pool.readBuffer
        while !done {
            let carried = connection.unparsed.count
            if carried > 0 {
                connection.unparsed.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: carried) }
            }
            // At most `readSize` a read, whatever the buffer's room for a carried head: the
            // queue's bound (`maxQueued` plus one read) depends on it.
            let space = UnsafeMutableRawBufferPointer(rebasing: buffer[carried..<min(buffer.count, carried + HTTP1ConnectionPool.readSize)])
            let result: IOResult
            do throws(SystemError) {
                result = try FileDescriptor.read(connection.fd, into: space)
            } catch {
                fail(.io(parser.hasStarted ? "receiving the response failed: \(error)"
                                           : "the upstream reset the connection before answering (\(error))"))
                return
            }
            guard case .processed(let n) = result else { return }  // would block; unparsed kept
            guard n > 0 else { return peerClosed() }
            connection.unparsed.removeAll(keepingCapacity: true)
            let filled = carried + n
            let used = consume(UnsafeRawBufferPointer(rebasing: buffer[..<filled]))
            if done { return }
            if used < filled { connection.unparsed.append(contentsOf: buffer[used..<filled]) }
            if chunkMode && queued.count >= Self.maxQueued {
                paused = true
                connection.setInterest(0)
                return
            }
            if n < space.count { return }  // drained; level-triggered epoll reports what comes next
        }
    }

    /// Feeds response bytes to the parser; returns how many it used. Finishes or fails the
    /// transfer when the response ends or is malformed.
    private func consume(_ bytes: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while true {
            let step: (event: HTTP1ResponseParser.Event?, consumed: Int)
            do throws(HTTP1ParseError) {
                step = try parser.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            } catch {
                fail(.io("invalid response from \(originPool.origin): \(error.reason)"))
                return bytes.count
            }
            let base = offset
            offset += step.consumed
            guard let event = step.event else { return offset }
            switch event {
            case .head(let head):
                headArrived(head)
            case .body(let range):
                queued.append(contentsOf: bytes[(base + range.lowerBound)..<(base + range.upperBound)])
                if chunkMode { resume(&dataWaiter) }
            case .end:
                // Bytes after the end were never asked for: the connection is out of step.
                finish(reusable: keepAlive && offset == bytes.count && sent == request.bytes.count)
                return offset
            }
        }
    }

    private func headArrived(_ head: HTTP1ResponseHead) {
        status = head.status
        responseHeaders = head.headers
        keepAlive = head.keepAlive
        headComplete = true
        firstByteDeadline = 0
        chunkMode = request.streaming && (200..<300).contains(head.status)
        if !chunkMode, case .length(let length) = head.framing { queued.reserveCapacity(min(length, 1 << 22)) }
        resume(&headWaiter)
    }

    private func peerClosed() {
        if parser.peerClosed() {
            finish(reusable: false)  // a close-delimited body ends here
        } else if !parser.hasStarted {
            fail(.io("the upstream closed the connection before answering"))
        } else {
            fail(.io("the upstream closed the connection before the response was complete"))
        }
    }

    // MARK: Ending

    private func finish(reusable: Bool) {
        guard !done else { return }
        done = true
        endDeadlines()
        if let connection {
            self.connection = nil
            if reusable { swap(&parser.memo, &connection.responseLines) }
            pool.release(connection, reusable: reusable)
        }
        resume(&headWaiter)
        resume(&dataWaiter)
    }

    func fail(_ error: TransferError) {
        guard !done else { return }
        done = true
        failure = error
        endDeadlines()
        if let connection {
            self.connection = nil
            pool.release(connection, reusable: false)
        } else {
            pool.removeWaiter(self)
        }
        resume(&headWaiter)
        resume(&dataWaiter)
    }

    /// The transfer ended (or is dropped before its end): no deadline watches it any more.
    func endDeadlines() {
        pool.activeTransfers -= 1
        pool.startDeadlines.forget(self)
        if let deadlineSlot {
            pool.giveBack(deadlineSlot)
            self.deadlineSlot = nil
        }
    }

    /// A streaming consumer caught up: read the socket again.
    func resumeReading() {
        guard paused else { return }
        paused = false
        connection?.setInterest(Reactor.readable)
    }
}
