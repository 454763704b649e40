import CLinux
import Glibc
import Reactor
import Synchronization
import TestSupport

/// A loopback upstream whose every connection runs a script on a thread of its own, with
/// blocking sockets: for the faults a real server never makes on purpose (closing an idle
/// keep-alive connection, resetting after reading a request, stopping mid-body). Scripts
/// synchronise with the test through semaphores, never sleeps.
final class ScriptedUpstream: @unchecked Sendable {
    /// One accepted connection, as the script sees it.
    final class Connection: @unchecked Sendable {
        let fd: Int32
        let index: Int
        private let log: RequestLog
        private var buffer: [UInt8] = []

        init(fd: Int32, index: Int, log: RequestLog) {
            self.fd = fd
            self.index = index
            self.log = log
            var tv = timeval(tv_sec: 10, tv_usec: 0)  // a broken client fails the test, never hangs it
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }

        /// Reads one request (head and Content-Length body) and logs its request line; nil when
        /// the client closed first.
        func readRequest() -> [UInt8]? {
            while true {
                if let headEnd = Self.find(Array("\r\n\r\n".utf8), in: buffer) {
                    let head = String(decoding: buffer[..<headEnd], as: UTF8.self).lowercased()
                    var length = 0
                    if let range = head.range(of: "content-length: ") {
                        length = Int(head[range.upperBound...].prefix { $0.isNumber }) ?? 0
                    }
                    let total = headEnd + 4 + length
                    if buffer.count >= total {
                        let request = Array(buffer[..<total])
                        buffer.removeFirst(total)
                        log.record(request)
                        return request
                    }
                }
                var chunk = [UInt8](repeating: 0, count: 65_536)
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { return nil }
                buffer.append(contentsOf: chunk[..<n])
            }
        }

        func write(_ text: String) {
            let bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { sy_send_nosignal(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n <= 0 { return }
                offset += n
            }
        }

        /// An answer with Content-Length that keeps the connection open.
        func respond(_ body: String = "ok") {
            write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        }

        /// Closes with a FIN.
        func close() { Glibc.close(fd) }

        /// Closes with SO_LINGER 0: the peer sees a reset.
        func reset() {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            Glibc.close(fd)
        }

        private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
            guard haystack.count >= needle.count else { return nil }
            for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            return nil
        }
    }

    let port: Int
    private let listenFD: Int32
    private let acceptThread: pthread_t?
    /// Threads and counts the accept thread updates.
    private final class Accepted: Sendable {
        let threads = Mutex<[pthread_t]>([])
        let count = Mutex(0)
    }

    private let accepted = Accepted()
    /// The request lines every script read, in order.
    final class RequestLog: Sendable {
        private let lines = Mutex<[String]>([])

        func record(_ request: [UInt8]) {
            let line = String(decoding: request.prefix { $0 != 0x0D }, as: UTF8.self)
            lines.withLock { $0.append(line) }
        }

        var all: [String] { lines.withLock { $0 } }
    }

    let log = RequestLog()

    /// `script` runs once per accepted connection, on its own thread, with the connection's index.
    init(_ script: @escaping @Sendable (Connection) -> Void) throws {
        let fd = try Listener.bind(host: "127.0.0.1", port: 0, reusePort: false)
        // Blocking accept on the listener's thread; `stop` shuts the socket down to end it.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        listenFD = fd
        port = Listener.boundPort(fd)
        let accepted = self.accepted
        let log = self.log
        acceptThread = spawnThread(name: "scripted-accept") {
            var index = 0
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { if errno == EINTR { continue } else { return } }
                let connection = Connection(fd: client, index: index, log: log)
                index += 1
                accepted.count.withLock { $0 = index }
                let thread = spawnThread(name: "scripted-conn") { script(connection) }
                accepted.threads.withLock { $0.append(thread) }
            }
        }
    }

    /// Request lines read so far, for "sent exactly once" checks.
    var requestLines: [String] { log.all }
    /// Connections accepted so far.
    var acceptedConnections: Int { accepted.count.withLock { $0 } }

    /// Stops accepting and waits for every script to return.
    func stop() {
        shutdown(listenFD, Int32(SHUT_RDWR))
        if let acceptThread { pthread_join(acceptThread, nil) }
        Glibc.close(listenFD)
        for thread in accepted.threads.withLock({ $0 }) { pthread_join(thread, nil) }
    }
}
