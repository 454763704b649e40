import CLinux
import Glibc

/// Starts threads that each run one reactor. `main.swift` owns the group; nothing here is global.
public final class ReactorGroup: @unchecked Sendable {
    public let reactors: [Reactor]
    private var threads: [pthread_t] = []

    public init(count: Int, namePrefix: String) throws(SystemError) {
        var reactors: [Reactor] = []
        for i in 0..<max(1, count) { reactors.append(try Reactor(name: "\(namePrefix)-\(i)")) }
        self.reactors = reactors
    }

    /// Spawns one thread per reactor and runs its loop. Returns once every reactor's thread
    /// identity is known (so `inReactorThread` answers correctly from then on).
    public func start() {
        for reactor in reactors {
            let ready = Semaphore()
            threads.append(spawnThread(name: reactor.name) {
                reactor.execute { ready.signal() }
                reactor.run()
            })
            ready.wait()
        }
    }

    /// Stops every reactor and joins its thread.
    public func stopAndJoin() {
        for reactor in reactors { reactor.stop() }
        for thread in threads { pthread_join(thread, nil) }
        threads.removeAll()
    }
}

/// A counting semaphore for start-up handshakes (never used on the request path).
public final class Semaphore: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var value = 0

    public init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    deinit {
        pthread_cond_destroy(&cond)
        pthread_mutex_destroy(&mutex)
    }

    public func signal() {
        pthread_mutex_lock(&mutex)
        value += 1
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    public func wait() {
        pthread_mutex_lock(&mutex)
        while value == 0 { pthread_cond_wait(&cond, &mutex) }
        value -= 1
        pthread_mutex_unlock(&mutex)
    }

    /// Waits at most `timeoutNanos`; returns false on timeout.
    public func wait(timeoutNanos: UInt64) -> Bool {
        let deadline = wallClockNanos() &+ timeoutNanos
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while value == 0 {
            if pthread_cond_timedwait(&cond, &mutex, &ts) == ETIMEDOUT { return false }
        }
        value -= 1
        return true
    }
}

private final class ThreadBody {
    let name: String
    let body: () -> Void
    init(name: String, body: @escaping () -> Void) {
        self.name = name
        self.body = body
    }
}

/// Spawns a joinable pthread running `body`.
public func spawnThread(name: String, _ body: @escaping () -> Void) -> pthread_t {
    let box = Unmanaged.passRetained(ThreadBody(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
        _ = sy_set_thread_name(String(box.name.prefix(15)))
        box.body()
        return nil
    }, box)
    precondition(rc == 0, "pthread_create failed: \(rc)")
    return thread
}
