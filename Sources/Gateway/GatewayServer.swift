import GatewayCore
import HTTPServer
import HTTPTypes
import Logging
import Middleware
import Reactor
import State
import Upstream

/// The running gateway: `server.workers` reactor threads, each with its own `SO_REUSEPORT`
/// listener, upstream clients (curl multi, native HTTP/1.1 pool), HTTP server and pipeline snapshot. Built by `main.swift` (or a test)
/// and handed everything it needs; there is no process-wide state.
///
/// `start`, `reload` and `shutdown` are called from one control thread (main), never from a worker.
public final class GatewayServer: @unchecked Sendable {
    struct Worker {
        let reactor: Reactor
        let multi: CurlMulti
        let http1: HTTP1ConnectionPool
        let server: HTTPServerWorker
        let edge: GatewayEdge
    }

    public private(set) var config: GatewayConfig
    /// The process's state store (shared by the workers), from `state:`.
    public var store: any StateStore { shared.store }
    /// What the workers share: the store, the run-time key cache, the in-flight gauge.
    public let shared: GatewayShared
    private var keySubscription: SubscriptionBox?
    public let logger: Logger
    public let sink: LogSink
    private let group: ReactorGroup
    private var workers: [Worker] = []
    public private(set) var port = 0

    public init(config: GatewayConfig, sink: LogSink) throws(SystemError) {
        self.config = config
        self.sink = sink
        let level = Logger.Level(rawValue: config.log.level.rawValue) ?? .info
        self.logger = Logger(label: "switchyard") { label in JSONLogHandler(label: label, sink: sink, level: level) }
        self.group = try ReactorGroup(count: config.server.workers, namePrefix: "sy-worker")
        self.shared = GatewayShared(store: StoreReadiness.makeStore(config.state))
    }

    /// Binds the listeners and starts serving. Returns the bound port (useful with port 0).
    public func start() throws(SystemError) -> Int {
        let listen = config.server.listen
        var fds: [Int32] = []
        var port = listen.port
        for _ in 0..<group.reactors.count {
            // With port 0 the first bind picks the port and the others share it through SO_REUSEPORT.
            let fd = try Listener.bind(host: listen.host, port: port)
            if port == 0 { port = Listener.boundPort(fd) }
            fds.append(fd)
        }
        self.port = port
        group.start()
        let accessLog = AccessLog(logger: Logger(label: "access") { [sink] label in JSONLogHandler(label: label, sink: sink, level: .info) },
                                  enabled: config.log.accessLog)
        let config = self.config
        let shared = self.shared
        for (reactor, fd) in zip(group.reactors, fds) {
            let worker: Worker = onReactor(reactor) {
                let multi = CurlMulti(reactor: reactor, options: Self.curlOptions(config))
                let http1 = HTTP1ConnectionPool(reactor: reactor, options: Self.http1Options(config))
                let upstream = UpstreamClients(multi: multi, http1: http1, http1Client: config.upstream.http1Client)
                let snapshot = PipelineAssembly.snapshot(config, reactor: reactor, upstream: upstream, shared: shared)
                let edge = GatewayEdge(snapshot: snapshot, accessLog: accessLog, shared: shared)
                let server = HTTPServerWorker(reactor: reactor, configuration: Self.serverConfiguration(config), handler: edge)
                try? server.start(listeningFD: fd)
                return Worker(reactor: reactor, multi: multi, http1: http1, server: server, edge: edge)
            }
            workers.append(worker)
        }
        subscribeToKeyChanges()
        let unavailable = PipelineAssembly.unavailableStages(config)
        if !unavailable.isEmpty {
            logger.notice("pipeline stages configured but not in this build; they are skipped",
                          metadata: ["stages": .array(unavailable.map { .string($0) })])
        }
        logger.info("listening", metadata: [
            "address": .string(listen.host), "port": .stringConvertible(port), "workers": .stringConvertible(workers.count),
            "providers": .array(config.providers.map { .string($0.name) }),
            "models": .array(config.models.map { .string($0.name) }),
        ])
        return port
    }

    /// Every instance drops a run-time key from its cache the moment any instance creates or
    /// revokes it. The subscription lives on the first worker; a store that is down now is
    /// retried by the key cache's short lifetimes instead.
    private func subscribeToKeyChanges() {
        guard let reactor = group.reactors.first else { return }
        let shared = self.shared
        let box = SubscriptionBox()
        _ = onReactor(reactor) {
            Task(executorPreference: reactor) {
                box.subscription = try? await shared.store.subscribe(RuntimeKeys.changes) { message in
                    shared.keys.invalidate(String(decoding: message, as: UTF8.self))
                }
            }
        }
        keySubscription = box
    }

