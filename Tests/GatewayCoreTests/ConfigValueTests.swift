import GatewayCore
import Testing

@Suite("Config values: TimeSpan, ByteSize, Secret")
struct ConfigValueTests {
    @Test(arguments: [
        ("250ms", Int64(250_000_000)), ("30s", 30_000_000_000), ("5m", 300_000_000_000),
        ("1h", 3_600_000_000_000), ("1.5s", 1_500_000_000), ("1h30m", 5_400_000_000_000), ("100us", 100_000),
        ("7ns", 7), ("0.25s", 250_000_000), (".5s", 500_000_000), ("2d", 172_800_000_000_000),
        (" 10s ", 10_000_000_000),
    ])
    func timeSpanParses(text: String, nanoseconds: Int64) {
        #expect(TimeSpan(parsing: text)?.nanoseconds == nanoseconds)
    }

    @Test(arguments: ["", "30", "s", "1.5", "10 s", "-1s", "1x", "1.s", "1..5s", "1.0000000001ns", "99999999999h"])
    func timeSpanRejects(text: String) {
        #expect(TimeSpan(parsing: text) == nil)
    }

    @Test func timeSpanRendersShortestExactUnitAndRoundTrips() {
        #expect(TimeSpan.seconds(30).description == "30s")
        #expect(TimeSpan.milliseconds(1500).description == "1500ms")
        #expect(TimeSpan.seconds(90).description == "90s")
        #expect(TimeSpan.minutes(5).description == "5m")
        #expect(TimeSpan.hours(1).description == "1h")
        #expect(TimeSpan.zero.description == "0s")
        #expect(TimeSpan(nanoseconds: 1_001).description == "1001ns")
        for span in [TimeSpan.milliseconds(250), .seconds(61), .hours(49), .nanoseconds(3)] {
            #expect(TimeSpan(parsing: span.description) == span)
        }
        #expect(TimeSpan.milliseconds(1500).seconds == 1.5)
        #expect(TimeSpan.milliseconds(1500).duration == .milliseconds(1500))
    }

    @Test(arguments: [
        ("4MiB", Int64(4_194_304)), ("512KiB", 524_288), ("1MB", 1_000_000), ("1024", 1024), ("32kib", 32_768),
        ("2 GiB", 2_147_483_648), ("1.5KiB", 1536), ("10B", 10), ("1kb", 1000),
    ])
    func byteSizeParses(text: String, bytes: Int64) {
        #expect(ByteSize(parsing: text)?.bytes == bytes)
    }

    @Test(arguments: ["", "MiB", "4M", "4 MiBs", "-1", "1.3B", "0x10"])
    func byteSizeRejects(text: String) {
        #expect(ByteSize(parsing: text) == nil)
    }

    @Test func byteSizeRendersAndRoundTrips() {
        #expect(ByteSize.mebibytes(4).description == "4MiB")
        #expect(ByteSize.kibibytes(32).description == "32KiB")
        #expect(ByteSize(bytes: 1_000_000).description == "1MB")
        #expect(ByteSize(bytes: 1000).description == "1KB")
        #expect(ByteSize(bytes: 1001).description == "1001")
        for size in [ByteSize(bytes: 1536), .mebibytes(3), ByteSize(bytes: 7)] {
            #expect(ByteSize(parsing: size.description) == size)
        }
    }

    @Test func secretMasksEverywhere() {
        let raw = "sk-proj-1234567890abcdWXYZ"
        let secret = Secret(raw)
        #expect(secret.masked == "sk-…WXYZ")
        #expect(secret.description == "sk-…WXYZ")
        #expect("\(secret)" == "sk-…WXYZ")
        #expect(!secret.debugDescription.contains("1234"))
        #expect(!String(reflecting: secret).contains("1234567890"))
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("1234567890"))
        #expect(secret.value == raw)
    }

    @Test func secretMaskShowsAtMostTheLastFourOfLongSecrets() {
        #expect(Secret("abcdefghijkl").masked == "…ijkl")  // 12 characters, no vendor prefix
        #expect(Secret("gsk_aaaaaaaaaaaaaaaaZZZZ").masked == "gsk_…ZZZZ")
        #expect(Secret("abcdefghijk").masked == "****")  // 11: too short to show anything
        #expect(Secret("").masked == "****")
        #expect(Secret("sk-1").masked == "****")
        #expect(Secret("longprefix-abcdefghijkl").masked == "…ijkl")  // a long "prefix" may be key material
    }

    @Test func keyDigestDecodesHex() {
        let key = KeyConfig(name: "k", keySHA256: String(repeating: "0f", count: 32), tier: "free")
        #expect(key.digest == [UInt8](repeating: 0x0f, count: 32))
    }

    @Test func logLevelsAreOrdered() {
        #expect(LogConfig.Level.trace < .info)
        #expect(LogConfig.Level.critical > .error)
    }

    @Test func defaultConfigServesTheMock() {
        let config = GatewayConfig()
        #expect(config.provider(named: "mock")?.type == .mock)
        #expect(config.model(named: "mock-gpt")?.deployments.first?.provider == "mock")
        #expect(config.pipeline.stages == PipelineConfig.knownStages)
        #expect(config.tier(named: "enterprise")?.unlimited == true)
    }
}
