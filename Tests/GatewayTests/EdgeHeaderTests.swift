import GatewayCore
import HTTPTypes
import Testing

@testable import Gateway

/// The headers the edge stamps on every proxied answer, written as bytes without HTTPFields.
@Suite struct EdgeHeaderTests {
    @Test func millisecondsHaveMicrosecondResolution() {
        #expect(GatewayEdge.milliseconds(0) == "0.000")
        #expect(GatewayEdge.milliseconds(42_000) == "0.042")
        #expect(GatewayEdge.milliseconds(42_999) == "0.042")
        #expect(GatewayEdge.milliseconds(12_000_000) == "12.000")
        #expect(GatewayEdge.milliseconds(1_234_567_890) == "1234.567")
        #expect(GatewayEdge.milliseconds(UInt64.max) == "18446744073709.551")
    }

    @Test func thePathIsTheTargetWithoutItsQuery() {
        #expect(GatewayEdge.pathOfTarget("/v1/chat/completions") == "/v1/chat/completions")
        #expect(GatewayEdge.pathOfTarget("/admin/keys?limit=5&x=?") == "/admin/keys")
        #expect(GatewayEdge.pathOfTarget("/caf\u{E9}?q") == "/caf\u{E9}")
        #expect(GatewayEdge.pathOfTarget("?") == "")
    }

    @Test func requestIDsAreShortDistinctAndCountInBase64URL() {
        let generator = RequestIDGenerator()
        var ids: [String] = []
        for _ in 0..<70 { ids.append(generator.next()) }
        #expect(ids.allSatisfy { $0.utf8.count == 15 && $0.hasPrefix("req_") }, "15 bytes: kept inline, never allocated")
        #expect(Set(ids).count == ids.count)
        let prefix = ids[0].dropLast(6)
        #expect(ids.allSatisfy { $0.hasPrefix(prefix) }, "one worker's random part")
        #expect(ids[0].hasSuffix("AAAAAB") && ids[25].hasSuffix("AAAAAa") && ids[63].hasSuffix("AAAABA"))
        #expect(ids.allSatisfy(RequestIDGenerator.isAcceptable))
    }

    @Test func stampedLinesMatchWhatTheFieldsWouldSay() {
        let context = RequestContext(requestID: "req_1", receivedAt: 0)
        context.deployment = ResolvedDeployment(providerName: "up", model: "mock-gpt", index: 0)
        var response = GatewayResponse(status: 200, headers: [.contentType: "application/json"], body: .bytes([]))
        response.headerLines.write(maxCount: 64) { $0.write("X-RateLimit-Remaining: 9\r\n") }
        #expect(response.headerLines.bytes.capacity >= response.headerLines.bytes.count + HeaderLines.edgeRoom)
        let rendered = response.headerLines.bytes.withUnsafeBufferPointer { $0.baseAddress }
        let lines = GatewayEdge.serializedStamp(&response, context: context, overhead: 65_000)
        // The stamp went into the room the stage's lines left: no new buffer, no copy of them.
        #expect(lines.withUnsafeBufferPointer { $0.baseAddress } == rendered)
        #expect(String(decoding: lines, as: UTF8.self) == """
            X-RateLimit-Remaining: 9\r
            x-request-id: req_1\r
            x-switchyard-provider: up\r
            x-switchyard-model: mock-gpt\r
            x-switchyard-overhead-ms: 0.065\r

            """)
        #expect(response.headerLines.bytes.isEmpty)  // moved into the stamp
    }

    @Test func headerLinesReadBackAsFields() {
        var lines = HeaderLines()
        lines.write(maxCount: 64) { $0.write("X-RateLimit-Limit: 100\r\n") }
        lines.write(maxCount: 64) { out in
            out.write("RateLimit: \"rpm\";r=")
            out.writeDecimal(99)
            out.write("\r\n")
        }
        #expect(lines["x-ratelimit-limit"] == "100")
        #expect(lines["ratelimit"] == "\"rpm\";r=99")
        #expect(lines.fields[HTTPField.Name("X-RateLimit-Limit")!] == "100")
        #expect(lines.pairs.count == 2)
    }

    @Test func stampedLinesStepAsideForFieldsThatNeedTheSlowPath() {
        let context = RequestContext(requestID: "req_1", receivedAt: 0)
        // The pipeline's answer already names one of the stamped headers: it is replaced in the fields.
        #expect(Self.stamp(Self.answer([.xRequestID: "cached"]), context).isEmpty)
        // A value HTTPTypes would legalise (here, trailing whitespace) goes through the fields too.
        context.deployment = ResolvedDeployment(providerName: "up ", model: "m", index: 0)
        #expect(Self.stamp(Self.answer([:]), context).isEmpty)
        context.deployment = ResolvedDeployment(providerName: "up", model: "m", index: 0)
        #expect(!Self.stamp(Self.answer([:]), context).isEmpty)
    }

    static func answer(_ headers: HTTPFields) -> GatewayResponse {
        GatewayResponse(status: 200, headers: headers, body: .bytes([]))
    }

    static func stamp(_ response: GatewayResponse, _ context: RequestContext) -> [UInt8] {
        var response = response
        return GatewayEdge.serializedStamp(&response, context: context, overhead: 0)
    }
}
