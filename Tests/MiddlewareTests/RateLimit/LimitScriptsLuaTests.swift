import GatewayCore
@testable import Middleware
import Testing

/// The scripts make the helpers only their slow paths call at their first call, and call them
/// through the table that holds them; the Redis contract tests
/// (`StateStoreContract`) run those paths against a real server.
@Suite struct LimitScriptsLuaTests {
    static let minute: Int64 = 60_000_000

    @Test func lazyHelpersAreDefinedInsideLibAndListedByName() {
        let helpers = "local function a(x)\n  return x\nend\nlocal function b_c(y, z)\n  return a(y) + z\nend\n"
        let lazy = LimitScripts.luaLazily(helpers)
        #expect(lazy.hasPrefix("local L\nlocal function lib()\nif L then return L end\n" + helpers))
        #expect(lazy.hasSuffix("L = {a = a, b_c = b_c}\nreturn L\nend\n"))
    }

    @Test func theScriptsCallEveryLazyHelperThroughLib() {
        let plan = LimitPlan(limits: [
            .init(.requests, limit: 100, parameter: Self.minute, name: "rpm"),
            .init(.tokens, limit: 10_000, parameter: Self.minute, name: "tpm"),
            .init(.burst, limit: 10, parameter: 60, name: "burst"),
            .init(.concurrency, limit: 8, name: "concurrency"),
            .init(.dailyTokens, limit: 1_000_000, name: "tpd"),
        ])
        let shape = LimitScripts.Shape(plan: plan, leaseMicros: 600_000_000, retentionMicros: 90 * 86_400_000_000)
        for lua in [LimitScripts.admitLua(shape), LimitScripts.settleLua(shape)] {
            let lib = lua.ranges(of: "local function lib()").first
            #expect(lib != nil)
            let body = lua[lib!.upperBound...]
            let afterLib = body[body.ranges(of: "\nreturn L\nend\n").first!.upperBound...]
            // Outside `lib`, no helper is defined, and each is called as `L.name(`.
            for name in ["full_reset", "sliding_window", "bucket", "lapse", "civil", "days_from_civil", "periods", "usage_write", "quota"] {
                #expect(!afterLib.contains("local function \(name)("), "\(name) is defined outside lib")
                #expect(afterLib.ranges(of: "\(name)(").allSatisfy { range in
                    range.lowerBound > afterLib.startIndex && afterLib[afterLib.index(before: range.lowerBound)] != " "
                }, "\(name) is called other than through L")
            }
            #expect(afterLib.contains("L.usage_write("))
        }
        let admit = LimitScripts.admitLua(shape)
        #expect(admit.contains("L.sliding_window("))
        #expect(admit.contains("L.bucket("))
        #expect(admit.contains("L.quota("))
    }
}
