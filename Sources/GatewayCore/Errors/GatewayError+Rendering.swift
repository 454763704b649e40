import HTTPTypes

/// The one place errors become OpenAI-shaped JSON:
/// `{"error":{"message":"…","type":"…","param":null,"code":"…"}}` plus
/// `x-switchyard-error-source` so callers can tell our limits from their provider's.
extension GatewayError {
    /// The JSON error envelope (the provider's own body when it is relayed as it came).
    public func jsonBody() -> [UInt8] {
        if let providerBody { return providerBody }
        var out: [UInt8] = []
        out.reserveCapacity(160 + message.utf8.count)
        out.append(contentsOf: #"{"error":{"message":"#.utf8)
        JSONWriter.appendString(message, to: &out)
        out.append(contentsOf: #","type":"#.utf8)
        JSONWriter.appendString(type, to: &out)
        out.append(contentsOf: #","param":"#.utf8)
        if let param { JSONWriter.appendString(param, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","code":"#.utf8)
        if let code { JSONWriter.appendString(code, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: "}}".utf8)
        return out
    }

    /// The SSE event that ends a failed stream: `data: {"error": …}\n\n`.
    public func sseEvent() -> [UInt8] {
        var out = Array("data: ".utf8)
        out.append(contentsOf: jsonBody())
        out.append(contentsOf: "\n\n".utf8)
        return out
    }

    public var responseHeaders: HTTPFields {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.xSwitchyardErrorSource] = source.rawValue
        for (name, value) in headers {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        return fields
    }
}

extension GatewayResponse {
    /// The response for an error, rendered in the one OpenAI shape.
    public init(error: GatewayError) {
        self.init(status: error.status, headers: error.responseHeaders, body: .bytes(error.jsonBody()))
    }
}
