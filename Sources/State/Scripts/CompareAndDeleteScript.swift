import GatewayCore

extension CoreScripts {
    /// Deletes KEYS[1] only while it still holds ARGV[1] — releasing a lock taken with
    /// `setIfAbsent` without deleting one that expired and was taken by someone else since.
    /// Reply: 1 when deleted, 0 otherwise. WRONGTYPE when the key is a hash.
    public static let compareAndDelete = StoreScript(
        name: "compare_and_delete", lua: compareAndDeleteLua, native: compareAndDeleteNative)

    static let compareAndDeleteBadUse = StoreError.server("ERR compare_and_delete needs 1 key and 1 argument")

    static let compareAndDeleteLua = """
        if #KEYS ~= 1 or #ARGV ~= 1 then
          return redis.error_reply('\(errorText(compareAndDeleteBadUse))')
        end
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """

    @Sendable
    static func compareAndDeleteNative(
        _ storage: any ScriptStorage, _ keys: [String], _ arguments: [StoreValue]
    ) throws(StoreError) -> StoreValue {
        guard keys.count == 1, arguments.count == 1, let expected = DecimalBytes.of(arguments[0])
        else { throw compareAndDeleteBadUse }
        guard storage.get(keys[0]) == expected else { return .integer(0) }
        return .integer(storage.delete(keys[0]) ? 1 : 0)
    }
}
