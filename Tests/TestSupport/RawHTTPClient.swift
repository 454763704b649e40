import CLinux
import Glibc

/// A blocking HTTP/1.1 client over a plain socket for tests: sends exact bytes (so malformed
/// requests can be written) and parses responses minimally. Reads time out after `timeout`
/// seconds so a broken server fails a test instead of hanging it.
public final class RawHTTPClient {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]
        public var bodyText: String { String(decoding: body, as: UTF8.self) }

        public func header(_ name: String) -> String? {
            headers.first { $0.0 == name.lowercased() }?.1
        }
    }

    public struct ClosedError: Error {}

    public let fd: Int32
    private var buffer: [UInt8] = []

    public init(port: Int, timeout: Int = 10) throws {
        fd = sy_connect_tcp("127.0.0.1", Int32(port))
        guard fd >= 0 else { throw ClosedError() }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    public func send(_ text: String) { send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { sy_send_nosignal(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// A POST with a JSON body and keep-alive.
    public func post(_ path: String, json: String, headers: [String] = []) {
        var text = "POST \(path) HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n"
        for header in headers { text += header + "\r\n" }
        send(text + "\r\n" + json)
    }

    public func get(_ path: String, headers: [String] = []) { request("GET", path, headers: headers) }

    /// A bodiless request with keep-alive (GET, DELETE, HEAD).
    public func request(_ method: String, _ path: String, headers: [String] = []) {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: test\r\n"
        for header in headers { text += header + "\r\n" }
        send(text + "\r\n")
    }

    /// Reads until the peer closes (or the timeout), returning everything received.
    public func readToEnd() -> [UInt8] {
        while fill() {}
        defer { buffer.removeAll() }
        return buffer
    }

    /// True when the server closed the connection (reads 0 or an error) before `timeout`.
    public func isClosedByPeer() -> Bool {
        while fill() {}
        return true
    }

    /// Reads one response (Content-Length or chunked body). `onChunk` sees each chunk of a chunked body.
    public func readResponse(onChunk: ([UInt8]) -> Void = { _ in }) throws -> Response {
        let headEnd = try waitFor { Self.find(Array("\r\n\r\n".utf8), in: $0) }
        let head = String(decoding: buffer[..<headEnd], as: UTF8.self)
        buffer.removeFirst(headEnd + 4)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw ClosedError() }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: " ")))
        }
        var response = Response(status: status, headers: headers, body: [])
        if status == 100 { return response }
        if let length = response.header("content-length").flatMap(Int.init) {
            _ = try waitFor { $0.count >= length ? length : nil }
            response.body = Array(buffer[..<length])
            buffer.removeFirst(length)
        } else if response.header("transfer-encoding") == "chunked" {
            while true {
                let lineEnd = try waitFor { Self.find(Array("\r\n".utf8), in: $0) }
                let size = Int(String(decoding: buffer[..<lineEnd], as: UTF8.self), radix: 16) ?? 0
                buffer.removeFirst(lineEnd + 2)
                _ = try waitFor { $0.count >= size + 2 ? size : nil }
                let chunk = Array(buffer[..<size])
                buffer.removeFirst(size + 2)
                if size == 0 { break }
                response.body.append(contentsOf: chunk)
                onChunk(chunk)
            }
        }
        return response
    }

    private func waitFor(_ check: ([UInt8]) -> Int?) throws -> Int {
        while true {
            if let found = check(buffer) { return found }
            guard fill() else { throw ClosedError() }
        }
    }

    /// Reads once; false on close, error or timeout.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        buffer.append(contentsOf: chunk[..<n])
        return true
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
