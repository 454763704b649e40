import HTTPTypes
import Reactor

/// Response serialisation and flushing. Streams are relayed chunk by chunk: the next chunk is
/// pulled only once the socket has taken the previous ones (below `highWater`), so a slow
/// client pauses its upstream transfer instead of growing a buffer.
extension HTTPConnection {
    static let highWater = 256 * 1024

    var pendingOutput: Int { output.count - outputStart }

    /// Writes a complete response (head and body in one buffer, one send); no suspension.
    /// With nothing queued before it, the response is serialised into the worker's scratch
    /// buffer (capacity kept from one response to the next) and sent from there: only what the
    /// socket does not take at once is copied into the connection's own output.
    func write(_ response: ServerResponse, _ bytes: [UInt8]) {
        guard state != .closed else { return }
        let size = serializedSize(response, contentLength: bytes.count, body: bytes)
        let scratch = server.writeScratch
        if pendingOutput == 0 && size <= scratch.count {
            let count = ByteWriter.write(into: scratch) { out in
                _ = writeHead(response, contentLength: bytes.count, body: bytes, to: &out)
            }
            sendNow(UnsafeBufferPointer(rebasing: scratch[..<count]))
        } else {
            writeComplete(response, bytes)
        }
        guard state != .closed else { return }
        responseFinished()
    }

    /// Sends `bytes` with nothing queued before them; keeps a copy of what the socket left and
    /// waits for it to take more.
    private func sendNow(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let sent = send(UnsafeRawBufferPointer(bytes)), sent < bytes.count else { return }
        output = Array(bytes[sent...])
        outputStart = 0
        setWriteInterest(true)
    }

    /// Sends what the socket takes now of `bytes`: how many it took, or nil when the send
    /// failed (the connection is closed then).
    private func send(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var sent = 0
        while sent < bytes.count {
            let result: IOResult
            do {
                result = try FileDescriptor.send(fd, UnsafeRawBufferPointer(rebasing: bytes[sent...]))
            } catch {
                close()
                return nil
            }
            guard case .processed(let n) = result else { break }
            sent += n
        }
        return sent
    }

    /// Head and body of a complete response, handed to the socket. Returns the bytes written
    /// and where their `date` value starts (nil on a closed connection).
    @discardableResult
    func writeComplete(_ response: ServerResponse, _ bytes: [UInt8]) -> (bytes: [UInt8], dateOffset: Int)? {
        guard state != .closed else { return nil }
        var dateOffset = 0
        let out = serialize(response, contentLength: bytes.count, body: bytes, dateOffset: &dateOffset)
        enqueueOutput(out)
        flush()
        return (out, dateOffset)
    }

    func write(_ response: ServerResponse) async {
        guard state != .closed else { return }
        switch response.body {
        case .bytes(let bytes):
            write(response, bytes)
            return
        case .stream(let stream):
            currentStream = stream
            var dateOffset = 0
            enqueueOutput(serialize(response, contentLength: nil, body: [], dateOffset: &dateOffset))
            flushSoon()  // with the chunks already at hand
            await relay(stream)
        }
        guard state != .closed else { return }
        responseFinished()
    }

