import Glibc
import Reactor

/// Name lookups for the native client. Literal addresses resolve at once; names are looked up
/// with `getaddrinfo` on a short-lived thread of their own (it blocks, and a worker's reactor
/// must not), one lookup per name at a time, and cached for `cacheTime` — what curl does with
/// its threaded resolver and DNS cache. Reactor-thread confined; results come back through
/// `Reactor.execute`.
final class HostResolver: @unchecked Sendable {
    private struct Entry {
        var addresses: [SocketAddress]
        var expires: UInt64
    }

    typealias Completion = (Result<[SocketAddress], SystemError>) -> Void

    let reactor: Reactor
    let cacheTime: UInt64
    private var cache: [HTTP1Origin: Entry] = [:]
    private var inFlight: [HTTP1Origin: [Completion]] = [:]

    init(reactor: Reactor, cacheTime: UInt64 = 300_000_000_000) {
        self.reactor = reactor
        self.cacheTime = cacheTime
    }

    /// Addresses known now (a literal, or a name looked up less than `cacheTime` ago).
    func cached(_ origin: HTTP1Origin) -> [SocketAddress]? {
        if let entry = cache[origin] {
            if entry.expires > monotonicNanos() { return entry.addresses }
            cache[origin] = nil
        }
        if let literal = SocketAddress(numericHost: origin.host, port: origin.port) {
            cache[origin] = Entry(addresses: [literal], expires: .max)
            return [literal]
        }
        return nil
    }

    /// Drops a cached name (its addresses stopped answering; the next connect looks it up again).
    func forget(_ origin: HTTP1Origin) {
        if let entry = cache[origin], entry.expires != .max { cache[origin] = nil }
    }

    /// Looks `origin` up off the reactor; `completion` runs later on the reactor thread.
    func lookup(_ origin: HTTP1Origin, _ completion: @escaping Completion) {
        if inFlight[origin] != nil {
            inFlight[origin]!.append(completion)
            return
        }
        inFlight[origin] = [completion]
        let reactor = self.reactor
        let thread = spawnThread(name: "sy-resolve") { [self] in
            let result: Result<[SocketAddress], SystemError>
            do throws(SystemError) {
                let addresses = try SocketAddress.resolve(host: origin.host, port: origin.port)
                result = addresses.isEmpty ? .failure(SystemError("getaddrinfo(\(origin.host)): no address", errno: 0)) : .success(addresses)
            } catch {
                result = .failure(error)
            }
            reactor.execute { self.deliver(origin, result) }
        }
        pthread_detach(thread)
    }

    private func deliver(_ origin: HTTP1Origin, _ result: Result<[SocketAddress], SystemError>) {
        if case .success(let addresses) = result {
            cache[origin] = Entry(addresses: addresses, expires: monotonicNanos() &+ cacheTime)
        }
        let waiting = inFlight.removeValue(forKey: origin) ?? []
        for completion in waiting { completion(result) }
    }
}
