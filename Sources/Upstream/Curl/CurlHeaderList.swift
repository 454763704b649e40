import CCurl

/// A curl header list built once (per provider and kind of request) and shared by the
/// transfers that use it; freed when the last of them and its adapter are gone.
public final class CurlHeaderList: @unchecked Sendable {
    let list: UnsafeMutablePointer<curl_slist>?

    /// `lines` are "Name: value". An `Expect:` line is always added: no 100-continue round trip.
    public init(_ lines: [String]) {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for line in lines { list = curl_slist_append(list, line) }
        self.list = curl_slist_append(list, "Expect:")
    }

    deinit { curl_slist_free_all(list) }
}
