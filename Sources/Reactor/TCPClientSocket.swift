import CLinux
import Glibc

/// A resolved IPv4 or IPv6 socket address (the raw `sockaddr` bytes), cheap to copy and Sendable.
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    let bytes: [UInt8]
    public let family: Int32

    /// A literal address (`127.0.0.1`, `::1`); nil for a name that needs resolving.
    public init?(numericHost host: String, port: Int) {
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
            self.init(copying: &v4, family: AF_INET)
            return
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
            self.init(copying: &v6, family: AF_INET6)
            return
        }
        return nil
    }

    private init<T>(copying value: inout T, family: Int32) {
        bytes = withUnsafeBytes(of: &value) { Array($0) }
        self.family = family
    }

    private init(raw: UnsafeRawBufferPointer, family: Int32) {
        bytes = Array(raw)
        self.family = family
    }

    /// Resolves `host` with `getaddrinfo` (TCP addresses, in the resolver's preferred order).
    /// Blocks: call it off the reactor (see the upstream client's resolver) or for literals only.
    public static func resolve(host: String, port: Int) throws(SystemError) -> [SocketAddress] {
        if let literal = SocketAddress(numericHost: host, port: port) { return [literal] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let list else {
            // getaddrinfo reports through its own codes; EAI_SYSTEM means errno has the reason.
            throw SystemError("getaddrinfo(\(host)): \(String(cString: gai_strerror(rc)))", errno: rc == EAI_SYSTEM ? errno : 0)
        }
        defer { freeaddrinfo(list) }
        var out: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = list
        while let entry = cursor {
            let info = entry.pointee
            if let address = info.ai_addr, info.ai_family == AF_INET || info.ai_family == AF_INET6 {
                let made = SocketAddress(raw: UnsafeRawBufferPointer(start: address, count: Int(info.ai_addrlen)), family: info.ai_family)
                if !out.contains(made) { out.append(made) }
            }
            cursor = info.ai_next
        }
        return out
    }

    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let port: UInt16 = bytes.withUnsafeBytes { raw in
            if family == AF_INET6 {
                var v6 = raw.loadUnaligned(as: sockaddr_in6.self)
                inet_ntop(AF_INET6, &v6.sin6_addr, &text, socklen_t(text.count))
                return UInt16(bigEndian: v6.sin6_port)
            }
            var v4 = raw.loadUnaligned(as: sockaddr_in.self)
            inet_ntop(AF_INET, &v4.sin_addr, &text, socklen_t(text.count))
            return UInt16(bigEndian: v4.sin_port)
        }
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Non-blocking outgoing TCP sockets for clients on a reactor (the native HTTP/1.1 upstream client).
public enum TCPClientSocket {
    /// Creates a non-blocking, close-on-exec socket with `TCP_NODELAY` and starts connecting.
    /// `connected` is false while the connect is in progress: wait for writability, then read
    /// `pendingError`. Throws (having closed the socket) when the connect fails at once.
    public static func connect(to address: SocketAddress) throws(SystemError) -> (fd: Int32, connected: Bool) {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = try retryingEINTR("socket") { socket(address.family, type, 0) }
        _ = sy_set_nodelay(fd)
        let rc = address.bytes.withUnsafeBytes { raw in
            Glibc.connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        if rc == 0 { return (fd, true) }
        let e = errno
        // EINTR leaves the connect running in the background, like EINPROGRESS.
        if e == EINPROGRESS || e == EINTR { return (fd, false) }
        FileDescriptor.close(fd)
        throw SystemError("connect(\(address))", errno: e)
    }

    /// The outcome of a connect that was in progress: 0 when connected, else its errno.
    public static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return errno }
        return value
    }

    /// True when an idle connection can carry a request: nothing to read, no EOF, no error.
    /// One non-blocking `MSG_PEEK` of a byte; unsolicited bytes also make it unusable.
    public static func isIdleAndOpen(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        while true {
            let n = recv(fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
            if n < 0 && errno == EINTR { continue }
            return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
        }
    }
}
