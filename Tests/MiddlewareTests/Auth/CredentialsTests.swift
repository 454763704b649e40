import HTTPTypes
@testable import Middleware
import Testing

@Suite struct CredentialsTests {
    @Test(arguments: [
        ("Bearer sk-1", "sk-1"), ("bearer sk-1", "sk-1"), ("BEARER  sk-1 ", "sk-1"), ("  Bearer sk-1", "sk-1"),
        ("Bearer", nil), ("Bearer ", nil), ("Basic c2s=", nil), ("Bearersk-1", nil),
    ] as [(String, String?)])
    func bearerTokens(_ header: String, _ expected: String?) {
        #expect(Credentials.key(in: [.authorization: header]).map(String.init) == expected)
    }

    /// `withKey` (the auth check's way: the key's bytes where they are) finds what `key(in:)` finds.
    @Test(arguments: [
        [.authorization: "Bearer sk-1"], [.authorization: "  BEARER  sk-1 "], [.authorization: "Basic c2s="],
        [HTTPField.Name("x-api-key")!: " sk-2 "], [.authorization: "Basic x", HTTPField.Name("x-api-key")!: "sk-2"],
        [.authorization: "Bearer sk-1", HTTPField.Name("x-api-key")!: "sk-2"], [.authorization: "Bearer "], [:],
    ] as [HTTPFields])
    func theKeysBytesAreTheKey(_ fields: HTTPFields) {
        let bytes = Credentials.withKey(in: fields) { String(decoding: $0, as: UTF8.self) }
        #expect(bytes == Credentials.key(in: fields).map(String.init))
    }

    @Test func xAPIKeyIsTheFallback() {
        let name = HTTPField.Name("x-api-key")!
        #expect(Credentials.key(in: [name: " sk-2 "]) == "sk-2")
        #expect(Credentials.key(in: [.authorization: "Basic x", name: "sk-2"]) == "sk-2")
        #expect(Credentials.key(in: [.authorization: "Bearer sk-1", name: "sk-2"]) == "sk-1")
        #expect(Credentials.key(in: [:]) == nil)
    }

    /// A field sent twice reads as its values joined (what HTTPFields' getter gives), so neither
    /// key is taken on its own.
    @Test func aRepeatedFieldIsNeverOneOfItsKeys() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: .authorization, value: "Bearer sk-1"))
        fields.append(HTTPField(name: .authorization, value: "Bearer sk-2"))
        #expect(Credentials.key(in: fields) == "sk-1, Bearer sk-2")
    }

    /// Names are matched whatever their case on the wire, among other fields, some of the
    /// same length (`cache-control` and `authorization` both have 13 bytes).
    @Test func fieldsAreFoundAmongOthersWhateverTheirCase() {
        var fields = HTTPFields()
        for (name, value) in [("Host", "127.0.0.1:8080"), ("Cache-Control", "no-cache"), ("X-Api-Kex", "sk-0"),
                              ("Content-Type", "application/json"), ("AUTHORIZATION", "Bearer sk-3"), ("Content-Length", "2")] {
            fields.append(HTTPField(name: HTTPField.Name(name)!, value: value))
        }
        #expect(Credentials.key(in: fields) == "sk-3")
        fields.removeAll { $0.name == .authorization }
        #expect(Credentials.key(in: fields) == nil)
        fields.append(HTTPField(name: HTTPField.Name("X-API-Key")!, value: "sk-4"))
        #expect(Credentials.key(in: fields) == "sk-4")
    }
}
