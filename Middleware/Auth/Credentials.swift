import GatewayCore
import HTTPTypes

/// The API key a request carries: `Authorization: Bearer <key>` (what the OpenAI SDKs send)
/// or `x-api-key: <key>` (Anthropic-style clients). nil when neither is present.
public enum Credentials {
    static let apiKeyHeader = HTTPField.Name("x-api-key")!

    public static func key(in headers: HTTPFields) -> String? {
        if let authorization = headers[.authorization] {
            let value = authorization.drop { $0 == " " }
            if value.count > 7, value.prefix(7).lowercased() == "bearer " {
                let key = value.dropFirst(7).trimmingSpaces
                if !key.isEmpty { return String(key) }
            }
        }
        if let key = headers[apiKeyHeader]?.trimmingSpaces, !key.isEmpty { return String(key) }
        return nil
    }
}

extension StringProtocol {
    var trimmingSpaces: SubSequence {
        var s = self[...]
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