    /// One chunk of a chunked body: size in hex, CRLF, the bytes, CRLF.
    static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        var framed: [UInt8] = []
        framed.reserveCapacity(bytes.count + 12)
        ResponseHead.appendHex(bytes.count, to: &framed)
        framed.appendUTF8("\r\n")
        framed.append(contentsOf: bytes)
        framed.appendUTF8("\r\n")
        return framed
    }

    /// Sends the output at the end of this reactor turn rather than now: stream chunks that are
    /// already at hand (an upstream read often brings many SSE events) then leave in one `send`
    /// instead of one each, as nginx's buffered relay does. The turn ends before the reactor
    /// waits for I/O again, so no chunk waits for anything but the chunks read with it.
    func flushSoon() {
        guard !flushScheduled else { return }
        flushScheduled = true
        reactor.runSoon { [self] in
            flushScheduled = false
            flush()
        }
    }

    private func relay(_ stream: any ServerStream) async {
        while state != .closed {
            let piece = await stream.next()
            guard state != .closed else { return }
            switch piece {
            case .chunk(let bytes):
                guard !bytes.isEmpty else { continue }
                enqueueOutput(Self.chunk(bytes))
                guard pendingOutput > Self.highWater else {
                    flushSoon()
                    continue
                }
                flush()
                if pendingOutput > Self.highWater {
                    let stillOpen = await withCheckedContinuation { continuation in
                        // Socket events may run between the check above and parking here.
                        if state == .closed { continuation.resume(returning: false); return }
                        if pendingOutput <= Self.highWater / 2 { continuation.resume(returning: true); return }
                        writeWaiter = continuation
                    }
                    if !stillOpen { return }
                }
            case .end:
                enqueueOutput(Array("0\r\n\r\n".utf8))
                flush()
                return
            case .reset:
                resetAndClose()
                return
            case .fail(let finalChunk):
                var framed = finalChunk.isEmpty ? [] : Self.chunk(finalChunk)
                framed.appendUTF8("0\r\n\r\n")
                // The body still ends with a proper last-chunk, so the connection stays usable:
                // closing it would break a pooled client's next, unrelated request.
                enqueueOutput(framed)
                flush()
                return
            }
        }
    }

    /// The status line, headers and `body`, in one allocation of the exact size. `dateOffset`
    /// is set to where the `date` value starts.
    private func serialize(
        _ response: ServerResponse, contentLength: Int?, body: [UInt8], dateOffset: inout Int
    ) -> [UInt8] {
        var offset = 0
        let out = [UInt8](capacity: serializedSize(response, contentLength: contentLength, body: body)) { out in
            offset = writeHead(response, contentLength: contentLength, body: body, to: &out)
        }
        dateOffset = offset
        return out
    }

    /// An upper bound of what `writeHead` writes.
    private func serializedSize(_ response: ServerResponse, contentLength: Int?, body: [UInt8]) -> Int {
        // "HTTP/1.1 " status SP reason CRLF, the fields, "date: " value, the framing line,
        // "connection: close", the empty line.
        var size = 9 + 20 + 1 + ResponseHead.reason(response.status).utf8.count + 2 + response.serializedHeaders.count
            + 6 + DateCache.valueLength
        for field in response.headers where !Self.isFramingField(field.name) {
            size += field.name.rawName.utf8.count + field.value.utf8.count + 4
        }
        return size + (contentLength == nil ? 28 : 18 + 20) + (keepAlive ? 0 : 19) + 4 + body.count
    }

    /// Writes the status line, headers and `body`; returns where the `date` value starts.
    private func writeHead(_ response: ServerResponse, contentLength: Int?, body: [UInt8], to out: inout ByteWriter) -> Int {
        out.write("HTTP/1.1 ")
        out.writeDecimal(response.status)
        out.write(0x20)
        out.write(ResponseHead.reason(response.status))
        out.write("\r\n")
        for field in response.headers where !Self.isFramingField(field.name) {
            out.write(field.name.rawName)
            out.write(": ")
            out.write(field.value)
            out.write("\r\n")
        }
        out.write(response.serializedHeaders)
        out.write("date: ")
        let dateOffset = out.count
        out.write(server.dateCache.current())
        if let contentLength {
            out.write("\r\ncontent-length: ")
            out.writeDecimal(contentLength)
        } else {
            out.write("\r\ntransfer-encoding: chunked")
        }
        if !keepAlive { out.write("\r\nconnection: close") }
        out.write("\r\n\r\n")
        out.write(body)
        return dateOffset
    }

    /// Content-Length, Transfer-Encoding and Connection are the writer's own. Their lengths
    /// (14, 17, 10) rule out most names without a string comparison.
    @inline(__always)
    static func isFramingField(_ name: HTTPField.Name) -> Bool {
        switch name.canonicalName.utf8.count {
        case 14: name == .contentLength
        case 17: name == .transferEncoding
        case 10: name == .connection
        default: false
        }
    }

    func enqueueOutput(_ bytes: [UInt8]) {
        if output.isEmpty {
            output = bytes
            outputStart = 0
        } else {
            output.append(contentsOf: bytes)
        }
    }

    /// Writes what the socket takes now; arms write interest for the rest.
    func flush() {
        guard state != .closed else { return }
        if outputStart < output.count {
            guard let sent = output.withUnsafeBytes({ send(UnsafeRawBufferPointer(rebasing: $0[outputStart...])) }) else { return }
            outputStart += sent
        }
        if outputStart == output.count {
            // Not `removeAll(keepingCapacity:)`: the writer usually still holds the buffer it
            // handed over, so keeping capacity would copy-allocate, and the next `enqueueOutput`
            // adopts its caller's buffer anyway.
            output = []
            outputStart = 0
            setWriteInterest(false)
            if closeAfterFlush { close(); return }
        } else {
            setWriteInterest(true)
        }
        if pendingOutput <= Self.highWater / 2, let waiter = writeWaiter {
            writeWaiter = nil
            waiter.resume(returning: true)
        }
        if resumeParsingAfterFlush && pendingOutput <= Self.highWater / 2 && state == .handling && !responding {
            resumeParsingAfterFlush = false
            state = .awaitingHead
            processInput()
        }
    }

    private func setWriteInterest(_ on: Bool) {
        guard on != writeInterest else { return }
        writeInterest = on
        updateInterest()
    }

    func updateInterest() {
        guard state != .closed else { return }
        let events = (readPaused ? 0 : Reactor.readable | Reactor.hangup) | (writeInterest ? Reactor.writable : 0)
        try? reactor.modify(fd, events: events)
    }
}
