@testable import Gateway
import Testing

@Suite struct MallocTuningTests {
    @Test func theCacheCountIsAddedUnlessTheOperatorSetOne() {
        #expect(MallocTuning.tunables(current: nil) == "glibc.malloc.tcache_count=64")
        #expect(MallocTuning.tunables(current: "") == "glibc.malloc.tcache_count=64")
        #expect(MallocTuning.tunables(current: "glibc.malloc.arena_max=2") == "glibc.malloc.arena_max=2:glibc.malloc.tcache_count=64")
        // Already set, by the operator or by the first run: kept, so the process never loops.
        #expect(MallocTuning.tunables(current: "glibc.malloc.tcache_count=7") == nil)
        #expect(MallocTuning.tunables(current: "glibc.malloc.arena_max=2:glibc.malloc.tcache_count=64") == nil)
        // A longer tunable that merely starts the same is not the count.
        #expect(MallocTuning.tunables(current: "glibc.malloc.tcache_count_x=1") == "glibc.malloc.tcache_count_x=1:glibc.malloc.tcache_count=64")
    }
}