    /// Swaps in a new configuration without dropping connections. Settings that need a restart
    /// (listen address, workers) are kept and reported.
    public func reload(_ newConfig: GatewayConfig) {
        var effective = newConfig
        if newConfig.server.listen != config.server.listen || newConfig.server.workers != config.server.workers {
            logger.warning("listen address and worker count change only on restart; keeping the running ones")
            effective.server.listen = config.server.listen
            effective.server.workers = config.server.workers
        }
        if newConfig.state != config.state {
            logger.warning("the state backend changes only on restart; keeping the running one")
            effective.state = config.state
        }
        config = effective
        for worker in workers {
            onReactor(worker.reactor) {
                let upstream = UpstreamClients(multi: worker.multi, http1: worker.http1, http1Client: effective.upstream.http1Client)
                worker.edge.snapshot = PipelineAssembly.snapshot(effective, reactor: worker.reactor, upstream: upstream,
                                                                 shared: self.shared)
                worker.server.configuration = Self.serverConfiguration(effective)
            }
        }
        logger.info("configuration reloaded", metadata: ["models": .array(effective.models.map { .string($0.name) })])
    }

    /// Graceful stop: stop accepting, let requests and streams in flight finish for up to
    /// `drainTimeout`, then close what is left and join the workers.
    public func shutdown(drainTimeout: UInt64) {
        let drained = Semaphore()
        for worker in workers {
            worker.reactor.execute { worker.server.drain { drained.signal() } }
        }
        let deadline = monotonicNanos() &+ drainTimeout
        let done = DrainWaiter(count: workers.count, semaphore: drained, sink: sink)
        if !done.wait(until: deadline) {
            logger.warning("drain timeout passed; closing remaining connections")
            for worker in workers { onReactor(worker.reactor) { worker.server.closeAll() } }
        }
        flushPipelines(until: monotonicNanos() &+ 2_000_000_000)
        group.stopAndJoin()
        workers.removeAll()
        sink.flush()
    }

    /// Sends what the stages hold back (settlements waiting to share a round trip) and waits for
    /// the store's answers, at most until `deadline` (the store's own deadlines end it sooner).
    private func flushPipelines(until deadline: UInt64) {
        let flushed = Semaphore()
        for worker in workers {
            worker.reactor.execute {
                let pipeline = worker.edge.snapshot.pipeline
                Task(executorPreference: worker.reactor) {
                    await pipeline.flush()
                    flushed.signal()
                }
            }
        }
        if !DrainWaiter(count: workers.count, semaphore: flushed, sink: sink).wait(until: deadline) {
            logger.warning("the state store did not take every settlement before exit")
        }
    }

    /// Connections open across workers (for tests).
    public func connectionCount() -> Int {
        workers.reduce(0) { total, worker in total + onReactor(worker.reactor) { worker.server.connectionCount } }
    }

    static func serverConfiguration(_ config: GatewayConfig) -> HTTPServerConfiguration {
        var limits = HTTPParserLimits()
        limits.maxBodyBytes = Int(config.server.maxBody.bytes)
        limits.maxHeaderBytes = Int(config.server.maxHeaderBytes.bytes)
        let maxBody = limits.maxBodyBytes
        return HTTPServerConfiguration(
            limits: limits,
            headerTimeout: UInt64(config.server.headerTimeout.nanoseconds),
            bodyTimeout: UInt64(config.server.bodyTimeout.nanoseconds),
            idleTimeout: UInt64(config.server.idleTimeout.nanoseconds),
            errorResponse: { status, reason in
                let error = status == 413 ? GatewayError.bodyTooLarge(limit: maxBody) : GatewayError.badHTTP(status: status, reason: reason)
                let response = GatewayResponse(error: error)
                return ServerResponse(status: status, headers: response.headers, body: .bytes(error.jsonBody()))
            })
    }

    static func curlOptions(_ config: GatewayConfig) -> CurlMulti.Options {
        CurlMulti.Options(maxConnectionsPerHost: config.upstream.maxConnectionsPerHost,
                          maxCachedConnections: max(64, config.upstream.maxConnectionsPerHost * 4),
                          http2: config.upstream.http2)
    }

    static func http1Options(_ config: GatewayConfig) -> HTTP1ConnectionPool.Options {
        HTTP1ConnectionPool.Options(maxConnectionsPerHost: config.upstream.maxConnectionsPerHost)
    }
}

/// Runs `body` on `reactor`'s thread and waits for its result. Control thread only.
func onReactor<T>(_ reactor: Reactor, _ body: @escaping () -> T) -> T {
    let box = ResultBox<T>()
    let done = Semaphore()
    let work = UncheckedSendable { box.value = body(); done.signal() }
    reactor.execute { work.value() }
    done.wait()
    return box.value!
}

private final class ResultBox<T>: @unchecked Sendable { var value: T? }
/// Holds the key-change subscription, set later on the worker that made it.
private final class SubscriptionBox: @unchecked Sendable { var subscription: StoreSubscription? }
struct UncheckedSendable<T>: @unchecked Sendable { let value: T; init(_ value: T) { self.value = value } }

/// Waits for `count` signals or a deadline, flushing the log sink while it waits (the control
/// thread's usual flush loop is blocked here).
private struct DrainWaiter {
    let count: Int
    let semaphore: Semaphore
    let sink: LogSink

    func wait(until deadline: UInt64) -> Bool {
        var remaining = count
        while remaining > 0 {
            sink.flush()
            let now = monotonicNanos()
            guard now < deadline else { return false }
            if semaphore.wait(timeoutNanos: min(deadline - now, 200_000_000)) { remaining -= 1 }
        }
        return true
    }
}
