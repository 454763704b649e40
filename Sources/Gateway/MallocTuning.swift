#if canImport(Glibc)
import Glibc

/// glibc's per-thread cache keeps 7 free chunks of each size. A worker decides the requests of
/// a reactor turn together (their admissions share one store call), so 16 or 32 of them
/// allocate their snapshots, headers and buffers in one burst and free them in another: past
/// the seventh, each chunk takes malloc's slow path (bins, consolidation), about 1.7k
/// instructions per rate-limited request. The cache's depth is a tunable read only when a
/// process starts, so `serve` re-executes itself once with `glibc.malloc.tcache_count=64`
/// added to `GLIBC_TUNABLES` (same PID, same arguments and environment otherwise). A count the
/// operator set is kept as it is.
public enum MallocTuning {
    static let tunable = "glibc.malloc.tcache_count"
    static let count = 64

    /// The `GLIBC_TUNABLES` to run with; nil when `current` already sets the cache's count.
    static func tunables(current: String?) -> String? {
        let ours = "\(tunable)=\(count)"
        guard let current, !current.isEmpty else { return ours }
        if current.split(separator: ":").contains(where: { $0.hasPrefix(tunable + "=") }) { return nil }
        return current + ":" + ours
    }

    /// Re-executes the process with the tuned cache, unless it runs with it already. Returns
    /// only when it does, or when the exec failed (the gateway then runs untuned).
    public static func applyByReexecuting() {
        // Under valgrind, /proc/self/exe is valgrind's tool, not the gateway (and its malloc is
        // valgrind's): run as started.
        if let preload = getenv("LD_PRELOAD"), String(cString: preload).contains("vgpreload") { return }
        let previous = getenv("GLIBC_TUNABLES").map { String(cString: $0) }
        guard let value = tunables(current: previous) else { return }
        setenv("GLIBC_TUNABLES", value, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // The exec failed: leave the environment as it was found.
        if let previous { setenv("GLIBC_TUNABLES", previous, 1) } else { unsetenv("GLIBC_TUNABLES") }
    }
}
#else
public enum MallocTuning {
    public static func applyByReexecuting() {}
}
#endif
