import GatewayCore
import HTTPTypes
import Testing

@Suite struct HTTPFieldsLookupTests {
    /// What HTTPFields' own by-name getter answers, for names present once, twice, in any case,
    /// next to names of the same length, and absent.
    @Test func joinedValuesAreWhatTheByNameGetterGives() throws {
        var fields = HTTPFields()
        fields.append(HTTPField(name: try #require(HTTPField.Name("X-Request-ID")), value: "abc"))
        fields.append(HTTPField(name: try #require(HTTPField.Name("content-type")), value: "application/json"))  // 12 bytes too
        fields.append(HTTPField(name: try #require(HTTPField.Name("OpenAI-Beta")), value: "assistants=v2"))
        fields.append(HTTPField(name: try #require(HTTPField.Name("openai-beta")), value: "more"))
        for name in ["x-request-id", "content-type", "openai-beta", "authorization", "x-api-key"] {
            let expected = fields[try #require(HTTPField.Name(name))]
            #expect(fields.joinedValue(lowercasedName: name) == expected, "\(name)")
        }
        #expect(fields.joinedValue(lowercasedName: "openai-beta") == "assistants=v2, more")
        #expect(fields.joinedValue(lowercasedName: "x-api-key") == nil)
        #expect(HTTPFields().joinedValue(lowercasedName: "x-request-id") == nil)
    }

    @Test func containsAnyFindsOnlyTheNamesAsked() throws {
        let fields: HTTPFields = [.contentType: "application/json", .xRequestID: "a"]
        #expect(fields.containsAny(of: [.xSwitchyardModel, .xRequestID]))
        #expect(!fields.containsAny(of: [.xSwitchyardModel, .xSwitchyardOverheadMs]))
        #expect(!HTTPFields().containsAny(of: [.xRequestID]))
    }
}
