import Glibc
import Reactor
import Synchronization
import TestSupport
import Testing

@Suite struct ReactorTests {
    @Test func tasksRunOnTheReactorThread() async throws {
        let onThread = try await onWorker { reactor in
            var all = reactor.inReactorThread
            try await reactor.sleep(nanoseconds: 1_000_000)
            all = all && reactor.inReactorThread
            async let a = { reactor.inReactorThread }()
            let inner = await a
            return all && inner
        }
        #expect(onThread)
    }

    @Test func timersFireInDeadlineOrderAndDisarmWorks() async throws {
        let order = try await onWorker { reactor -> [Int] in
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<[Int], any Error>) in
                var fired: [Int] = []
                let cancelled = reactor.schedule(after: 1_000_000) { fired.append(99) }
                reactor.schedule(after: 3_000_000) { fired.append(3); c.resume(returning: fired) }
                reactor.schedule(after: 2_000_000) { fired.append(2) }
                let moved = ReactorTimer { fired.append(1) }
                reactor.arm(moved, after: 50_000_000)
                reactor.arm(moved, after: 500_000)  // moves earlier
                reactor.disarm(cancelled)
            }
        }
        #expect(order == [1, 2, 3])
    }

    @Test func theTurnTimeIsWhenTheTurnsEventsArrivedAndNeverAhead() async throws {
        let (first, clockThen, second, clockAfter) = try await onWorker { reactor in
            let first = reactor.turnTime
            let clockThen = monotonicNanos()
            try await reactor.sleep(nanoseconds: 2_000_000)  // a later turn: the timer's
            return (first, clockThen, reactor.turnTime, monotonicNanos())
        }
        #expect(first <= clockThen)
        #expect(second >= first + 2_000_000, "the turn after the sleep began after it")
        #expect(second <= clockAfter)
    }

    @Test func sleepIsCancellable() async throws {
        let cancelled = try await onWorker { reactor -> Bool in
            let sleeper = Task(executorPreference: reactor) {
                do { try await reactor.sleep(nanoseconds: 60_000_000_000); return false } catch { return true }
            }
            try await reactor.sleep(nanoseconds: 1_000_000)
            sleeper.cancel()
            let result = await sleeper.value
            return result && reactor.armedTimerCount == 0
        }
        #expect(cancelled)
    }

    @Test func executeFromAnotherThreadWakesTheLoop() async throws {
        let group = try ReactorGroup(count: 2, namePrefix: "x")
        group.start()
        defer { group.stopAndJoin() }
        let done = Semaphore()
        let seen = Mutex(false)
        group.reactors[1].execute {
            group.reactors[0].execute {
                seen.withLock { $0 = group.reactors[0].inReactorThread }
                done.signal()
            }
        }
        done.wait()
        #expect(seen.withLock { $0 })
    }

    @Test func listenerAcceptsOnAnEphemeralPort() async throws {
        let accepted = try await onWorker { reactor -> Bool in
            let fd = try Listener.bind(host: "127.0.0.1", port: 0)
            return try await withCheckedThrowingContinuation { (c: CheckedContinuation<Bool, any Error>) in
                do {
                    var listener: Listener?
                    listener = try Listener(fd: fd, reactor: reactor) { client in
                        FileDescriptor.close(client)
                        listener?.close()
                        listener = nil
                        c.resume(returning: true)
                    }
                    let port = listener!.port
                    // A blocking connect from another thread: the loop must stay free to accept.
                    _ = spawnThread(name: "client") {
                        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                        var addr = sockaddr_in()
                        addr.sin_family = sa_family_t(AF_INET)
                        addr.sin_port = in_port_t(UInt16(port).bigEndian)
                        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
                        _ = withUnsafePointer(to: &addr) {
                            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                        }
                        close(s)
                    }
                } catch { c.resume(throwing: error) }
            }
        }
        #expect(accepted)
    }
}
