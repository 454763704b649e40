import GatewayCore

/// A worker's upstream clients — its libcurl multi and its native HTTP/1.1 pool, both on that
/// worker's reactor — and which of them serves plain `http://` providers. Made once per worker
/// (the clients) and per configuration snapshot (the choice); adapters built from it send on
/// that worker only.
public struct UpstreamClients: Sendable {
    public let multi: CurlMulti
    public let http1: HTTP1ConnectionPool
    public var http1Client: UpstreamConfig.HTTP1Client

    public init(multi: CurlMulti, http1: HTTP1ConnectionPool, http1Client: UpstreamConfig.HTTP1Client = .native) {
        self.multi = multi
        self.http1 = http1
        self.http1Client = http1Client
    }
}
