import HTTPTypes

extension HTTPFields {
    /// The values of the fields named `name` (lowercase, as canonical names are), joined with
    /// ", " when repeated — what HTTPFields' by-name getter gives for any field but `Cookie` —
    /// or nil when none is. The getter compares each field's name with `==`, which for two
    /// different names goes to the standard library's slow comparison, and joins through
    /// unspecialised generic code: a cost every request paid for headers it mostly lacks
    /// (`x-request-id`, `openai-beta`, the API key's). Here fields are read in place by index
    /// and a name is compared only when its length matches.
    public func joinedValue(lowercasedName name: String) -> String? {
        let length = name.utf8.count
        var joined: String?
        for i in indices {
            let canonical = self[i].name.canonicalName
            guard canonical.utf8.count == length, canonical == name else { continue }
            let value = self[i].value
            joined = joined.map { $0 + ", " + value } ?? value
        }
        return joined
    }

    /// Whether any field is named one of `names`, compared as `joinedValue` compares (length
    /// first, then the canonical names).
    public func containsAny(of names: [HTTPField.Name]) -> Bool {
        for i in indices {
            let canonical = self[i].name.canonicalName
            let length = canonical.utf8.count
            for name in names where name.canonicalName.utf8.count == length && name.canonicalName == canonical { return true }
        }
        return false
    }
}
