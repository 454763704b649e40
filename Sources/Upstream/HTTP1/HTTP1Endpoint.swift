import Reactor

/// Where native HTTP/1.1 connections go: one pool of connections per origin and worker.
public struct HTTP1Origin: Hashable, Sendable, CustomStringConvertible {
    /// A name or a literal address; an IPv6 literal without its brackets.
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The `Host` header value (the port is left out when it is 80, as clients do).
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? name : "\(name):\(port)"
    }
}

/// A provider base URL the native client can serve: `http://host[:port][/path]`, no user info,
/// query or fragment. Anything else (https, odd URLs) is curl's.
public struct HTTP1Endpoint: Sendable, Equatable {
    public let origin: HTTP1Origin
    /// The base URL's path without a trailing slash ("" or "/v1"); endpoint paths are appended.
    public let basePath: String

    public init?(baseURL: String) {
        let scheme = "http://"
        guard baseURL.utf8.count > scheme.utf8.count,
              baseURL.prefix(scheme.count).lowercased() == scheme
        else { return nil }
        let rest = baseURL.dropFirst(scheme.count)
        guard !rest.contains(where: { $0 == "?" || $0 == "#" || $0 == "@" || $0 == " " }) else { return nil }
        let authority = rest.prefix { $0 != "/" }
        var path = String(rest.dropFirst(authority.count))
        while path.hasSuffix("/") { path.removeLast() }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
        } else {
            let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { return nil }
            host = parts[0]
            if parts.count == 2 { portText = parts[1] }
        }
        guard !host.isEmpty else { return nil }
        var port = 80
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCII), let parsed = Int(portText),
                  (1...65_535).contains(parsed)
            else { return nil }
            port = parsed
        }
        origin = HTTP1Origin(host: host.lowercased(), port: port)
        basePath = path
    }
}

/// Header lines built once per provider and kind of request (`Host`, content type, the
/// provider's `Authorization`, `Accept`, configured extras), already in wire form, so a request
/// costs one buffer append. Immutable; shared by the transfers that use it.
public struct HTTP1HeaderBlock: Sendable {
    let bytes: [UInt8]

    /// `lines` are "Name: value" without CRLF. `Host` comes first; no `Accept-Encoding` is sent,
    /// so answers arrive unencoded and nothing needs decoding.
    public init(origin: HTTP1Origin, lines: [String]) {
        var bytes = Array("Host: \(origin.hostHeader)\r\n".utf8)
        for line in lines {
            bytes.append(contentsOf: line.utf8)
            bytes.append(contentsOf: "\r\n".utf8)
        }
        self.bytes = bytes
    }
}

/// One request for the native client, serialised once into the bytes that go on the wire.
public struct HTTP1Request: Sendable {
    public let origin: HTTP1Origin
    /// Request line, headers and body.
    public let bytes: [UInt8]
    /// When true and the answer is 2xx, the body is delivered chunk by chunk (`next()`);
    /// otherwise it is collected whole (`body()`).
    public let streaming: Bool
    public let timeouts: UpstreamTimeouts

    /// The request target is `pathPrefix + path` (origin-form: the base URL's path, then the
    /// endpoint's). `extraLines` are per-request "Name: value" lines (relayed client headers)
    /// after the prebuilt block. `replacingString` puts `"value"` in place of `body[range]` as
    /// the body is copied in (the deployment's model id over the client's token), so no
    /// rewritten body is built first; the caller has checked that `value` needs no JSON escaping
    /// (`ResolvedDeployment.modelIsPlainJSONString`).
    public init(origin: HTTP1Origin, method: String = "POST", pathPrefix: String = "", path: String,
                headers: HTTP1HeaderBlock, extraLines: [String] = [], body: [UInt8],
                replacingString: (range: Range<Int>, value: String)? = nil, streaming: Bool, timeouts: UpstreamTimeouts) {
        let value = replacingString?.value ?? ""
        let splice = replacingString?.range
        let bodyCount = splice.map { body.count - $0.count + value.utf8.count + 2 } ?? body.count
        var size = method.utf8.count + 1 + pathPrefix.utf8.count + path.utf8.count + 11 + headers.bytes.count
        for line in extraLines { size += line.utf8.count + 2 }
        size += 16 + 20 + 2 + 2 + bodyCount
        let out = [UInt8](capacity: size) { out in
            out.write(method)
            out.write(UInt8(ascii: " "))
            out.write(pathPrefix)
            out.write(path)
            out.write(" HTTP/1.1\r\n")
            out.write(headers.bytes)
            for line in extraLines {
                out.write(line)
                out.write("\r\n")
            }
            if bodyCount > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
                out.write("Content-Length: ")
                out.writeDecimal(bodyCount)
                out.write("\r\n")
            }
            out.write("\r\n")
            if let splice {
                out.write(body[..<splice.lowerBound])
                out.write(UInt8(ascii: "\""))
                out.write(value)
                out.write(UInt8(ascii: "\""))
                out.write(body[splice.upperBound...])
            } else {
                out.write(body)
            }
        }
        self.origin = origin
        self.bytes = out
        self.streaming = streaming
        self.timeouts = timeouts
    }
}
